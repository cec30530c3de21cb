package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// Allocations are the control-plane activities of the Allocation workflow:
// the lease record, its notices, the machine's password, and whether the
// machine's agent is there to do the host-side part.
type Allocations struct {
	Store   *store.Store
	Secrets *secrets.Box
	// Client asks Temporal whether an agent polls a machine's host task queue.
	Client client.Client
	// AgentWindow is how recently an agent must have polled to count as
	// connected; zero means DefaultAgentWindow.
	AgentWindow time.Duration
}

// DefaultAgentWindow covers an agent's long poll (about a minute) with room to spare.
const DefaultAgentWindow = 2 * time.Minute

// Error types of the non-retryable failures, for callers that tell them apart.
const (
	ErrTypeNotFound = "NotFound"
	ErrTypeEnded    = "AllocationEnded"
	ErrTypeConfig   = "Config"
	ErrTypeInvalid  = "Invalid"
)

type ActivateAllocationInput struct {
	AllocationID string
	StartAt      time.Time
	EndAt        time.Time
}

type ActivateAllocationResult struct {
	StartAt   time.Time // as stored: a repeated call returns the first call's times
	EndAt     time.Time
	MachineID string
	TenantID  string
}

// ActivateAllocation turns the pending lease active with the workflow's start
// and end; repeating it returns what the first call stored.
func (a *Allocations) ActivateAllocation(ctx context.Context, in ActivateAllocationInput) (ActivateAllocationResult, error) {
	al, err := a.loadLive(ctx, in.AllocationID)
	if err != nil {
		return ActivateAllocationResult{}, err
	}
	start, end, err := a.Store.ActivateAllocation(ctx, in.AllocationID, in.StartAt, in.EndAt)
	if errors.Is(err, store.ErrNotFound) {
		return ActivateAllocationResult{}, temporal.NewNonRetryableApplicationError("the allocation has already ended", ErrTypeEnded, err)
	}
	if err != nil {
		return ActivateAllocationResult{}, fmt.Errorf("unable to activate the allocation: %w", err)
	}
	return ActivateAllocationResult{StartAt: start.UTC(), EndAt: end.UTC(), MachineID: al.MachineID, TenantID: al.TenantID}, nil
}

// Actor is who asked for a change, for the audit record the activity
// writes with it (so the change and its record commit together).
type Actor struct {
	UserID  string
	Name    string
	Role    string
	IP      string
	TraceID string
}

func (a Actor) audit(action string, detail map[string]any) *store.AuditLog {
	l := &store.AuditLog{Action: action, ActorName: a.Name, ActorRole: a.Role, IP: a.IP, TraceID: a.TraceID, Success: true, Detail: detail}
	if a.UserID != "" {
		l.ActorID = &a.UserID
	}
	return l
}

type ExtendAllocationInput struct {
	AllocationID string
	Months       int
	NewEnd       time.Time
	By           string
	Actor        Actor
}

type ExtendAllocationResult struct {
	EndAt      time.Time
	Months     int // total months of the lease, renewals included
	Extensions int
}

// ExtendAllocation moves the end of the active lease to NewEnd. A retry after
// the change was made finds the end already there and succeeds.
func (a *Allocations) ExtendAllocation(ctx context.Context, in ExtendAllocationInput) (ExtendAllocationResult, error) {
	if in.Months < 1 {
		return ExtendAllocationResult{}, temporal.NewNonRetryableApplicationError("months must be at least 1", ErrTypeInvalid, nil)
	}
	actor := in.Actor
	if actor.Name == "" {
		actor.Name = in.By
	}
	err := a.Store.ExtendAllocation(ctx, in.AllocationID, in.Months, in.NewEnd, actor.audit("allocation.extend", nil))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return ExtendAllocationResult{}, fmt.Errorf("unable to extend the allocation: %w", err)
	}
	al, gerr := a.Store.GetAllocation(ctx, in.AllocationID, 0)
	if errors.Is(gerr, store.ErrNotFound) {
		return ExtendAllocationResult{}, temporal.NewNonRetryableApplicationError("allocation not found", ErrTypeNotFound, gerr)
	}
	if gerr != nil {
		return ExtendAllocationResult{}, fmt.Errorf("unable to load the allocation: %w", gerr)
	}
	if err != nil { // nothing changed: either an earlier attempt did it, or the lease is over
		if al.Status != "active" || al.EndAt == nil || !al.EndAt.Equal(in.NewEnd) {
			return ExtendAllocationResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("the allocation is %s and cannot be extended", al.Status), ErrTypeEnded, err)
		}
	}
	return ExtendAllocationResult{EndAt: al.EndAt.UTC(), Months: al.Months, Extensions: al.Extensions}, nil
}

