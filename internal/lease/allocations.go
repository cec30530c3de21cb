package lease

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/failpoint"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// DefaultReclaimReason is the end reason of a reclaim given none (the API
// names it by its code too, lease.reclaimedEarly).
const DefaultReclaimReason = store.ReasonReclaimedEarly

// AllocateInput leases machines to a customer for some months.
type AllocateInput struct {
	TenantID   string
	MachineIDs []string
	Months     int
	Remark     string
}

// GetAllocation is an allocation as the admin sees it.
func (s *Service) GetAllocation(ctx context.Context, id string) (*store.Allocation, error) {
	a, err := s.Store.GetAllocation(ctx, id, s.expiring())
	return a, AllocationNotFound(err)
}

// Allocate records one pending allocation per machine in one transaction
// (all or none), then starts each one's workflow, which activates it. A
// lease whose workflow cannot start is closed again, so its machine is free.
func (s *Service) Allocate(ctx context.Context, in AllocateInput) ([]store.Allocation, error) {
	t, err := s.Store.GetTenant(ctx, in.TenantID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	if t.Status != "active" {
		return nil, apperr.ConflictErr("lease.customerInactive", "customer {customer} is {status} and cannot receive machines",
			apperr.P{"customer": t.Company, "status": t.Status})
	}
	machines, err := s.machines(ctx, in.MachineIDs)
	if err != nil {
		return nil, err
	}
	for _, m := range machines {
		if err := allocatable(m); err != nil {
			return nil, err
		}
	}
	p := caller.From(ctx)
	remark := strings.TrimSpace(in.Remark)
	ids := make([]string, len(machines))
	// the inserts lock the machine rows (the trigger of schema 008): take
	// them in ID order, as the metrics ingest does, so the two never deadlock
	order := make([]int, len(machines))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(machines[a].ID, machines[b].ID) })
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		for _, i := range order {
			m := machines[i]
			id, err := store.New(tx).CreateAllocation(ctx, t.ID, m.ID, in.Months, remark, p.UserID, p.Username)
			if err != nil {
				if store.IsUniqueViolation(err, "allocations_live_machine_key") {
					return apperr.ConflictErr("lease.machineJustAllocated", "machine {machine} was just allocated", apperr.P{"machine": m.Name})
				}
				return err
			}
			ids[i] = id
			if err := audit.Record(ctx, tx, audit.Entry{Action: "allocation.create", TargetType: "allocation", TargetID: id, TenantID: t.ID, Success: true,
				Detail: map[string]any{"machine": m.Name, "machineId": m.ID, "customer": t.Company, "months": in.Months, "remark": in.Remark,
					"before": m.AllocationStatus, "after": "allocated"}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	failpoint.Hit("allocation-before-workflow-start") // the reconciler's test kills the api here
	var failed []string
	for i, id := range ids {
		_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.AllocationWorkflowID(id), TaskQueue: s.Config.TemporalTaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.Allocation, workflows.AllocationInput{AllocationID: id, Months: in.Months, ExpiringNotice: s.expiring()})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			slog.ErrorContext(ctx, "unable to start allocation workflow", "allocation", id, "err", err)
			// nothing owns this lease: close it so the machine is free again
			_ = s.Store.EndAllocation(ctx, id, "reclaimed", store.ReasonWorkflowNotStarted, "system", nil)
			failed = append(failed, machines[i].Name)
		}
	}
	if len(failed) > 0 {
		return nil, apperr.UnavailableErr("lease.notAllocatedWorkflowDown", "the workflow service is unavailable; not allocated: {machines}",
			apperr.P{"machines": strings.Join(failed, ", ")})
	}
	out := make([]store.Allocation, 0, len(ids))
	for _, id := range ids {
		a, err := s.Store.GetAllocation(ctx, id, s.expiring())
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, nil
}

// machines reads the machines of ids in one query, in the order of ids;
// one that does not exist (or is no UUID) is not found.
func (s *Service) machines(ctx context.Context, ids []string) ([]*store.Machine, error) {
	canonical := make([]string, len(ids))
	for i, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, MachineNotFound(store.ErrNotFound)
		}
		canonical[i] = u.String()
	}
	found, err := s.Store.GetMachines(ctx, canonical, s.expiring())
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Machine, len(found))
	for i := range found {
		byID[found[i].ID] = &found[i]
	}
	out := make([]*store.Machine, len(ids))
	for i, id := range canonical {
		m, ok := byID[id]
		if !ok {
			return nil, MachineNotFound(store.ErrNotFound)
		}
		out[i] = m
	}
	return out, nil
}

// allocatable refuses a machine that cannot be leased now.
func allocatable(m *store.Machine) error {
	switch {
	case m.Cleanup != nil:
		return apperr.ConflictErr("lease.machineBeingCleaned", "machine {machine} is still being cleaned after its last lease and cannot be allocated",
			apperr.P{"machine": m.Name})
	case m.Allocation != nil:
		return apperr.ConflictErr("lease.machineAllocated", "machine {machine} is already allocated to {customer}",
			apperr.P{"machine": m.Name, "customer": m.Allocation.Customer})
	case m.Status == "maintenance":
		return apperr.ConflictErr("lease.machineInMaintenance", "machine {machine} is in maintenance and cannot be allocated", apperr.P{"machine": m.Name})
	case m.Status == "offline":
		return apperr.ConflictErr("lease.machineOffline", "machine {machine} is offline and cannot be allocated", apperr.P{"machine": m.Name})
	}
	return nil
}

