package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// LeaseCleanupWorkflowID is the cleanup after one lease.
func LeaseCleanupWorkflowID(allocationID string) string { return "lease-cleanup:" + allocationID }

// The end-of-lease steps. The tenant's work stops first. The agent's key
// is replaced next: the tenant, root on the host, may have copied it, and
// with it could fetch any command's secret as the agent does, the new
// login password included; once the agent has switched, a copy is worth
// nothing. Then the tenant's ways in are closed.
const (
	CleanupStepStopTenant     = "stop_tenant"
	CleanupStepRemoveKeys     = "remove_ssh_keys"
	CleanupStepRotatePassword = "rotate_password"
	CleanupStepRotateAgentKey = "rotate_agent_key"
)

// CleanupSteps are the steps in order.
var CleanupSteps = []string{CleanupStepStopTenant, CleanupStepRotateAgentKey, CleanupStepRemoveKeys, CleanupStepRotatePassword}

// cleanupStepsV0 is the order before versionKeyFirst: the agent's key last.
var cleanupStepsV0 = []string{CleanupStepStopTenant, CleanupStepRemoveKeys, CleanupStepRotatePassword, CleanupStepRotateAgentKey}

// versionKeyFirst 1: the agent's key is rotated right after the tenant's
// work stops, before the password (0: last).
const versionKeyFirst = "cleanup-agent-key-first"

// Step states as the lease records them.
const (
	StepPending   = "pending"
	StepConfirmed = "confirmed"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
)

// PendingCleanupSteps is the record of a cleanup that has not begun.
func PendingCleanupSteps(at time.Time) []store.HostStep {
	steps := make([]store.HostStep, len(CleanupSteps))
	for i, s := range CleanupSteps {
		steps[i] = store.HostStep{Step: s, State: StepPending, Code: "lease.step.pending", Detail: "waiting for the host agent to confirm", At: at}
	}
	return steps
}

type LeaseCleanupInput struct {
	AllocationID string
	MachineID    string
	TenantID     string
	EndedAt      time.Time // when the lease ended: the overdue alert counts from here

	// Carried to the next run when the workflow continues as new.
	Confirmed []string
	Alerted   bool
}

type LeaseCleanupResult struct {
	Outcome string // done or reinstalled
}

// LeaseCleanupReinstalledUpdate ends the cleanup because an admin
// reinstalled the host: the steps left are skipped, the agent's keys
// revoked (the reinstalled host registers afresh).
const LeaseCleanupReinstalledUpdate = "reinstalled"

type ReinstalledRequest struct {
	Actor activities.Actor
	Note  string
}

// LeaseCleanupStateQuery returns the steps confirmed so far.
const LeaseCleanupStateQuery = "state"

type LeaseCleanupState struct {
	Confirmed []string
	Current   string // the step running now
	Outcome   string // set once finished
}

// Outcomes of a cleanup.
const (
	CleanupDone        = "done"
	CleanupReinstalled = "reinstalled"
)

// ErrTypeCleanupFinished rejects a reinstall mark once the cleanup is over.
const ErrTypeCleanupFinished = "CleanupFinished"

// cleanupRetryMax caps the wait before a step the host refused outright is tried again.
const cleanupRetryMax = 30 * time.Minute

// LeaseCleanup runs the end-of-lease steps on the host of a lease that has
// ended: stop the tenant's containers and processes, remove its SSH keys,
// rotate the login password, rotate the agent key. Each is a host command
// confirmed by the agent; while the agent is away the steps wait and are
// retried, durably, for as long as it takes. The machine stays in
// maintenance ("lease cleanup") until every step is confirmed; an alert is
// raised when that takes longer than the lease_cleanup rule allows. An
// admin may instead mark the machine reinstalled.
func LeaseCleanup(ctx workflow.Context, in LeaseCleanupInput) (LeaseCleanupResult, error) {
	if in.AllocationID == "" || in.MachineID == "" {
		return LeaseCleanupResult{}, temporal.NewNonRetryableApplicationError("allocation and machine are required", "InvalidArgument", nil)
	}
	w := &cleanup{in: in, confirmed: slices.Clone(in.Confirmed), alerted: in.Alerted, logger: workflow.GetLogger(ctx)}
	if err := w.setup(ctx); err != nil {
		return LeaseCleanupResult{}, err
	}
	return w.run(ctx)
}

type cleanup struct {
	in         LeaseCleanupInput
	confirmed  []string
	current    string
	alerted    bool
	reinstall  *ReinstalledRequest
	cancelStep workflow.CancelFunc
	result     *LeaseCleanupResult
	logger     log.Logger
}

