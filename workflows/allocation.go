package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/store"
)

// AllocationWorkflowID is the workflow of one allocation: starting it twice is rejected.
func AllocationWorkflowID(allocationID string) string { return "allocation:" + allocationID }

// AllocationInput starts a lease. The API sets AllocationID, Months and
// ExpiringNotice; the rest is the state a run hands to the next one when it
// continues as new, zero on the first run.
type AllocationInput struct {
	AllocationID string
	// Months is the initial lease length; a continued run gets the total so far.
	Months int
	// ExpiringNotice is how long before the end the "expiring" notice goes
	// out; zero means DefaultExpiringNotice.
	ExpiringNotice time.Duration

	StartAt, EndAt time.Time
	Notified       bool // the notice for EndAt went out
	Extensions     int
	MachineID      string
	TenantID       string
}

// AllocationResult is how the lease ended.
type AllocationResult struct {
	Status    string // expired or reclaimed
	EndedAt   time.Time
	HostSteps []store.HostStep
}

// AllocationExtendUpdate moves the end of an active lease by Months; it
// returns the new end once it is stored.
const AllocationExtendUpdate = "extend"

type ExtendRequest struct {
	Months int    // 1..MaxExtendMonths
	By     string // actor name for the record
	// Actor is who asked, for the audit record written with the change.
	Actor activities.Actor
}

type ExtendResult struct {
	EndAt  time.Time
	Months int // total months of the lease, renewals included
}

// AllocationReclaimUpdate ends an active lease at once; it returns after the
// end steps ran and the record is closed.
const AllocationReclaimUpdate = "reclaim"

type ReclaimRequest struct {
	Reason string
	By     string
	Actor  activities.Actor
}

type ReclaimResult struct {
	Status    string
	EndedAt   time.Time
	HostSteps []store.HostStep
}

// AllocationKeysChangedSignal tells the lease that the tenant's SSH keys
// changed: the machine's authorized_keys is synced again (no payload).
const AllocationKeysChangedSignal = "ssh-keys-changed"

// AllocationStateQuery returns the lease as the workflow sees it.
const AllocationStateQuery = "state"

type AllocationState struct {
	Status         string // pending, active, expired or reclaimed
	StartAt, EndAt time.Time
	Notified       bool
	Extensions     int
}

const (
	DefaultExpiringNotice = 7 * 24 * time.Hour
	MaxExtendMonths       = 36
	// MaxExtensionsPerRun bounds the history: after this many renewals the
	// workflow continues as new (as it does when Temporal suggests it).
	MaxExtensionsPerRun = 20
)

// Error types of rejected updates, for the API to map (ApplicationError.Type()).
const (
	ErrTypeInvalidMonths = "InvalidMonths"
	ErrTypeLeaseEnded    = "LeaseEnded"
	ErrTypeLeaseEnding   = "LeaseEnding"
)

// Versions of the workflow's command sequence (workflow.GetVersion): leases
// run for months, so a change never alters what a running lease replays.
const (
	// versionLeaseCleanup 1: the end closes the record at once and hands the
	// host steps to a LeaseCleanup workflow (0: host steps inline).
	versionLeaseCleanup = "lease-cleanup"
	// versionSSHKeys 1: the tenant's SSH keys are synced to the machine
	// when the lease starts and whenever they change.
	versionSSHKeys = "ssh-keys-sync"
	// versionStartPassword 1: a new lease first sets a new password on the
	// host, so the password the customer is shown is the host's.
	versionStartPassword = "lease-start-password"
)

// Host steps recorded when a lease ended under version 0, in the order they ran.
const (
	HostStepStopTasks      = "stop_tasks"
	HostStepRotatePassword = "rotate_password"
	// NoAgentDetail is recorded for each host step while no agent polls the machine's task queue.
	NoAgentDetail = "no agent confirmed: the host agent is not connected"
)

// HostScheduleToStart is how long a host step waits for the agent to pick it up.
const HostScheduleToStart = 2 * time.Minute

