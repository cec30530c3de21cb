package tasks

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Stop asks the caller's task to stop: queued, it ends at once; running,
// its container gets SIGTERM and the grace period. The request is audited
// before it is sent.
func (s *Service) Stop(ctx context.Context, id string) (*store.Task, error) {
	return s.stop(ctx, customer(ctx), id, "task.stop", activities.StopRequest{Reason: activities.ReasonStoppedByUser, By: by(ctx)})
}

// AdminStop stops any customer's task with a reason the customer is told
// (the task's completion notice goes out whatever the task asked for).
func (s *Service) AdminStop(ctx context.Context, id, reason string) (*store.Task, error) {
	reason = strings.TrimSpace(reason)
	return s.stop(ctx, everyone, id, "task.admin_stop", activities.StopRequest{Reason: activities.ReasonStoppedByAdmin,
		Params: map[string]any{"reason": reason}, By: by(ctx)})
}

func (s *Service) stop(ctx context.Context, scope store.TaskScope, id, action string, req activities.StopRequest) (*store.Task, error) {
	t, err := s.get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if store.TaskEnded(t.Status) {
		return nil, apperr.ConflictErr("tasks.notStoppable", "the task has already ended ({status})", apperr.P{"status": t.Status})
	}
	entry := audit.Entry{Action: action, TargetType: "task", TargetID: t.ID, TenantID: t.TenantID, Success: true,
		Detail: map[string]any{"name": t.Name, "before": t.Status, "reason": req.Params["reason"]}}
	if err := audit.Record(ctx, s.Store.Pool, entry); err != nil {
		return nil, err
	}
	err = s.signalStop(ctx, t, req)
	if err != nil {
		entry.Success, entry.Detail["error"] = false, err.Error()
		_ = audit.Record(ctx, s.Store.Pool, entry)
		return nil, err
	}
	return s.get(ctx, scope, id)
}

// signalStop sends the stop to the task's workflow. A task that no
// workflow runs (it never started, or was ended from outside) is ended here.
func (s *Service) signalStop(ctx context.Context, t *store.Task, req activities.StopRequest) error {
	if s.Temporal == nil {
		return errWorkflowDown()
	}
	err := s.Temporal.SignalWorkflow(ctx, workflows.TaskRunWorkflowID(t.ID), "", workflows.TaskStopSignal, req)
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		_, err := s.Store.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: t.ID, Attempt: t.Attempt, Status: store.TaskStopped,
			Reason: req.Reason, Params: req.Params})
		return err
	}
	slog.ErrorContext(ctx, "unable to stop the task", "task", t.ID, "err", err)
	return errWorkflowDown()
}

// Restart runs a finished task again as its next attempt (a new run of its
// workflow; the earlier attempts stay), on the machine of its last attempt,
// which must still be leased to the caller's tenant.
func (s *Service) Restart(ctx context.Context, id string) (*store.Task, error) {
	t, err := s.get(ctx, customer(ctx), id)
	if err != nil {
		return nil, err
	}
	if !store.TaskEnded(t.Status) {
		return nil, apperr.ConflictErr("tasks.notFinished", "the task is {status}: only a finished task can run again", apperr.P{"status": t.Status})
	}
	if _, err := s.Store.GetTenantMachine(ctx, t.TenantID, t.MachineID, s.Expiring); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, apperr.ConflictErr("tasks.machineNotLeased", "machine {machine} is no longer leased to your company", apperr.P{"machine": t.MachineName})
		}
		return nil, err
	}
	run, err := s.Store.TaskRun(ctx, id)
	if err != nil {
		return nil, taskNotFound(err)
	}
	var before *store.TaskState
	var attempt int
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if before, err = store.New(tx).LockTaskState(ctx, id); err != nil {
			return err
		}
		if attempt, err = store.New(tx).RestartTask(ctx, id, t.MachineID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "task.restart", TargetType: "task", TargetID: id, Success: true,
			Detail: map[string]any{"name": t.Name, "before": before.Status, "attempt": attempt}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.ConflictErr("tasks.notFinished", "the task is {status}: only a finished task can run again", apperr.P{"status": "queued"})
	}
	if err != nil {
		return nil, err
	}
	spec := store.TaskSpec{MaxAttempts: run.MaxAttempts, AutoRestart: run.AutoRestart, AnyMachine: run.AnyMachine}
	// the finished run may still be sending its notice: the new run replaces it
	if err := s.startRun(ctx, id, t.MachineID, attempt, spec, enums.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING); err != nil {
		if uerr := s.Store.UndoRestart(ctx, id, before); uerr != nil {
			slog.ErrorContext(ctx, "unable to undo a re-run whose workflow did not start", "task", id, "err", uerr)
		}
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "task.restart", TargetType: "task", TargetID: id, Success: false,
			Detail: map[string]any{"name": t.Name, "error": "the workflow could not start"}})
		return nil, err
	}
	return s.get(ctx, customer(ctx), id)
}

// Delete removes a finished task: hidden at once (audited), then its
// workflow removes its containers and directory on the hosts and its rows
// (attempts and logs with them).
func (s *Service) Delete(ctx context.Context, id string) error {
	t, err := s.get(ctx, customer(ctx), id)
	if err != nil {
		return err
	}
	if !store.TaskEnded(t.Status) {
		return apperr.ConflictErr("tasks.running", "the task is {status}: stop it before deleting it", apperr.P{"status": t.Status})
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).MarkTaskDeleted(ctx, id, true); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "task.delete", TargetType: "task", TargetID: id, Success: true,
			Detail: map[string]any{"name": t.Name, "status": t.Status}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return apperr.ConflictErr("tasks.running", "the task is {status}: stop it before deleting it", apperr.P{"status": "running"})
	}
	if err != nil {
		return err
	}
	if s.Temporal == nil {
		err = errWorkflowDown()
	} else {
		_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.TaskRemoveWorkflowID(id), TaskQueue: s.TaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}, workflows.TaskRemove, workflows.TaskRemoveInput{TaskID: id})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			err = nil
		}
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the task's removal", "task", id, "err", err)
		_ = s.Store.MarkTaskDeleted(ctx, id, false)
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "task.delete", TargetType: "task", TargetID: id, Success: false,
			Detail: map[string]any{"name": t.Name, "error": "the workflow could not start"}})
		return errWorkflowDown()
	}
	return nil
}

// by names the caller for the records.
func by(ctx context.Context) string {
	p := caller.From(ctx)
	if p.Username != "" {
		return p.Username
	}
	return p.Name
}