func (w *cleanup) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, LeaseCleanupStateQuery, func() (LeaseCleanupState, error) {
		st := LeaseCleanupState{Confirmed: w.confirmed, Current: w.current}
		if w.result != nil {
			st.Outcome = w.result.Outcome
		}
		return st, nil
	}); err != nil {
		return fmt.Errorf("unable to register the state query: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, LeaseCleanupReinstalledUpdate, w.reinstalled, workflow.UpdateHandlerOptions{
		Validator: func(workflow.Context, ReinstalledRequest) error {
			if w.result != nil || w.reinstall != nil {
				return temporal.NewApplicationError("the cleanup has already finished", ErrTypeCleanupFinished)
			}
			return nil
		},
		Description: "the host was reinstalled: skip the steps left",
	}); err != nil {
		return fmt.Errorf("unable to register the reinstalled update: %w", err)
	}
	return nil
}

func (w *cleanup) run(ctx workflow.Context) (LeaseCleanupResult, error) {
	order := CleanupSteps
	if workflow.GetVersion(ctx, versionKeyFirst, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		order = cleanupStepsV0
	}
	if !w.alerted {
		workflow.Go(ctx, w.alertWhenOverdue)
	}
	for _, step := range order {
		if slices.Contains(w.confirmed, step) {
			continue
		}
		if err := w.runStep(ctx, step); err != nil {
			return LeaseCleanupResult{}, err
		}
		if w.reinstall != nil {
			break
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return LeaseCleanupResult{}, workflow.NewContinueAsNewError(ctx, LeaseCleanup, w.carry())
		}
	}
	return w.finish(ctx)
}

func (w *cleanup) carry() LeaseCleanupInput {
	next := w.in
	next.Confirmed, next.Alerted = slices.Clone(w.confirmed), w.alerted
	return next
}

// runStep runs one step until the host confirms it (or the machine is
// marked reinstalled). Host activities retry by themselves while the agent
// is away; what comes back here is a failure the host reported as final,
// which is recorded and tried again later, since the machine must not be
// leased again before the step is done.
func (w *cleanup) runStep(ctx workflow.Context, step string) error {
	w.current = step
	defer func() { w.current = "" }()
	for failures := 0; ; failures++ {
		if w.reinstall != nil {
			return nil
		}
		stepCtx, cancel := workflow.WithCancel(ctx)
		w.cancelStep = cancel
		done, err := w.execute(stepCtx, step)
		cancel()
		w.cancelStep = nil
		if w.reinstall != nil {
			return nil
		}
		at := workflow.Now(ctx).UTC()
		if err == nil {
			w.confirmed = append(w.confirmed, step)
			done.Step, done.Confirmed, done.State, done.At = step, true, StepConfirmed, at
			w.record(ctx, done)
			return nil
		}
		w.logger.Warn("cleanup step failed on the host; trying again later", "AllocationID", w.in.AllocationID, "Step", step, "Error", err)
		w.record(ctx, store.HostStep{Step: step, State: StepFailed, Code: "lease.step.failed", Params: map[string]any{"error": rootMessage(err)},
			Detail: "the host failed (tried again): " + rootMessage(err), At: at})
		wait := min(time.Minute<<min(failures, 5), cleanupRetryMax)
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return w.reinstall != nil }); err != nil {
			return err
		}
	}
}

// execute runs the step's host activity and says what the host did: a code
// (lease.step.<x>) with its figures, which the console translates, and the
// English text. Only the text recorded changed when the codes came: the
// workflow's commands are the same, so older histories replay.
func (w *cleanup) execute(ctx workflow.Context, step string) (store.HostStep, error) {
	var h *activities.Host
	hctx := hostOptions(ctx)
	did := func(code, en string, params map[string]any, simulated bool) store.HostStep {
		if simulated {
			en += " (simulated host: nothing changed on it)"
			params["simulated"] = true
		}
		return store.HostStep{Code: "lease.step." + code, Params: params, Detail: en}
	}
	switch step {
	case CleanupStepStopTenant:
		var r agentproto.StopTenantResult
		err := workflow.ExecuteActivity(hctx, h.StopTenant, activities.StopTenantInput{MachineID: w.in.MachineID, TenantID: w.in.TenantID,
			AllocationID: w.in.AllocationID}).Get(ctx, &r)
		return did("tenantStopped", fmt.Sprintf("stopped %d containers and %d processes", r.Containers, r.Processes),
			map[string]any{"containers": r.Containers, "processes": r.Processes}, r.Simulated), err
	case CleanupStepRemoveKeys:
		var r agentproto.SyncSSHKeysResult
		err := workflow.ExecuteActivity(hctx, h.SyncSSHKeys, activities.SyncSSHKeysInput{MachineID: w.in.MachineID,
			AllocationID: w.in.AllocationID}).Get(ctx, &r)
		return did("keysRemoved", "the tenant's keys removed from "+r.File, map[string]any{"file": r.File}, r.Simulated), err
	case CleanupStepRotatePassword:
		var r agentproto.SetPasswordResult
		err := workflow.ExecuteActivity(hctx, h.SetPassword, activities.SetPasswordInput{MachineID: w.in.MachineID}).Get(ctx, &r)
		return did("passwordSet", "new password set for "+r.User, map[string]any{"user": r.User}, r.Simulated), err
	case CleanupStepRotateAgentKey:
		err := workflow.ExecuteActivity(hctx, h.RotateAgentKey, activities.RotateAgentKeyInput{MachineID: w.in.MachineID}).Get(ctx, nil)
		return did("agentKeyRotated", "the agent switched to a new key; the old one no longer works", map[string]any{}, false), err
	}
	return store.HostStep{}, temporal.NewNonRetryableApplicationError("unknown cleanup step "+step, "InvalidArgument", nil)
}

