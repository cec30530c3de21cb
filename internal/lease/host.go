package lease

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// PasswordReset is the latest password reset of a machine.
type PasswordReset struct {
	Status      string     `json:"status" enum:"none,pending,applied,failed" doc:"pending: waiting for the host agent; applied: the host confirmed it (reveal the password to see it); failed: the host could not apply it"`
	User        string     `json:"user" doc:"The login account"`
	RequestedAt *time.Time `json:"requestedAt"`
	AppliedAt   *time.Time `json:"appliedAt"`
	Error       string     `json:"error" doc:"What the host reported, when it failed (a pending reset is tried again)"`
	Simulated   bool       `json:"simulated" doc:"The agent runs with simulated host operations (a demo machine): it acknowledged the password without setting it anywhere"`
}

// ResetWait is how long a reset request waits for a connected agent to
// apply the password before answering "pending".
const ResetWait = 3 * time.Second

// ResetPassword sets a new generated SSH password on the host through its
// agent (the MachinePassword workflow), audited before it is sent. A newer
// reset replaces one still waiting for the host. It waits briefly for the
// host and answers the reset as it stands.
func (s *Service) ResetPassword(ctx context.Context, machineID string) (*PasswordReset, error) {
	m, err := s.GetMachine(ctx, machineID)
	if err != nil {
		return nil, err
	}
	entry := audit.Entry{Action: "machine.reset_password", TargetType: "machine", TargetID: m.ID, Success: true,
		Detail: map[string]any{"machine": m.Name, "user": m.SSHUser}}
	if err := audit.Record(ctx, s.Store.Pool, entry); err != nil {
		return nil, err
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.MachinePasswordWorkflowID(m.ID),
		TaskQueue: s.Config.TemporalTaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE},
		workflows.MachinePassword, workflows.MachinePasswordInput{MachineID: m.ID})
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the password reset", "machine", m.ID, "err", err)
		// the request was recorded before it was sent: record that it did not happen
		entry.Success, entry.Detail = false, map[string]any{"machine": m.Name, "user": m.SSHUser, "error": "the workflow service is unavailable"}
		_ = audit.Record(ctx, s.Store.Pool, entry)
		return nil, errWorkflowDown()
	}
	wctx, cancel := context.WithTimeout(ctx, ResetWait)
	defer cancel()
	_ = run.Get(wctx, nil) // a connected agent answers in well under a second
	return s.resetStatus(ctx, m)
}

// PasswordResetStatus is a machine's latest password reset.
func (s *Service) PasswordResetStatus(ctx context.Context, machineID string) (*PasswordReset, error) {
	m, err := s.GetMachine(ctx, machineID)
	if err != nil {
		return nil, err
	}
	return s.resetStatus(ctx, m)
}

// resetStatus reads the latest reset from its workflow and its host command.
func (s *Service) resetStatus(ctx context.Context, m *store.Machine) (*PasswordReset, error) {
	id := workflows.MachinePasswordWorkflowID(m.ID)
	r := &PasswordReset{Status: "none", User: m.SSHUser}
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return r, nil
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to describe the password reset", "machine", m.ID, "err", err)
		return nil, errWorkflowDown()
	}
	info := d.GetWorkflowExecutionInfo()
	if t := info.GetStartTime(); t != nil {
		at := t.AsTime()
		r.RequestedAt = &at
	}
	cmd, err := s.Store.RunHostCommand(ctx, id, info.GetExecution().GetRunId())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	switch {
	case cmd != nil && cmd.Status == agentproto.ResultSucceeded:
		r.Status, r.AppliedAt = "applied", cmd.FinishedAt
		var res agentproto.SetPasswordResult
		if json.Unmarshal(cmd.Result, &res) == nil {
			r.Simulated = res.Simulated
		}
	case running:
		r.Status = "pending"
		if cmd != nil {
			r.Error = cmd.Error // the last failure, tried again
		}
	default:
		r.Status = "failed"
		switch {
		case cmd != nil && cmd.Error != "":
			r.Error = cmd.Error
		case info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
			r.Error = "replaced by a newer reset"
		default:
			r.Error = "the host did not apply it in time (" + strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")) + ")"
		}
	}
	return r, nil
}

// MarkReinstalledInput ends a machine's unfinished lease cleanup because
// its host was reinstalled.
type MarkReinstalledInput struct {
	MachineID string
	Note      string
}

// MarkReinstalled tells the machine's LeaseCleanup workflow that the host
// was reinstalled: the steps left are skipped and the agent's keys revoked
// (audited by the workflow's activity, in the same transaction).
func (s *Service) MarkReinstalled(ctx context.Context, in MarkReinstalledInput) (*store.Machine, error) {
	m, err := s.GetMachine(ctx, in.MachineID)
	if err != nil {
		return nil, err
	}
	if m.Cleanup == nil {
		return nil, apperr.ConflictErr("lease.noCleanup", "machine {machine} has no unfinished lease cleanup", apperr.P{"machine": m.Name})
	}
	handle, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.LeaseCleanupWorkflowID(m.Cleanup.AllocationID), UpdateName: workflows.LeaseCleanupReinstalledUpdate,
		UpdateID: "reinstalled", Args: []any{workflows.ReinstalledRequest{Actor: actor(ctx), Note: strings.TrimSpace(in.Note)}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = handle.Get(ctx, nil)
	}
	var nf *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &nf):
		return nil, apperr.UnavailableErr("lease.cleanupRestarting", "the cleanup is being restarted; try again in a minute")
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeCleanupFinished:
		return nil, apperr.ConflictErr("lease.cleanupFinished", "the cleanup has already finished")
	case err != nil:
		slog.ErrorContext(ctx, "unable to mark the machine reinstalled", "machine", m.ID, "err", err)
		return nil, errWorkflowDown()
	}
	return s.GetMachine(ctx, in.MachineID)
}

// CustomerMachine is a machine leased to the caller's tenant (checked in SQL).
func (s *Service) CustomerMachine(ctx context.Context, id string) (*store.Machine, error) {
	m, err := s.Store.GetTenantMachine(ctx, caller.From(ctx).TenantID, id, s.expiring())
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundErr("machines.notYours", "machine not found")
	}
	return m, err
}

// RevealCustomerPassword reveals the SSH password of a machine leased to the caller's tenant, audited.
func (s *Service) RevealCustomerPassword(ctx context.Context, id string) (*RevealedPassword, error) {
	m, err := s.CustomerMachine(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.RevealPassword(ctx, m)
}

// RecordConnection records that a customer copied a machine's connection
// command (the connection history reads it from the audit log).
func (s *Service) RecordConnection(ctx context.Context, id string) error {
	m, err := s.CustomerMachine(ctx, id)
	if err != nil {
		return err
	}
	return audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "machine.copy_ssh_command", TargetType: "machine", TargetID: m.ID, Success: true,
		Detail: map[string]any{"machine": m.Name, "command": fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort)}})
}