// Allocation owns one lease of one machine: it activates the record, sends
// the "expiring" notice before the end, moves the end on each renewal, and
// at the end (or on an early reclaim) stops the customer's tasks, rotates the
// SSH password and closes the record as expired or reclaimed.
func Allocation(ctx workflow.Context, in AllocationInput) (AllocationResult, error) {
	w, err := newAllocation(ctx, in)
	if err != nil {
		return AllocationResult{}, err
	}
	if err := w.setup(ctx); err != nil {
		return AllocationResult{}, err
	}
	return w.run(ctx)
}

type allocation struct {
	id         string
	months     int
	notice     time.Duration
	status     string
	startAt    time.Time
	endAt      time.Time
	notified   bool
	extensions int
	machineID  string
	tenantID   string

	runExtensions int             // renewals in this run
	busy          bool            // activation, a notice, a renewal or the end holds the lease
	closing       bool            // the end has begun: updates are refused
	reclaim       *ReclaimRequest // an early end was asked for
	changed       int             // bumped by every renewal; wakes the main loop
	background    int             // mail coroutines still running
	result        *AllocationResult
	endErr        error

	keySync     workflow.CancelFunc // stops the key sync; nil when it does not run
	keySyncDone bool
	firstRun    bool // not continued from an earlier run

	logger log.Logger
}

func newAllocation(ctx workflow.Context, in AllocationInput) (*allocation, error) {
	if in.AllocationID == "" {
		return nil, temporal.NewNonRetryableApplicationError("no allocation ID", "InvalidArgument", nil)
	}
	if in.Months < 1 {
		return nil, temporal.NewNonRetryableApplicationError("months must be at least 1", "InvalidArgument", nil)
	}
	w := &allocation{id: in.AllocationID, months: in.Months, notice: in.ExpiringNotice, status: "pending",
		startAt: in.StartAt, endAt: in.EndAt, notified: in.Notified, extensions: in.Extensions,
		machineID: in.MachineID, tenantID: in.TenantID, busy: true, logger: workflow.GetLogger(ctx), firstRun: in.StartAt.IsZero()}
	if w.notice <= 0 {
		w.notice = DefaultExpiringNotice
	}
	return w, nil
}

func (w *allocation) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, AllocationStateQuery, func() (AllocationState, error) {
		return AllocationState{Status: w.status, StartAt: w.startAt, EndAt: w.endAt, Notified: w.notified, Extensions: w.extensions}, nil
	}); err != nil {
		return fmt.Errorf("unable to register the state query: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, AllocationExtendUpdate, w.extend,
		workflow.UpdateHandlerOptions{Validator: w.validateExtend, Description: "renew the lease by some months"}); err != nil {
		return fmt.Errorf("unable to register the extend update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, AllocationReclaimUpdate, w.reclaimNow,
		workflow.UpdateHandlerOptions{Validator: w.validateReclaim, Description: "end the lease now"}); err != nil {
		return fmt.Errorf("unable to register the reclaim update: %w", err)
	}
	return nil
}

func (w *allocation) run(ctx workflow.Context) (AllocationResult, error) {
	if err := w.activate(ctx); err != nil {
		// Updates that came in meanwhile are answered with the failure.
		w.endErr = err
		w.unlock()
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return AllocationResult{}, err
	}
	w.unlock()
	if workflow.GetVersion(ctx, versionSSHKeys, workflow.DefaultVersion, 1) == 1 {
		w.startKeySync(ctx)
	}
	for {
		if err := w.lock(ctx); err != nil {
			return AllocationResult{}, err
		}
		now := workflow.Now(ctx)
		switch {
		case w.reclaim != nil:
			reason := w.reclaim.Reason
			if reason == "" {
				reason = store.ReasonReclaimedEarly
			}
			return w.end(ctx, "reclaimed", reason, w.reclaim.By)
		case !now.Before(w.endAt):
			return w.end(ctx, "expired", store.ReasonLeaseEnded, "system")
		case !w.notified && !now.Before(w.noticeAt()):
			w.notify(ctx)
			w.unlock()
			continue
		}
		w.unlock()

		if w.continueAsNewDue(ctx) {
			// Let running renewals and mails finish; a reclaim goes first.
			if err := workflow.Await(ctx, func() bool {
				return w.reclaim != nil || (w.background == 0 && workflow.AllHandlersFinished(ctx))
			}); err != nil {
				return AllocationResult{}, err
			}
			if w.reclaim != nil {
				continue
			}
			w.stopKeySync(ctx) // the next run syncs again at its start
			return AllocationResult{}, workflow.NewContinueAsNewError(ctx, Allocation, w.carry())
		}

		// Sleep until the next deadline, a renewal or a reclaim.
		deadline, summary := w.endAt, "lease end"
		if !w.notified && w.noticeAt().Before(deadline) {
			deadline, summary = w.noticeAt(), "expiring notice"
		}
		changed := w.changed
		if _, err := workflow.AwaitWithOptions(ctx,
			workflow.AwaitOptions{Timeout: deadline.Sub(now), TimerOptions: workflow.TimerOptions{Summary: summary}},
			func() bool { return w.changed != changed || w.reclaim != nil || w.continueAsNewDue(ctx) }); err != nil {
			return AllocationResult{}, err
		}
	}
}

func (w *allocation) noticeAt() time.Time { return w.endAt.Add(-w.notice) }

func (w *allocation) continueAsNewDue(ctx workflow.Context) bool {
	return w.runExtensions >= MaxExtensionsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

func (w *allocation) carry() AllocationInput {
	return AllocationInput{AllocationID: w.id, Months: w.months, ExpiringNotice: w.notice, StartAt: w.startAt, EndAt: w.endAt,
		Notified: w.notified, Extensions: w.extensions, MachineID: w.machineID, TenantID: w.tenantID}
}

// lock and unlock keep the notice, renewals and the end from interleaving,
// so the record and the workflow agree on the end and on "notified".
func (w *allocation) lock(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return !w.busy }); err != nil {
		return err
	}
	w.busy = true
	return nil
}

