package hostchan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// Temporal is the part of the Temporal client the api needs to answer for
// asynchronously completed activities (client.Client).
type Temporal interface {
	CompleteActivity(ctx context.Context, taskToken []byte, result any, err error) error
	RecordActivityHeartbeat(ctx context.Context, taskToken []byte, details ...any) error
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Service answers the agents (the api side of the channel).
type Service struct {
	Store    *store.Store
	Secrets  *secrets.Box
	Temporal Temporal

	waiters waiters
	// progressHooks by command kind (OnProgress).
	progressHooks map[string]ProgressHook
}

// ProgressHook is handed the progress of a heartbeat of a command of its
// kind, with the command's arguments, once the heartbeat is taken. Its
// error is logged; the heartbeat stands.
type ProgressHook func(ctx context.Context, machineID string, args, progress json.RawMessage) error

// OnProgress sets the hook of a kind's heartbeats; call it before serving.
func (s *Service) OnProgress(kind string, h ProgressHook) {
	if s.progressHooks == nil {
		s.progressHooks = map[string]ProgressHook{}
	}
	s.progressHooks[kind] = h
}

// progressed records a taken heartbeat and hands its progress to the kind's hook.
func (s *Service) progressed(ctx context.Context, cmd *store.HostCommand, progress json.RawMessage) error {
	if err := s.Store.HeartbeatHostCommand(ctx, cmd.ID, progress); err != nil {
		return err
	}
	if h := s.progressHooks[cmd.Kind]; h != nil && len(progress) > 0 {
		if err := h(ctx, cmd.MachineID, cmd.Args, progress); err != nil {
			slog.WarnContext(ctx, "unable to take a host command's progress", "command", cmd.ID, "kind", cmd.Kind, "machine", cmd.MachineID, "err", err)
		}
	}
	return nil
}

// Start listens for new commands and for agent key changes (then
// keysChanged is called with the machine, or with "" when changes may have
// been missed). The api calls it once; without it the first poll starts
// the listening, and key changes go unnoticed.
func (s *Service) Start(keysChanged func(machineID string)) {
	s.waiters.keysChanged = keysChanged
	s.waiters.start(s.Store)
}

// Caller is an authenticated agent: the machine comes from its token, never
// from what it sends.
type Caller struct {
	MachineID string
	// PendingKey: the call carried the new key of a rotation not confirmed yet.
	PendingKey bool
	IP         string
	TraceID    string
}

// MaxWait bounds a long poll.
const MaxWait = 60 * time.Second

// Poll returns the caller's open commands that it is not running, waiting up
// to wait for one to come. Commands whose activity is no longer awaited
// (the workflow ended or cancelled it) are closed instead of delivered.
func (s *Service) Poll(ctx context.Context, c Caller, running []string, wait time.Duration) ([]agentproto.Command, error) {
	wait = min(max(wait, 0), MaxWait)
	deadline := time.Now().Add(wait)
	for {
		woken := s.waiters.watch(s.Store, c.MachineID) // before the query, so no notification is missed
		list, err := s.Store.DeliverHostCommands(ctx, c.MachineID, running)
		if err != nil {
			return nil, err
		}
		out := make([]agentproto.Command, 0, len(list))
		for i := range list {
			cmd := &list[i]
			if !s.awaited(ctx, cmd) {
				continue
			}
			out = append(out, agentproto.Command{ID: cmd.ID, Kind: cmd.Kind, Args: cmd.Args, HasSecret: cmd.HasSecret && cmd.SecretFetchedAt == nil,
				HeartbeatSeconds: cmd.HeartbeatS, Serial: cmd.Serial})
		}
		left := time.Until(deadline)
		if len(out) > 0 || left <= 0 {
			return out, nil
		}
		t := time.NewTimer(left)
		select {
		case <-woken:
			t.Stop()
		case <-t.C:
			return out, nil
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// awaited heartbeats the command's activity once before handing it out:
// that tells whether the workflow still waits for it, and starts the
// heartbeat timeout's clock. When Temporal cannot be asked, the command is
// delivered: its result settles it either way.
func (s *Service) awaited(ctx context.Context, cmd *store.HostCommand) bool {
	if s.Temporal == nil {
		return true
	}
	err := s.Temporal.RecordActivityHeartbeat(ctx, cmd.TaskToken)
	if !gone(err) && !cancelled(err) {
		if err != nil {
			slog.WarnContext(ctx, "unable to check a host command's activity; delivering it", "command", cmd.ID, "err", err)
		}
		return true
	}
	if gone(err) && s.workflowRunning(ctx, cmd) {
		return false // between two attempts: the next one takes the command over and it comes again
	}
	if err := s.Store.SettleHostCommand(ctx, cmd.ID); err != nil {
		slog.WarnContext(ctx, "unable to close a host command no longer awaited", "command", cmd.ID, "err", err)
	}
	return false
}

// workflowRunning tells whether the command's workflow run still runs: an
// activity attempt that timed out is gone while its workflow waits for the
// next one, which takes the command over with the same secret. Closing the
// command then would hand the next attempt a new secret while the host may
// hold the old one (a new agent key it already switched to).
func (s *Service) workflowRunning(ctx context.Context, cmd *store.HostCommand) bool {
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, cmd.WorkflowID, cmd.RunID)
	if err != nil {
		return !gone(err) // cannot tell: keep the command
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// Secret hands out the secret of one of the caller's open commands, once;
// the hand-out is audited (no audit record, no secret). Every other request
// (another machine's command, a second fetch, a finished command, a command
// without a secret) is refused and audited.
func (s *Service) Secret(ctx context.Context, c Caller, id string) (string, error) {
	var plain string
	var refusal error
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		cmd, err := store.New(tx).GetHostCommand(ctx, c.MachineID, id, true)
		if errors.Is(err, store.ErrNotFound) {
			refusal = notFound()
			return refusal
		}
		if err != nil {
			return err
		}
		sealed, err := store.New(tx).TakeHostCommandSecret(ctx, c.MachineID, id)
		if errors.Is(err, store.ErrSecretUnavailable) {
			refusal = apperr.ForbiddenErr("machines.hostCommand.noSecret", "this command has no secret to hand out (none, already fetched, or the command ended)")
			return refusal
		}
		if err != nil {
			return err
		}
		if plain, err = s.Secrets.Open(sealed); err != nil {
			return fmt.Errorf("unable to open the command's secret: %w", err)
		}
		return s.audit(ctx, tx, c, "agent.command_secret", id, true, map[string]any{"kind": cmd.Kind})
	})
	if refusal != nil {
		return "", s.refuse(ctx, c, "secret", id, refusal)
	}
	return plain, err
}

// Heartbeat relays the agent's progress on one of its commands to the
// activity, and tells the agent to stop when the workflow cancelled the
// command or no longer waits for it.
func (s *Service) Heartbeat(ctx context.Context, c Caller, id string, progress json.RawMessage) (bool, error) {
	cmd, err := s.Store.GetHostCommand(ctx, c.MachineID, id, false)
	if errors.Is(err, store.ErrNotFound) {
		return false, s.refuse(ctx, c, "heartbeat", id, notFound())
	}
	if err != nil {
		return false, err
	}
	if !cmd.Open() {
		return true, nil // it ended: nothing is waiting for more work on it
	}
	if s.Temporal == nil {
		return false, unavailable(errors.New("no Temporal client"))
	}
	var details []any
	if len(progress) > 0 {
		details = append(details, progress)
	}
	err = s.Temporal.RecordActivityHeartbeat(ctx, cmd.TaskToken, details...)
	switch {
	case gone(err) && s.workflowRunning(ctx, cmd):
		// Between two attempts: keep working, the result completes the next one.
		return false, s.progressed(ctx, cmd, progress)
	case gone(err):
		if err := s.Store.SettleHostCommand(ctx, cmd.ID); err != nil {
			return false, err
		}
		return true, nil
	case cancelled(err):
		return true, nil
	case err != nil:
		return false, unavailable(err)
	}
	return false, s.progressed(ctx, cmd, progress)
}

// Finish records the host's answer to one of the caller's commands, with
// what it means for the platform's records in the same transaction (a
// password the host applied becomes the machine's password, a key the agent
// switched to becomes its key), then completes the activity. A report for a
// command whose answer already reached the workflow is refused.
func (s *Service) Finish(ctx context.Context, c Caller, id string, r agentproto.ResultRequest) error {
	var cmd *store.HostCommand
	var refusal error
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		cmd, err = store.New(tx).GetHostCommand(ctx, c.MachineID, id, true)
		if errors.Is(err, store.ErrNotFound) {
			refusal = notFound()
			return refusal
		}
		if err != nil {
			return err
		}
		if !cmd.Open() {
			if cmd.Settled {
				refusal = apperr.ConflictErr("machines.hostCommand.completed", "this command has already been completed")
				return refusal
			}
			return nil // reported before, but the workflow did not get it yet: deliver it again below
		}
		status, msg, typ, permanent := r.Status, "", "", false
		if r.Error != nil {
			msg, typ, permanent = r.Error.Message, r.Error.Type, r.Error.Permanent
		}
		if status == agentproto.ResultFailed && msg == "" {
			msg = "the host reported a failure without a message"
		}
		if err := s.effects(ctx, tx, c, cmd, r.Result, &status, &msg, &typ, &permanent); err != nil {
			return err
		}
		result := r.Result
		if status != agentproto.ResultSucceeded {
			result = nil
		}
		if err := store.New(tx).FinishHostCommand(ctx, cmd.ID, status, result, msg, typ, permanent); err != nil {
			return err
		}
		cmd.Status, cmd.Result, cmd.Error, cmd.ErrorType, cmd.ErrorPermanent = status, result, msg, typ, permanent
		return nil
	})
	if refusal != nil {
		return s.refuse(ctx, c, "result", id, refusal)
	}
	if err != nil {
		return err
	}
	return s.settle(ctx, cmd)
}

// effects applies what a finished command means for the records. It may
// turn a success into a failure (a key rotation reported with the old key).
func (s *Service) effects(ctx context.Context, tx pgx.Tx, c Caller, cmd *store.HostCommand, result json.RawMessage, status, msg, typ *string,
	permanent *bool) error {
	ok := *status == agentproto.ResultSucceeded
	switch cmd.Kind {
	case agentproto.KindDatasetImport:
		// the workflow gets the object the api stored, never one the host names
		if ok && !importMatches(cmd, result) {
			*status, *msg, *typ, *permanent = agentproto.ResultFailed, "the host reported another import than the one the api stored", "ImportMismatch", true
		}
		return nil
	case agentproto.KindSetPassword:
		if !ok {
			return nil
		}
		sealed, err := store.New(tx).HostCommandSecret(ctx, cmd.ID)
		if err != nil {
			return err
		}
		if sealed == nil {
			*status, *msg, *typ = agentproto.ResultFailed, "the command had no password", "NoSecret"
			return nil
		}
		if err := store.New(tx).SetMachinePassword(ctx, cmd.MachineID, sealed); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, "machine.password_applied", cmd.ID, true, map[string]any{"workflowId": cmd.WorkflowID})
	case agentproto.KindRotateAgentKey:
		if ok && !c.PendingKey {
			*status, *msg, *typ = agentproto.ResultFailed, "the agent reported the rotation with its old key: it did not switch to the new one", "KeyNotSwitched"
			ok = false
		}
		if !ok {
			return store.New(tx).DropPendingAgentKey(ctx, cmd.MachineID)
		}
		if err := store.New(tx).PromotePendingAgentKey(ctx, cmd.MachineID); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, "machine.agent_key_rotated", cmd.ID, true, map[string]any{"workflowId": cmd.WorkflowID})
	case agentproto.KindSyncSSHKeys:
		if !ok {
			return nil
		}
		var args struct {
			AllocationID string `json:"allocationId"`
			Version      int64  `json:"version"`
		}
		if err := json.Unmarshal(cmd.Args, &args); err != nil || args.AllocationID == "" {
			return nil
		}
		return store.New(tx).SetAllocationKeysVersion(ctx, args.AllocationID, args.Version)
	}
	return nil
}