// record keeps the console's view of the steps; a failure to write it is
// logged, the cleanup goes on.
func (w *cleanup) record(ctx workflow.Context, step store.HostStep) {
	var c *activities.Cleanups
	if err := workflow.ExecuteActivity(controlOptions(ctx, 10), c.RecordCleanupStep, activities.RecordCleanupStepInput{
		AllocationID: w.in.AllocationID, Step: step}).Get(ctx, nil); err != nil {
		w.logger.Error("unable to record a cleanup step", "AllocationID", w.in.AllocationID, "Step", step.Step, "Error", err)
	}
}

// alertWhenOverdue raises the lease_cleanup alert once the cleanup has run
// longer than the rule allows (counted from the end of the lease).
func (w *cleanup) alertWhenOverdue(ctx workflow.Context) {
	var c *activities.Cleanups
	var rule activities.CleanupAlertRuleResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), c.CleanupAlertRule).Get(ctx, &rule); err != nil || !rule.Enabled {
		return
	}
	wait := w.in.EndedAt.Add(rule.After).Sub(workflow.Now(ctx))
	if wait > 0 {
		if done, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return w.result != nil || w.reinstall != nil }); err != nil || done {
			return
		}
	}
	if w.result != nil || w.reinstall != nil {
		return
	}
	var pending []string
	for _, s := range CleanupSteps {
		if !slices.Contains(w.confirmed, s) {
			pending = append(pending, s)
		}
	}
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), c.RaiseCleanupAlert, activities.RaiseCleanupAlertInput{
		MachineID: w.in.MachineID, AllocationID: w.in.AllocationID, Level: rule.Level, Since: w.in.EndedAt, After: rule.After,
		Pending: pending}).Get(ctx, nil); err != nil {
		w.logger.Error("unable to raise the cleanup alert", "AllocationID", w.in.AllocationID, "Error", err)
		return
	}
	w.alerted = true
}

func (w *cleanup) reinstalled(ctx workflow.Context, req ReinstalledRequest) (LeaseCleanupResult, error) {
	w.reinstall = &req
	if w.cancelStep != nil {
		w.cancelStep()
	}
	if err := workflow.Await(ctx, func() bool { return w.result != nil }); err != nil {
		return LeaseCleanupResult{}, err
	}
	return *w.result, nil
}

// finish puts the machine back in service, or records the reinstall.
func (w *cleanup) finish(ctx workflow.Context) (LeaseCleanupResult, error) {
	in := activities.FinishLeaseCleanupInput{AllocationID: w.in.AllocationID, MachineID: w.in.MachineID}
	outcome := CleanupDone
	if w.reinstall != nil {
		outcome = CleanupReinstalled
		in.Reinstalled, in.Actor, in.Note = true, w.reinstall.Actor, w.reinstall.Note
		at := workflow.Now(ctx).UTC()
		for _, s := range CleanupSteps {
			if !slices.Contains(w.confirmed, s) {
				in.Skipped = append(in.Skipped, store.HostStep{Step: s, State: StepSkipped, Code: "lease.step.reinstalled", Detail: "the machine was reinstalled", At: at})
			}
		}
	}
	var c *activities.Cleanups
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), c.FinishLeaseCleanup, in).Get(ctx, nil); err != nil {
		return LeaseCleanupResult{}, fmt.Errorf("unable to finish the cleanup: %w", err)
	}
	w.result = &LeaseCleanupResult{Outcome: outcome}
	w.logger.Info("lease cleanup finished", "AllocationID", w.in.AllocationID, "Outcome", outcome)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return *w.result, err
	}
	return *w.result, nil
}