func (w *allocation) unlock() { w.busy = false }

// activate makes the record active; a continued run already is.
func (w *allocation) activate(ctx workflow.Context) error {
	if !w.startAt.IsZero() && !w.endAt.IsZero() && w.machineID != "" {
		w.status = "active"
		return nil
	}
	start := workflow.Now(ctx).UTC()
	end := start.AddDate(0, w.months, 0)
	if !w.startAt.IsZero() && !w.endAt.IsZero() {
		start, end = w.startAt, w.endAt
	}
	var a *activities.Allocations
	var res activities.ActivateAllocationResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.ActivateAllocation, activities.ActivateAllocationInput{
		AllocationID: w.id, StartAt: start, EndAt: end}).Get(ctx, &res); err != nil {
		return fmt.Errorf("unable to activate the allocation: %w", err)
	}
	w.startAt, w.endAt, w.machineID, w.tenantID = res.StartAt.UTC(), res.EndAt.UTC(), res.MachineID, res.TenantID
	w.status = "active"
	return nil
}

// validateLive refuses updates once the end has begun.
func (w *allocation) validateLive() error {
	switch {
	case w.result != nil:
		return temporal.NewApplicationError(fmt.Sprintf("the lease has already ended (%s)", w.result.Status), ErrTypeLeaseEnded)
	case w.endErr != nil:
		return temporal.NewApplicationError("the lease failed: "+w.endErr.Error(), ErrTypeLeaseEnded)
	case w.closing || w.reclaim != nil:
		return temporal.NewApplicationError("the lease is ending", ErrTypeLeaseEnding)
	}
	return nil
}

func (w *allocation) validateExtend(_ workflow.Context, req ExtendRequest) error {
	if req.Months < 1 || req.Months > MaxExtendMonths {
		return temporal.NewApplicationError(fmt.Sprintf("months must be between 1 and %d, got %d", MaxExtendMonths, req.Months), ErrTypeInvalidMonths)
	}
	return w.validateLive()
}

func (w *allocation) validateReclaim(_ workflow.Context, _ ReclaimRequest) error {
	return w.validateLive()
}