type NotifyExpiringInput struct {
	AllocationID string
	EndAt        time.Time // the end the notice is about
}

type NotifyExpiringResult struct {
	Skipped    bool   // the lease is no longer active: nothing sent
	BatchID    string // the notification batch (one per allocation and end)
	Owners     int    // in-app copies
	Recipients []Recipient
}

// noticeNamespace makes the batch ID of a notice a function of the allocation and its end.
var noticeNamespace = uuid.MustParse("6f1d3c1e-8a4b-4c55-9a8e-2d7f0b6a9c41")

// ExpiringNoticeBatchID is the notification batch of the "expiring" notice
// for one end of one allocation: a retried activity finds it and adds nothing.
func ExpiringNoticeBatchID(allocationID string, endAt time.Time) string {
	return uuid.NewSHA1(noticeNamespace, []byte("allocation-expiring:"+allocationID+":"+endAt.UTC().Format(time.RFC3339Nano))).String()
}

// NotifyAllocationExpiring tells the customer's owners (in-app; the workflow
// mails the Recipients) that the machine's lease ends at EndAt, and marks the
// allocation notified. Repeating it for the same end adds nothing.
func (a *Allocations) NotifyAllocationExpiring(ctx context.Context, in NotifyExpiringInput) (NotifyExpiringResult, error) {
	al, err := a.Store.GetAllocation(ctx, in.AllocationID, 0)
	if errors.Is(err, store.ErrNotFound) {
		return NotifyExpiringResult{}, temporal.NewNonRetryableApplicationError("allocation not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return NotifyExpiringResult{}, fmt.Errorf("unable to load the allocation: %w", err)
	}
	if al.Status != "active" {
		return NotifyExpiringResult{Skipped: true}, nil
	}
	owners, err := a.Store.TenantOwners(ctx, al.TenantID)
	if err != nil {
		return NotifyExpiringResult{}, fmt.Errorf("unable to list the customer's owners: %w", err)
	}
	res := NotifyExpiringResult{BatchID: ExpiringNoticeBatchID(al.ID, in.EndAt), Owners: len(owners)}
	ids := make([]string, 0, len(owners))
	for _, u := range owners {
		ids = append(ids, u.ID)
		if u.Email != "" {
			res.Recipients = append(res.Recipients, Recipient{UserID: u.ID, Email: u.Email, Name: u.Name})
		}
	}
	params := ExpiringNoticeParams(al.MachineName, al.GPUModel, al.GPUCount, in.EndAt)
	title, content := englishNotice(NoticeLeaseExpiring, params)
	b := &store.NotificationBatch{ID: res.BatchID, TenantID: al.TenantID, Title: title, Content: content,
		Code: NoticeLeaseExpiring, Params: params, Level: "warning",
		SendEmail: len(res.Recipients) > 0, SenderName: "system"}
	if _, err := a.Store.DeliverSystemNotice(ctx, b, ids); err != nil {
		return NotifyExpiringResult{}, fmt.Errorf("unable to record the expiring notice: %w", err)
	}
	if err := a.Store.MarkExpiringNotified(ctx, al.ID); err != nil {
		return NotifyExpiringResult{}, fmt.Errorf("unable to mark the allocation notified: %w", err)
	}
	return res, nil
}

// ExpiringNoticeParams are the figures of the notice of a lease about to
// end (NoticeLeaseExpiring); endAt is RFC 3339, the console formats it.
func ExpiringNoticeParams(machine, gpuModel string, gpuCount int, endAt time.Time) map[string]any {
	return map[string]any{"machine": machine, "gpuModel": gpuModel, "gpuCount": gpuCount,
		"endAt": endAt.UTC().Format(time.RFC3339)}
}

// HostAgentPresent tells whether an agent polls the machine's host task
// queue, i.e. whether host activities scheduled there will run.
func (a *Allocations) HostAgentPresent(ctx context.Context, machineID string) (bool, error) {
	if a.Client == nil {
		return false, temporal.NewNonRetryableApplicationError("no Temporal client configured", ErrTypeConfig, nil)
	}
	resp, err := a.Client.DescribeTaskQueue(ctx, HostTaskQueue(machineID), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		return false, fmt.Errorf("unable to describe the host task queue: %w", err)
	}
	window := a.AgentWindow
	if window <= 0 {
		window = DefaultAgentWindow
	}
	cutoff := time.Now().Add(-window)
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t != nil && t.AsTime().After(cutoff) {
			return true, nil
		}
	}
	return false, nil
}

