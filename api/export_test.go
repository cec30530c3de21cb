package api

import "time"

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
	wsTuningOverride.Store(&wsTuning{sendQueue: t.SendQueue, writeTimeout: t.WriteTimeout, pingEvery: t.PingEvery, pongWait: t.PongWait,
		sessionCheck: t.SessionCheck, sendBuffer: t.SendBuffer})
}