func (w *allocation) extend(ctx workflow.Context, req ExtendRequest) (ExtendResult, error) {
	if err := w.lock(ctx); err != nil {
		return ExtendResult{}, err
	}
	defer w.unlock()
	if err := w.validateLive(); err != nil { // it ended while this renewal waited
		return ExtendResult{}, err
	}
	var a *activities.Allocations
	var res activities.ExtendAllocationResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 5), a.ExtendAllocation, activities.ExtendAllocationInput{
		AllocationID: w.id, Months: req.Months, NewEnd: w.endAt.AddDate(0, req.Months, 0), By: req.By, Actor: req.Actor}).Get(ctx, &res); err != nil {
		return ExtendResult{}, fmt.Errorf("unable to extend the lease: %w", err)
	}
	w.endAt, w.months, w.extensions = res.EndAt.UTC(), res.Months, res.Extensions
	w.notified = false // the notice goes out again before the new end
	w.runExtensions++
	w.changed++
	w.logger.Info("lease extended", "AllocationID", w.id, "EndAt", w.endAt, "By", req.By)
	return ExtendResult{EndAt: w.endAt, Months: w.months}, nil
}

func (w *allocation) reclaimNow(ctx workflow.Context, req ReclaimRequest) (ReclaimResult, error) {
	w.reclaim = &req
	if err := workflow.Await(ctx, func() bool { return w.result != nil || w.endErr != nil }); err != nil {
		return ReclaimResult{}, err
	}
	if w.endErr != nil {
		return ReclaimResult{}, w.endErr
	}
	return ReclaimResult{Status: w.result.Status, EndedAt: w.result.EndedAt, HostSteps: w.result.HostSteps}, nil
}

// notify sends the "expiring" notice for the current end. A notice that
// cannot be delivered is logged, not retried forever: the console shows the
// lease as expiring either way.
func (w *allocation) notify(ctx workflow.Context) {
	var a *activities.Allocations
	var res activities.NotifyExpiringResult
	err := workflow.ExecuteActivity(controlOptions(ctx, 8), a.NotifyAllocationExpiring, activities.NotifyExpiringInput{
		AllocationID: w.id, EndAt: w.endAt}).Get(ctx, &res)
	w.notified = true
	if err != nil {
		w.logger.Error("unable to send the expiring notice", "AllocationID", w.id, "Error", err)
		return
	}
	if res.Skipped || len(res.Recipients) == 0 {
		return
	}
	w.background++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.background-- }()
		w.mailNotice(ctx, res)
	})
}

// mailNotice mails the owners with the notification activities and records the outcome on the batch.
func (w *allocation) mailNotice(ctx workflow.Context, res activities.NotifyExpiringResult) {
	var n *activities.Notifications
	mailCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 4},
	})
	futures := make([]workflow.Future, 0, len(res.Recipients))
	for _, r := range res.Recipients {
		futures = append(futures, workflow.ExecuteActivity(mailCtx, n.MailNotification, activities.MailInput{BatchID: res.BatchID, To: r.Email, Name: r.Name}))
	}
	failed := 0
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			failed++
		}
	}
	status, errText := "sent", ""
	if failed > 0 {
		errText = fmt.Sprintf("%d of %d mails failed", failed, len(futures))
		if failed == len(futures) {
			status = "failed"
		}
	}
	if err := finish(controlOptions(ctx, 8), res.BatchID, status, res.Owners, errText); err != nil {
		w.logger.Error("unable to finish the notice batch", "BatchID", res.BatchID, "Error", err)
	}
}

// end closes the record and starts the cleanup of the host; the caller
// holds the lock. The lease ends when it was decided: the host steps
// (stop the tenant's work, remove its keys, rotate the password and the
// agent key) run in the LeaseCleanup workflow, which keeps the machine out
// of service until the host confirmed them all.
func (w *allocation) end(ctx workflow.Context, status, reason, by string) (AllocationResult, error) {
	w.closing = true
	w.stopKeySync(ctx)
	if workflow.GetVersion(ctx, versionLeaseCleanup, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return w.endInline(ctx, status, reason, by)
	}
	decided := workflow.Now(ctx).UTC()
	var actor activities.Actor
	if w.reclaim != nil {
		actor = w.reclaim.Actor
	}
	var a *activities.Allocations
	var res activities.EndAllocationResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.EndAllocation, activities.EndAllocationInput{
		AllocationID: w.id, MachineID: w.machineID, Status: status, Reason: reason, By: by, Actor: actor,
		DecidedAt: decided, StartCleanup: true, HostSteps: PendingCleanupSteps(decided)}).Get(ctx, &res); err != nil {
		return w.failEnd(ctx, fmt.Errorf("unable to end the allocation: %w", err))
	}
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        LeaseCleanupWorkflowID(w.id),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON, // the cleanup outlives the lease
	}), LeaseCleanup, LeaseCleanupInput{AllocationID: w.id, MachineID: w.machineID, TenantID: w.tenantID, EndedAt: res.EndedAt})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		// The record says the machine awaits its cleanup: the reconciler starts it.
		w.logger.Error("unable to start the lease cleanup", "AllocationID", w.id, "Error", err)
	}
	return w.finishEnd(ctx, res, by, nil)
}

