package accounts

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
)

// passwordSlots caps the argon2 computations running at once
// (LOGIN_CONCURRENCY): password checks, and the hashes of new passwords
// (reset, change, new accounts). One takes 19 MiB and tens of milliseconds
// of one CPU; without a cap a flood of logins queues them until memory runs
// out. A request that finds no slot within slotWait gets a quick 429 with
// Retry-After. Only the computation holds a slot: a slow directory or
// database does not starve local logins.
type passwordSlots struct {
	slots chan struct{}
	// wrap, when set (tests, OnPasswordWork), runs each computation.
	wrap atomic.Pointer[func(compute func())]
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

// hash hashes a new password (argon2) in a slot.
func (p *passwordSlots) hash(ctx context.Context, password string) (hash string, err error) {
	var herr error
	if err := p.do(ctx, func() { hash, herr = auth.HashPassword(password) }); err != nil {
		return "", err
	}
	return hash, herr
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
	defer func() { <-p.slots }()
	if wrap := p.wrap.Load(); wrap != nil {
		(*wrap)(fn)
		return nil
	}
	fn()
	return nil
}

// OnPasswordWork makes every argon2 computation run through wrap, in its
// slot: wrap must call compute once. Tests see with it how many run at
// once and what costs one.
func (s *Service) OnPasswordWork(wrap func(compute func())) { s.slots.wrap.Store(&wrap) }

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
