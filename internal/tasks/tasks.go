// Package tasks is the rules of training and inference tasks (docs/tasks.md,
// requirements 3.1.3 and 2.1.8): creating, stopping, re-running and
// deleting them (each audited, with its workflow start or signal), the
// customers' and the admins' reads, the logs (the agents' batches in, pages,
// downloads and the live socket's reads out), the task's GPU figures and
// output files. The api calls one method per request; customers see their
// tenant's tasks only, checked in SQL.
package tasks

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Service holds what the task rules need.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// TaskQueue is where the task workflows run.
	TaskQueue string
	// Monitoring reads the task's GPU figures.
	Monitoring *monitoring.Service
	// Expiring is the lease notice window (the machine reads need it).
	Expiring time.Duration
	// Objects keeps the output files customers download (nil: no downloads).
	Objects *objstore.Store
}

func New(st *store.Store, tc client.Client, taskQueue string, mon *monitoring.Service, expiring time.Duration) *Service {
	return &Service{Store: st, Temporal: tc, TaskQueue: taskQueue, Monitoring: mon, Expiring: expiring}
}

// customer is the scope of the calling customer: its tenant, never empty.
func customer(ctx context.Context) store.TaskScope {
	return store.TaskScope{TenantID: caller.From(ctx).TenantID}
}

// everyone is the admins' scope.
var everyone = store.TaskScope{All: true}

func taskNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundErr("tasks.notFound", "task not found")
	}
	return err
}

func errWorkflowDown() error {
	return apperr.UnavailableErr(apperr.CodeWorkflowDown, "the workflow service is unavailable; try again later")
}

// leasedMachine is a machine actively leased to the caller's tenant.
func (s *Service) leasedMachine(ctx context.Context, id string) (*store.Machine, error) {
	m, err := s.Store.GetTenantMachine(ctx, caller.From(ctx).TenantID, id, s.Expiring)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundErr("machines.notYours", "machine not found")
	}
	return m, err
}

func (s *Service) get(ctx context.Context, scope store.TaskScope, id string) (*store.Task, error) {
	t, err := s.Store.GetTask(ctx, scope, id, false)
	return t, taskNotFound(err)
}