// endInline is the end of version 0: host steps inline, then the record.
func (w *allocation) endInline(ctx workflow.Context, status, reason, by string) (AllocationResult, error) {
	steps := w.hostSteps(ctx)
	var a *activities.Allocations
	var res activities.EndAllocationResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.EndAllocation, activities.EndAllocationInput{
		AllocationID: w.id, MachineID: w.machineID, Status: status, Reason: reason, By: by, HostSteps: steps}).Get(ctx, &res); err != nil {
		return w.failEnd(ctx, fmt.Errorf("unable to end the allocation: %w", err))
	}
	return w.finishEnd(ctx, res, by, steps)
}

func (w *allocation) failEnd(ctx workflow.Context, err error) (AllocationResult, error) {
	w.endErr = err
	w.unlock()
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return AllocationResult{}, w.endErr
}

func (w *allocation) finishEnd(ctx workflow.Context, res activities.EndAllocationResult, by string, steps []store.HostStep) (AllocationResult, error) {
	w.status = res.Status
	w.result = &AllocationResult{Status: res.Status, EndedAt: res.EndedAt.UTC(), HostSteps: steps}
	w.logger.Info("lease ended", "AllocationID", w.id, "Status", res.Status, "By", by)
	w.unlock() // renewals that were waiting see the end and fail
	if err := workflow.Await(ctx, func() bool { return w.background == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return *w.result, err
	}
	return *w.result, nil
}

// startKeySync sets the password of a new lease, then syncs the tenant's
// SSH keys to the machine now and after every change signal, until the
// lease ends. A failed sync is tried again
// a minute later; host activities themselves retry while the agent is away.
func (w *allocation) startKeySync(ctx workflow.Context) {
	changed := workflow.GetSignalChannel(ctx, AllocationKeysChangedSignal)
	syncCtx, cancel := workflow.WithCancel(ctx)
	w.keySync = cancel
	workflow.Go(syncCtx, func(ctx workflow.Context) {
		defer func() { w.keySyncDone = true }()
		if w.firstRun && workflow.GetVersion(ctx, versionStartPassword, workflow.DefaultVersion, 1) == 1 {
			w.startPassword(ctx)
		}
		dirty := true // at the start of every run: the keys may have changed meanwhile
		for ctx.Err() == nil {
			for changed.ReceiveAsync(nil) {
				dirty = true
			}
			if !dirty {
				sel := workflow.NewSelector(ctx)
				sel.AddReceive(changed, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); dirty = true })
				sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
				sel.Select(ctx)
				continue
			}
			dirty = false
			var h *activities.Host
			err := workflow.ExecuteActivity(hostOptions(ctx), h.SyncSSHKeys, activities.SyncSSHKeysInput{
				MachineID: w.machineID, AllocationID: w.id}).Get(ctx, nil)
			if err != nil && ctx.Err() == nil {
				w.logger.Warn("unable to sync the SSH keys; trying again", "AllocationID", w.id, "Error", err)
				dirty = true
				_ = workflow.Sleep(ctx, time.Minute)
			}
		}
	})
}

// startPassword sets a new password on the host as the lease starts (its
// record changes when the host confirmed it). A host that refuses is
// logged; the lease goes on.
func (w *allocation) startPassword(ctx workflow.Context) {
	var h *activities.Host
	if err := workflow.ExecuteActivity(hostOptions(ctx), h.SetPassword, activities.SetPasswordInput{MachineID: w.machineID}).Get(ctx, nil); err != nil && ctx.Err() == nil {
		w.logger.Error("unable to set the password at the start of the lease", "AllocationID", w.id, "Error", err)
	}
}