// importMatches: the host's result of a dataset_import names the one
// object the api stores that command's upload at. It is derived from the
// command, never read from its progress, which the host's heartbeats write.
// The activity then reads the object's size from the store itself.
func importMatches(cmd *store.HostCommand, result json.RawMessage) bool {
	var args agentproto.DatasetImportArgs
	var got agentproto.DatasetImportResult
	if json.Unmarshal(cmd.Args, &args) != nil || json.Unmarshal(result, &got) != nil || args.DatasetID == "" {
		return false
	}
	return got.ObjectKey == agentproto.DatasetImportObjectKey(args.DatasetID, cmd.ID)
}

// settle hands the recorded answer to the workflow. An activity that no
// longer exists (timed out, its workflow ended) counts as settled: its
// next attempt, if any, finds the answer in the row.
func (s *Service) settle(ctx context.Context, cmd *store.HostCommand) error {
	if s.Temporal == nil {
		return unavailable(errors.New("no Temporal client"))
	}
	var err error
	switch cmd.Status {
	case agentproto.ResultSucceeded:
		result := any(nil)
		if len(cmd.Result) > 0 {
			result = cmd.Result
		}
		err = s.Temporal.CompleteActivity(ctx, cmd.TaskToken, result, nil)
	case agentproto.ResultCancelled:
		err = s.Temporal.CompleteActivity(ctx, cmd.TaskToken, nil, temporal.NewCanceledError("cancelled on the host"))
	default:
		typ := cmd.ErrorType
		if typ == "" {
			typ = "HostCommandFailed"
		}
		err = s.Temporal.CompleteActivity(ctx, cmd.TaskToken, nil, temporal.NewApplicationErrorWithOptions(cmd.Error, typ,
			temporal.ApplicationErrorOptions{NonRetryable: cmd.ErrorPermanent}))
	}
	if err != nil && !gone(err) {
		// The answer is kept; the agent reports again (or the next attempt finds it).
		return unavailable(err)
	}
	return s.Store.SettleHostCommand(ctx, cmd.ID)
}

