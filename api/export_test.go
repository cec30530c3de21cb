package api

import (
	"time"

	"github.com/remotegpu/remotegpu/internal/live"
)

// WSTestTuning are the socket limits tests set, for every server built afterwards.
type WSTestTuning struct {
	SendQueue    int
	WriteTimeout time.Duration
	PingEvery    time.Duration
	PongWait     time.Duration
	SessionCheck time.Duration
	SendBuffer   int
}

// SetWSTuning replaces the socket limits of servers built from now on.
func SetWSTuning(t WSTestTuning) {
	wsTuningOverride.Store(&live.Tuning{SendQueue: t.SendQueue, WriteTimeout: t.WriteTimeout, PingEvery: t.PingEvery, PongWait: t.PongWait,
		SessionCheck: t.SessionCheck, SendBuffer: t.SendBuffer})
}