// stopKeySync stops the key sync and waits until it has: nothing may add
// keys once the end has begun.
func (w *allocation) stopKeySync(ctx workflow.Context) {
	if w.keySync == nil {
		return
	}
	w.keySync()
	_ = workflow.Await(ctx, func() bool { return w.keySyncDone })
	w.keySync = nil
}

// hostSteps (version 0) stops the customer's tasks and rotates the SSH password. The
// control plane always stores a new password; what has to happen on the host
// runs on the machine's task queue when an agent polls it, and is recorded
// as not confirmed otherwise.
func (w *allocation) hostSteps(ctx workflow.Context) []store.HostStep {
	var a *activities.Allocations
	var present bool
	absent := NoAgentDetail
	if err := workflow.ExecuteActivity(controlOptions(ctx, 3), a.HostAgentPresent, w.machineID).Get(ctx, &present); err != nil {
		present = false
		absent = "no agent confirmed: unable to tell whether the host agent is connected: " + rootMessage(err)
	}
	hostCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              activities.HostTaskQueue(w.machineID),
		ScheduleToStartTimeout: HostScheduleToStart,
		StartToCloseTimeout:    5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
	})
	step := func(name string, confirmed bool, detail string) store.HostStep {
		return store.HostStep{Step: name, Confirmed: confirmed, Detail: detail, At: workflow.Now(ctx).UTC()}
	}
	var steps []store.HostStep

	if present {
		var r activities.HostStopTenantContainersResult
		if err := workflow.ExecuteActivity(hostCtx, activities.HostStopTenantContainers, activities.HostStopTenantContainersInput{
			MachineID: w.machineID, TenantID: w.tenantID, AllocationID: w.id}).Get(ctx, &r); err != nil {
			steps = append(steps, step(HostStepStopTasks, false, hostFailure(err)))
		} else {
			steps = append(steps, step(HostStepStopTasks, true, fmt.Sprintf("stopped %d containers", r.Stopped)))
		}
	} else {
		steps = append(steps, step(HostStepStopTasks, false, absent))
	}

	var rot activities.RotateMachinePasswordResult
	err := workflow.ExecuteActivity(controlOptions(ctx, 10), a.RotateMachinePassword, activities.RotateMachinePasswordInput{
		MachineID: w.machineID}).Get(ctx, &rot)
	switch {
	case err != nil:
		w.logger.Error("unable to rotate the SSH password", "MachineID", w.machineID, "Error", err)
		steps = append(steps, step(HostStepRotatePassword, false, "unable to store a new password: "+rootMessage(err)))
	case !present:
		steps = append(steps, step(HostStepRotatePassword, false, absent))
	default:
		var r activities.HostSetSSHPasswordResult
		if err := workflow.ExecuteActivity(hostCtx, activities.HostSetSSHPassword, activities.HostSetSSHPasswordInput{
			MachineID: w.machineID, User: rot.SSHUser}).Get(ctx, &r); err != nil {
			steps = append(steps, step(HostStepRotatePassword, false, hostFailure(err)))
		} else {
			steps = append(steps, step(HostStepRotatePassword, true, "new password set for "+rot.SSHUser))
		}
	}
	return steps
}

// hostFailure says why a host step is not confirmed.
func hostFailure(err error) string {
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return fmt.Sprintf("no agent confirmed: the host agent did not pick the step up within %s", HostScheduleToStart)
	}
	return "no agent confirmed: the host agent failed: " + rootMessage(err)
}

// rootMessage is the failure's own message, without the activity wrapper around it.
func rootMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return te.Message()
	}
	return err.Error()
}

// HostCommandTimeout bounds one attempt of a host activity: the command
// waits that long for the agent, then the attempt is retried (the command
// stays the same) for as long as the workflow waits.
const HostCommandTimeout = 10 * time.Minute

// hostOptions are the options of the host activities: retried until the
// host answers, backing off to every 5 minutes while the agent is away.
func hostOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: HostCommandTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
}

// controlOptions are the options of the control-plane activities; attempts 0 retries until it works.
func controlOptions(ctx workflow.Context, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: attempts},
	})
}
