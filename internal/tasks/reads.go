package tasks

import (
	"context"
	"strings"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// ListInput is a page of tasks with filters.
type ListInput struct {
	Filter store.TaskFilter
	// Statuses is the comma list of the status filter.
	Statuses string
	Page     store.Page
}

func (in *ListInput) filter() (store.TaskFilter, error) {
	f := in.Filter
	if in.Statuses != "" {
		for _, st := range strings.Split(in.Statuses, ",") {
			if st = strings.TrimSpace(st); st != "" {
				f.Statuses = append(f.Statuses, st)
			}
		}
		if !store.ValidTaskStatuses(f.Statuses) {
			return f, apperr.New(apperr.Invalid, "tasks.statusInvalid", "status must list queued, running, succeeded, failed or stopped").
				AtField("query.status")
		}
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return f, apperr.New(apperr.Invalid, "tasks.fromAfterTo", "from must be before to").AtField("query.from")
	}
	return f, nil
}

// List pages the caller's tenant's tasks.
func (s *Service) List(ctx context.Context, in ListInput) ([]store.Task, int, error) {
	f, err := in.filter()
	if err != nil {
		return nil, 0, err
	}
	f.TenantID = ""
	list, total, err := s.Store.ListTasks(ctx, customer(ctx), f, in.Page)
	for i := range list {
		list[i].TenantName = "" // the customer's own company: admins' lists only
	}
	return list, total, err
}

// AdminList pages every customer's tasks.
func (s *Service) AdminList(ctx context.Context, in ListInput) ([]store.Task, int, error) {
	f, err := in.filter()
	if err != nil {
		return nil, 0, err
	}
	return s.Store.ListTasks(ctx, everyone, f, in.Page)
}

// Recent are the caller's tenant's latest 10 tasks (the dashboard).
func (s *Service) Recent(ctx context.Context) ([]store.Task, error) {
	list, _, err := s.List(ctx, ListInput{Page: store.Page{Page: 1, PageSize: 10}})
	return list, err
}

// MachineTasks pages the caller's tasks on one of its leased machines.
func (s *Service) MachineTasks(ctx context.Context, machineID string, p store.Page) ([]store.Task, int, error) {
	if _, err := s.leasedMachine(ctx, machineID); err != nil {
		return nil, 0, err
	}
	return s.List(ctx, ListInput{Filter: store.TaskFilter{MachineID: machineID}, Page: p})
}

// Get is one of the caller's tasks.
func (s *Service) Get(ctx context.Context, id string) (*store.Task, error) {
	t, err := s.get(ctx, customer(ctx), id)
	if err != nil {
		return nil, err
	}
	t.TenantName = ""
	return t, nil
}

// Details is one of the caller's tasks with its spec and attempts.
func (s *Service) Details(ctx context.Context, id string) (*store.TaskDetail, error) {
	d, err := s.Store.GetTaskDetail(ctx, customer(ctx), id)
	if err != nil {
		return nil, taskNotFound(err)
	}
	d.TenantName = ""
	return d, nil
}

// AdminDetails is any task with its spec and attempts.
func (s *Service) AdminDetails(ctx context.Context, id string) (*store.TaskDetail, error) {
	d, err := s.Store.GetTaskDetail(ctx, everyone, id)
	return d, taskNotFound(err)
}

// AvailableMachines are the machines leased to the caller's tenant with
// their free GPUs and queues (the create form).
func (s *Service) AvailableMachines(ctx context.Context) ([]store.AvailableMachine, error) {
	return s.Store.AvailableMachines(ctx, caller.From(ctx).TenantID)
}

// Images are the images the agent of one of the caller's machines reported.
func (s *Service) Images(ctx context.Context, machineID string) ([]store.MachineImage, error) {
	if _, err := s.leasedMachine(ctx, machineID); err != nil {
		return nil, err
	}
	return s.Store.HostImages(ctx, machineID)
}

// Counts are a customer's tasks ("" for every customer's), for the admin's pages.
func (s *Service) Counts(ctx context.Context, tenantID string) (store.TaskCounts, error) {
	return s.Store.CountTasks(ctx, tenantID)
}

// MyCounts are the caller's tenant's tasks (the customer's home).
func (s *Service) MyCounts(ctx context.Context) (store.TaskCounts, error) {
	tenant := caller.From(ctx).TenantID
	if tenant == "" {
		return store.TaskCounts{}, apperr.ForbiddenErr(apperr.CodeForbidden, "forbidden")
	}
	return s.Store.CountTasks(ctx, tenant)
}
