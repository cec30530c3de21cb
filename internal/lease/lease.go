// Package lease is the rules of leases and of the machines they lease:
// allocate, extend and reclaim a lease, the host steps around it (password
// reset, marking a host reinstalled), the machine records with their
// maintenance, and the Excel import of machines. It owns its transactions,
// audit records and workflow starts; the api calls one method per request.
package lease

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// Service holds what the lease rules need.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	Secrets  *secrets.Box
	Objects  *objstore.Store
	Config   config.Config
	Now      func() time.Time
}

// New returns the service; a nil now is time.Now.
func New(st *store.Store, tc client.Client, box *secrets.Box, objects *objstore.Store, cfg config.Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{Store: st, Temporal: tc, Secrets: box, Objects: objects, Config: cfg, Now: now}
}

// expiring is how long before its end a lease counts as expiring.
func (s *Service) expiring() time.Duration { return s.Config.Fleet.ExpiringNotice }

// ErrWorkflowDown: the workflow service did not take the change; nothing changed.
func errWorkflowDown() error {
	return apperr.UnavailableErr(apperr.CodeWorkflowDown, "the workflow service is unavailable; try again later")
}

// MachineNotFound names a missing machine (store.ErrNotFound); other errors pass.
func MachineNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundErr("machines.notFound", "machine not found")
	}
	return err
}

// AllocationNotFound names a missing allocation (store.ErrNotFound); other errors pass.
func AllocationNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundErr("lease.allocationNotFound", "allocation not found")
	}
	return err
}

func customerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundErr("lease.customerNotFound", "customer not found")
	}
	return err
}

// GetMachine is a machine as the admin sees it.
func (s *Service) GetMachine(ctx context.Context, id string) (*store.Machine, error) {
	m, err := s.Store.GetMachine(ctx, id, s.expiring())
	return m, MachineNotFound(err)
}

// actor is the caller, for audit records written by activities.
func actor(ctx context.Context) activities.Actor {
	p := caller.From(ctx)
	return activities.Actor{UserID: p.UserID, Name: p.Username, Role: p.Role, IP: caller.RequestOf(ctx).IP, TraceID: logging.TraceID(ctx)}
}