type RotateMachinePasswordInput struct {
	MachineID string
}

type RotateMachinePasswordResult struct {
	SSHUser string // whose password the agent has to set
}

// RotateMachinePassword generates a new strong SSH password and stores it
// encrypted: the control plane's half of the rotation, which always happens.
// Applying it on the host is the agent's (HostSetSSHPassword). The password
// is not returned: it must not enter the workflow's history.
func (a *Allocations) RotateMachinePassword(ctx context.Context, in RotateMachinePasswordInput) (RotateMachinePasswordResult, error) {
	if a.Secrets == nil {
		return RotateMachinePasswordResult{}, temporal.NewNonRetryableApplicationError("no secrets key configured", ErrTypeConfig, nil)
	}
	m, err := a.Store.GetMachine(ctx, in.MachineID, 0)
	if errors.Is(err, store.ErrNotFound) {
		return RotateMachinePasswordResult{}, temporal.NewNonRetryableApplicationError("machine not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return RotateMachinePasswordResult{}, fmt.Errorf("unable to load the machine: %w", err)
	}
	enc, err := a.Secrets.Seal(auth.GeneratePassword())
	if err != nil {
		return RotateMachinePasswordResult{}, fmt.Errorf("unable to encrypt the new password: %w", err)
	}
	if err := a.Store.SetMachinePassword(ctx, in.MachineID, enc); err != nil {
		return RotateMachinePasswordResult{}, fmt.Errorf("unable to store the new password: %w", err)
	}
	return RotateMachinePasswordResult{SSHUser: m.SSHUser}, nil
}

type EndAllocationInput struct {
	AllocationID string
	MachineID    string
	Status       string // expired or reclaimed
	Reason       string
	By           string // actor name: "system" for an expiry
	HostSteps    []store.HostStep
	Actor        Actor // who reclaimed (empty for an expiry)
	// DecidedAt is when the end was decided: the lease ended then.
	DecidedAt time.Time
	// StartCleanup takes the machine out of service until the host
	// confirmed the end-of-lease steps (the LeaseCleanup workflow).
	StartCleanup bool
}

type EndAllocationResult struct {
	Status  string
	EndedAt time.Time
}

// EndAllocation closes the lease with what happened on the host and writes
// the audit entry (allocation.expire or allocation.reclaim_done) in the same
// transaction; a repeated call finds it closed and changes nothing.
func (a *Allocations) EndAllocation(ctx context.Context, in EndAllocationInput) (EndAllocationResult, error) {
	audit := &store.AuditLog{ActorName: in.By, Success: true, Detail: map[string]any{"machineId": in.MachineID, "reason": in.Reason}}
	if in.Actor.Name != "" {
		audit = in.Actor.audit("", audit.Detail)
	}
	switch in.Status {
	case "expired":
		audit.Action, audit.ActorRole = "allocation.expire", "system"
	case "reclaimed":
		audit.Action = "allocation.reclaim_done"
	default:
		return EndAllocationResult{}, temporal.NewNonRetryableApplicationError("unknown end status "+in.Status, ErrTypeInvalid, nil)
	}
	res, err := a.Store.EndAllocationWith(ctx, store.EndAllocationOptions{ID: in.AllocationID, Status: in.Status, Reason: in.Reason,
		ByName: in.By, Steps: in.HostSteps, Audit: audit, DecidedAt: in.DecidedAt, Cleanup: in.StartCleanup})
	if errors.Is(err, store.ErrNotFound) {
		return EndAllocationResult{}, temporal.NewNonRetryableApplicationError("allocation not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return EndAllocationResult{}, fmt.Errorf("unable to end the allocation: %w", err)
	}
	stopLeaseTasks(ctx, a.Client, res.StoppedTasks)
	return EndAllocationResult{Status: res.Status, EndedAt: res.EndedAt.UTC()}, nil
}

// loadLive returns the allocation while it is pending or active.
func (a *Allocations) loadLive(ctx context.Context, id string) (*store.Allocation, error) {
	al, err := a.Store.GetAllocation(ctx, id, 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("allocation not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to load the allocation: %w", err)
	}
	if al.Status != "pending" && al.Status != "active" {
		return nil, temporal.NewNonRetryableApplicationError("the allocation has already ended ("+al.Status+")", ErrTypeEnded, nil)
	}
	return al, nil
}
