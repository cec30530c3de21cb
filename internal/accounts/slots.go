package accounts

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
)

// passwordSlots caps the argon2 password checks running at once
// (LOGIN_CONCURRENCY). A check takes 19 MiB and tens of milliseconds of one
// CPU; without a cap a flood of logins queues them until memory runs out. A
// request that finds no slot within slotWait gets a quick 429 with
// Retry-After. Only the hash comparison holds a slot: a slow directory or
// database does not starve local logins.
type passwordSlots struct {
	slots    chan struct{}
	inFlight atomic.Int64
	peak     atomic.Int64 // the most checks ever seen at once (tests)
}

const slotWait = 250 * time.Millisecond

func newPasswordSlots(n int) *passwordSlots {
	if n < 1 {
		n = config.DefaultLoginConcurrency()
	}
	return &passwordSlots{slots: make(chan struct{}, n)}
}

// ErrBusy: every slot stayed taken for slotWait.
var ErrBusy = apperr.New(apperr.TooManyRequests, "accounts.tooManySignIns", "too many sign-ins at once; try again in a moment",
	apperr.P{"retryAfter": 1})

// check compares password with an argon2 hash in a slot.
func (p *passwordSlots) check(ctx context.Context, password, hash string) (right bool, err error) {
	err = p.do(ctx, func() { right = auth.CheckPassword(password, hash) })
	return right, err
}

// do runs fn (one argon2 computation) in a slot; ErrBusy when no slot frees in time.
func (p *passwordSlots) do(ctx context.Context, fn func()) error {
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	n := p.inFlight.Add(1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	defer func() {
		p.inFlight.Add(-1)
		<-p.slots
	}()
	fn()
	return nil
}

// PasswordChecksPeak is the most password checks ever run at once (tests).
func (s *Service) PasswordChecksPeak() int64 { return s.slots.peak.Load() }

// HoldPasswordSlots takes n password slots, as n long checks would;
// release gives them back (tests).
func (s *Service) HoldPasswordSlots(n int) (release func()) {
	for range n {
		s.slots.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.slots.slots
		}
	}
}
