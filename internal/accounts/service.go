// Package accounts holds the rules of accounts and customers: login,
// sessions and refresh tokens, password reset, LDAP provisioning, login
// throttling and the password slots, the caller's profile, customers
// (tenants with their owner), customer users and SSH keys. The api calls
// one method per request; the service owns its transactions, audit records
// and workflow signals, and runs without HTTP.
package accounts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Deps are what the service uses; Objects and Temporal may be nil (no
// avatars; no lease to tell about changed SSH keys).
type Deps struct {
	Store    *store.Store
	Temporal client.Client
	LDAP     *ldapauth.Client
	Mail     mail.Sender
	Objects  *objstore.Store
	Config   config.Config
	Now      func() time.Time
}

type Service struct {
	Deps
	issuer *auth.Issuer
	slots  *passwordSlots

	// resets are the reset requests that the workers Start runs mail after
	// the answer (see RequestReset).
	resets  chan resetJob
	done    chan struct{}
	workers sync.WaitGroup
	start   sync.Once
	stop    sync.Once
}

// resetJob is one reset request; ctx keeps the request's trace ID and the
// caller's address for the audit record.
type resetJob struct {
	ctx     context.Context
	account string
}

// resetWorkers mail the codes; resetQueue bounds the requests waiting for
// them: beyond it a request is refused (429), never queued without end.
const (
	resetWorkers = 4
	resetQueue   = 32
)

func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LDAP == nil {
		d.LDAP = ldapauth.New(ldapauth.Config{})
	}
	return &Service{Deps: d, issuer: auth.NewIssuer(d.Config.JWTSecret, d.Config.AccessTokenTTL),
		slots: newPasswordSlots(d.Config.Security.LoginConcurrency), resets: make(chan resetJob, resetQueue), done: make(chan struct{})}
}

// Start runs the workers that mail password reset codes.
func (s *Service) Start() {
	s.start.Do(func() {
		for range resetWorkers {
			s.workers.Add(1)
			go s.resetWorker()
		}
	})
}

// Close stops the workers once their current job is done; the requests
// still queued are dropped.
func (s *Service) Close() {
	s.stop.Do(func() { close(s.done) })
	s.workers.Wait()
}

func (s *Service) resetWorker() {
	defer s.workers.Done()
	for {
		select {
		case <-s.done:
			return
		case j := <-s.resets:
			s.sendResetCode(j.ctx, j.account)
		}
	}
}

// enqueueReset hands a request to the workers. When the queue is full or
// the service is closing it refuses (busy, the same for every account), so
// the caller is never told a code is on its way that no worker will send.
func (s *Service) enqueueReset(ctx context.Context, account string) error {
	select {
	case <-s.done:
		return errResetBusy()
	default:
	}
	select {
	case s.resets <- resetJob{ctx: context.WithoutCancel(ctx), account: account}:
		return nil
	default:
		slog.WarnContext(ctx, "password reset requests are piling up; one was refused")
		return errResetBusy()
	}
}

func errResetBusy() error {
	return apperr.New(apperr.TooManyRequests, "accounts.resetBusy", "too many password reset requests at once; try again in a moment",
		apperr.P{"retryAfter": 5})
}

func (s *Service) now() time.Time { return s.Now() }

// Issuer signs and checks the access tokens.
func (s *Service) Issuer() *auth.Issuer { return s.issuer }