// ExtendInput renews a lease by some months. A retried request with the
// same IdempotencyKey renews once and answers as the first did.
type ExtendInput struct {
	AllocationID   string
	Months         int
	IdempotencyKey string
}

// Extend moves the end of a live lease, through its workflow.
func (s *Service) Extend(ctx context.Context, in ExtendInput) (*store.Allocation, error) {
	if _, err := s.live(ctx, in.AllocationID); err != nil {
		return nil, err
	}
	// A retried request with the same key is the same update: Temporal
	// runs it once and answers again with its outcome.
	p := caller.From(ctx)
	updateID := "extend:" + uuid.NewString()
	if k := strings.TrimSpace(in.IdempotencyKey); k != "" {
		updateID = "extend:" + p.UserID + ":" + k
	}
	var res workflows.ExtendResult
	req := workflows.ExtendRequest{Months: in.Months, By: p.Username, Actor: actor(ctx)}
	if err := s.update(ctx, in.AllocationID, workflows.AllocationExtendUpdate, updateID, client.WorkflowUpdateStageCompleted, req, &res); err != nil {
		return nil, err
	}
	return s.GetAllocation(ctx, in.AllocationID)
}

// ReclaimInput ends a lease now: by its allocation, or by its machine.
type ReclaimInput struct {
	AllocationID string
	MachineID    string
	Reason       string
}

// Reclaim records the request (no record, no reclaim) and hands it to the
// lease, answering as soon as the lease accepted it: the lease as it is
// now, its host cleanup following. The update ID is the same for every
// reclaim of a lease, so a retried request is one reclaim.
func (s *Service) Reclaim(ctx context.Context, in ReclaimInput) (*store.Allocation, error) {
	id := in.AllocationID
	if in.MachineID != "" {
		m, err := s.GetMachine(ctx, in.MachineID)
		if err != nil {
			return nil, err
		}
		if m.Allocation == nil {
			return nil, apperr.ConflictErr("lease.machineNotAllocated", "machine {machine} is not allocated", apperr.P{"machine": m.Name})
		}
		id = m.Allocation.ID
	}
	before, err := s.live(ctx, id)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		reason = DefaultReclaimReason
	}
	entry := audit.Entry{Action: "allocation.reclaim", TargetType: "allocation", TargetID: before.ID, TenantID: before.TenantID,
		Success: true, Detail: map[string]any{"machine": before.MachineName, "reason": reason, "before": before.Status}}
	if err := audit.Record(ctx, s.Store.Pool, entry); err != nil {
		return nil, err
	}
	req := workflows.ReclaimRequest{Reason: reason, By: caller.From(ctx).Username, Actor: actor(ctx)}
	if err := s.update(ctx, before.ID, workflows.AllocationReclaimUpdate, "reclaim", client.WorkflowUpdateStageAccepted, req, nil); err != nil {
		// the request was recorded before it was sent: record that it did not happen
		entry.Success, entry.Detail = false, map[string]any{"machine": before.MachineName, "reason": reason, "error": err.Error()}
		_ = audit.Record(ctx, s.Store.Pool, entry)
		return nil, err
	}
	return s.Store.GetAllocation(ctx, before.ID, s.expiring())
}

// live returns an allocation that can still be extended or reclaimed.
func (s *Service) live(ctx context.Context, id string) (*store.Allocation, error) {
	a, err := s.GetAllocation(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Status != "active" {
		return nil, apperr.ConflictErr("lease.notActive", "the allocation is {status}", apperr.P{"status": a.Status})
	}
	return a, nil
}

func errLeaseEnded() error {
	return apperr.ConflictErr("lease.ended", "the allocation has already ended")
}

// update sends an update to the allocation's workflow and waits until it
// reaches stage; with the completed stage the result goes into result.
func (s *Service) update(ctx context.Context, id, name, updateID string, stage client.WorkflowUpdateStage, arg, result any) error {
	handle, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.AllocationWorkflowID(id), UpdateName: name, UpdateID: updateID, Args: []any{arg},
		WaitForStage: stage,
	})
	if err == nil && stage == client.WorkflowUpdateStageCompleted {
		err = handle.Get(ctx, result)
	}
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return errLeaseEnded()
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case workflows.ErrTypeInvalidMonths:
			return apperr.New(apperr.Invalid, "lease.invalidMonths", "months must be between 1 and {max}",
				apperr.P{"max": workflows.MaxExtendMonths}).AtField("body.months")
		case workflows.ErrTypeLeaseEnded:
			return errLeaseEnded()
		case workflows.ErrTypeLeaseEnding:
			return apperr.ConflictErr("lease.ending", "the lease is ending")
		}
		// The change itself failed (its record could not be written, say): nothing changed.
		slog.ErrorContext(ctx, "allocation update failed", "allocation", id, "update", name, "err", err)
		return apperr.UnavailableErr("lease.changeFailed", "the change could not be made and the lease is unchanged; try again later")
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return errLeaseEnded()
	}
	slog.ErrorContext(ctx, "allocation update failed", "allocation", id, "update", name, "err", err)
	return errWorkflowDown()
}