// refuse audits a refused request and returns its error; when the audit
// record cannot be written the request fails all the same.
func (s *Service) refuse(ctx context.Context, c Caller, op, id string, refusal error) error {
	e, _ := apperr.As(refusal)
	if err := s.audit(ctx, s.Store.Pool, c, "agent.command_refused", id, false, map[string]any{"operation": op, "reason": e.Message}); err != nil {
		slog.ErrorContext(ctx, "unable to audit a refused agent request", "err", err)
	}
	slog.WarnContext(ctx, "agent request refused", "machine", c.MachineID, "operation", op, "command", id, "ip", c.IP, "reason", e.Message)
	return refusal
}

func (s *Service) audit(ctx context.Context, db store.DBTX, c Caller, action, commandID string, success bool, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["commandId"] = commandID
	return store.New(db).InsertAudit(ctx, &store.AuditLog{ActorName: "agent", ActorRole: "agent", Action: action, TargetType: "machine",
		TargetID: c.MachineID, Success: success, IP: c.IP, TraceID: c.TraceID, Detail: detail})
}

func notFound() error {
	return apperr.NotFoundErr("machines.hostCommand.notFound", "no such command for this machine")
}

func unavailable(err error) error {
	slog.Warn("Temporal unavailable for a host command", "err", err)
	return apperr.UnavailableErr(apperr.CodeWorkflowDown, "the workflow service is unavailable; report again")
}

// gone: the activity attempt the token names no longer exists.
func gone(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func cancelled(err error) bool {
	var ce *temporal.CanceledError
	return errors.As(err, &ce)
}
