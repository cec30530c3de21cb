package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/store"
)

// Cleanups are the control-plane activities of the LeaseCleanup workflow:
// the progress of the end-of-lease steps on the lease, the overdue alert,
// and the end of the cleanup.
type Cleanups struct {
	Store *store.Store
}

type RecordCleanupStepInput struct {
	AllocationID string
	Step         store.HostStep
}

// RecordCleanupStep records the outcome of one step on the lease, for the
// console. A confirmed stop_tenant removed the tenant's dataset mounts on
// the host too: they are marked unmounted.
func (c *Cleanups) RecordCleanupStep(ctx context.Context, in RecordCleanupStepInput) error {
	if in.Step.Step == "stop_tenant" && in.Step.Confirmed {
		if _, err := c.Store.UnmountLeaseMounts(ctx, in.AllocationID); err != nil {
			return fmt.Errorf("unable to mark the tenant's dataset mounts unmounted: %w", err)
		}
	}
	if err := c.Store.SetCleanupStep(ctx, in.AllocationID, in.Step); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unable to record the cleanup step: %w", err)
	}
	return nil
}

type CleanupAlertRuleResult struct {
	Enabled bool
	Level   string
	After   time.Duration
}

// CleanupAlertRule is when an unfinished cleanup raises an alert (the
// lease_cleanup alert rule, which admins edit with the other rules).
func (c *Cleanups) CleanupAlertRule(ctx context.Context) (CleanupAlertRuleResult, error) {
	enabled, level, after, err := c.Store.CleanupAlertRule(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return CleanupAlertRuleResult{}, nil
	}
	if err != nil {
		return CleanupAlertRuleResult{}, fmt.Errorf("unable to load the lease cleanup alert rule: %w", err)
	}
	return CleanupAlertRuleResult{Enabled: enabled, Level: level, After: after}, nil
}

type RaiseCleanupAlertInput struct {
	MachineID    string
	AllocationID string
	Level        string
	Since        time.Time
	After        time.Duration
	Pending      []string // the steps the host has not confirmed
}

// RaiseCleanupAlert opens the machine's overdue-cleanup alert.
func (c *Cleanups) RaiseCleanupAlert(ctx context.Context, in RaiseCleanupAlertInput) error {
	t := eval.LeaseCleanupMessage(in.After, in.Pending)
	if _, err := c.Store.OpenCleanupAlert(ctx, store.CleanupAlert{MachineID: in.MachineID, AllocationID: in.AllocationID, Level: in.Level,
		Code: t.Code, Params: t.Params, Message: t.English(), Since: in.Since, After: in.After}); err != nil {
		return fmt.Errorf("unable to raise the cleanup alert: %w", err)
	}
	return nil
}

type FinishLeaseCleanupInput struct {
	AllocationID string
	MachineID    string
	Reinstalled  bool
	Skipped      []store.HostStep
	Actor        Actor // who marked the machine reinstalled
	Note         string
}

// FinishLeaseCleanup puts the machine back in service (every step
// confirmed), or, when an admin marked it reinstalled, revokes its agent
// keys and leaves it offline until a fresh registration; the mark is
// audited in the same transaction.
func (c *Cleanups) FinishLeaseCleanup(ctx context.Context, in FinishLeaseCleanupInput) error {
	f := store.LeaseCleanupFinish{AllocationID: in.AllocationID, MachineID: in.MachineID, Reinstalled: in.Reinstalled, Skipped: in.Skipped}
	if in.Reinstalled {
		f.Audit = in.Actor.audit("machine.reinstalled", map[string]any{"allocationId": in.AllocationID, "note": in.Note})
		f.Audit.TargetType, f.Audit.TargetID = "machine", in.MachineID
	}
	if err := c.Store.FinishLeaseCleanup(ctx, f); err != nil {
		return fmt.Errorf("unable to finish the lease cleanup: %w", err)
	}
	return nil
}
