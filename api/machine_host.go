package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// machineHostHandler is what the admin has done on a machine's host through
// its agent: the password reset (重置密码), which counts only once the host
// applied it, and ending a lease cleanup by reinstalling the host.
type machineHostHandler struct{ s *Server }

// PasswordReset is the latest password reset of a machine.
type PasswordReset struct {
	Status      string     `json:"status" enum:"none,pending,applied,failed" doc:"pending: waiting for the host agent; applied: the host confirmed it (reveal the password to see it); failed: the host could not apply it"`
	User        string     `json:"user" doc:"The login account"`
	RequestedAt *time.Time `json:"requestedAt"`
	AppliedAt   *time.Time `json:"appliedAt"`
	Error       string     `json:"error" doc:"What the host reported, when it failed (a pending reset is tried again)"`
	Simulated   bool       `json:"simulated" doc:"The agent runs with simulated host operations (a demo machine): it acknowledged the password without setting it anywhere"`
}

type ReinstalledInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *struct {
		Note string `json:"note,omitempty" maxLength:"500"`
	}
}

// resetWait is how long the reset request waits for a connected agent to
// apply the password before answering "pending".
const resetWait = 3 * time.Second

func (h *machineHostHandler) register(api huma.API) {
	const tag = "machines"
	op := operation(http.MethodPost, "/api/admin/machines/{id}/reset-password", "reset-machine-password", tag,
		"Set a new generated SSH password on the host through its agent (audited). 202: the answer says whether the host applied it yet; "+
			"the machine's password changes only once it did", roleAdmin, http.StatusNotFound, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusAccepted
	huma.Register(api, op, h.resetPassword)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/password-reset", "get-machine-password-reset", tag,
		"The latest password reset and whether the host applied it", roleAdmin, http.StatusNotFound, http.StatusServiceUnavailable), h.passwordReset)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/reinstalled", "mark-machine-reinstalled", tag,
		"End an unfinished lease cleanup because the host was reinstalled (audited): the steps left are skipped, the agent's keys revoked; "+
			"the machine is offline until its agent registers again with a new bootstrap token", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable), h.reinstalled)
}

func (h *machineHostHandler) resetPassword(ctx context.Context, in *MachineIDInput) (*Resp[PasswordReset], error) {
	s := h.s
	m, err := s.Store.GetMachine(ctx, in.ID, s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	if err := s.audit(ctx, nil, auditEntry{Action: "machine.reset_password", TargetType: "machine", TargetID: m.ID, Success: true,
		Detail: map[string]any{"machine": m.Name, "user": m.SSHUser}}); err != nil {
		return nil, err
	}
	// A newer reset replaces one still waiting for the host.
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.MachinePasswordWorkflowID(m.ID),
		TaskQueue: s.Config.TemporalTaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE},
		workflows.MachinePassword, workflows.MachinePasswordInput{MachineID: m.ID})
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the password reset", "machine", m.ID, "err", err)
		// the request was recorded before it was sent: record that it did not happen
		_ = s.audit(ctx, nil, auditEntry{Action: "machine.reset_password", TargetType: "machine", TargetID: m.ID,
			Detail: map[string]any{"machine": m.Name, "user": m.SSHUser, "error": "the workflow service is unavailable"}})
		return nil, apperr.Newf(apperr.Unavailable, "工作流服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
	}
	wctx, cancel := context.WithTimeout(ctx, resetWait)
	defer cancel()
	_ = run.Get(wctx, nil) // a connected agent answers in well under a second
	r, err := h.status(ctx, m)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

func (h *machineHostHandler) passwordReset(ctx context.Context, in *MachineIDInput) (*Resp[PasswordReset], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	r, err := h.status(ctx, m)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

// status reads the latest reset from its workflow and its host command.
func (h *machineHostHandler) status(ctx context.Context, m *store.Machine) (*PasswordReset, error) {
	id := workflows.MachinePasswordWorkflowID(m.ID)
	r := &PasswordReset{Status: "none", User: m.SSHUser}
	d, err := h.s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return r, nil
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to describe the password reset", "machine", m.ID, "err", err)
		return nil, apperr.Newf(apperr.Unavailable, "工作流服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
	}
	info := d.GetWorkflowExecutionInfo()
	if t := info.GetStartTime(); t != nil {
		at := t.AsTime()
		r.RequestedAt = &at
	}
	cmd, err := h.s.Store.RunHostCommand(ctx, id, info.GetExecution().GetRunId())
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

func (h *machineHostHandler) reinstalled(ctx context.Context, in *ReinstalledInput) (*Resp[store.Machine], error) {
	s := h.s
	m, err := s.Store.GetMachine(ctx, in.ID, s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	if m.Cleanup == nil {
		return nil, apperr.Conflictf("机器 %s 没有未完成的租期清理 / machine %s has no unfinished lease cleanup", m.Name, m.Name)
	}
	note := ""
	if in.Body != nil {
		note = strings.TrimSpace(in.Body.Note)
	}
	handle, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.LeaseCleanupWorkflowID(m.Cleanup.AllocationID), UpdateName: workflows.LeaseCleanupReinstalledUpdate,
		UpdateID: "reinstalled", Args: []any{workflows.ReinstalledRequest{Actor: actorOf(ctx), Note: note}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = handle.Get(ctx, nil)
	}
	var nf *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &nf):
		return nil, apperr.Newf(apperr.Unavailable, "清理流程正在恢复，请一分钟后重试 / the cleanup is being restarted; try again in a minute")
	case errors.As(err, &appErr):
		return nil, apperr.Conflictf("%s", appErr.Message())
	case err != nil:
		slog.ErrorContext(ctx, "unable to mark the machine reinstalled", "machine", m.ID, "err", err)
		return nil, apperr.Newf(apperr.Unavailable, "工作流服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
	}
	m, err = s.Store.GetMachine(ctx, in.ID, s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *m)
}
