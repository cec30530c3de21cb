// Package reconcile makes the database and the workflows agree. A request
// commits a row and then starts its workflow; a crash between the two
// leaves a row that nothing owns, and an operator may terminate a
// workflow whose row is still live. The Reconcile schedule finds both and
// repairs them; it is safe to run anywhere and any number of times, since
// workflow IDs are derived from the rows.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Reconciler is the activity behind workflows.Reconcile.
type Reconciler struct {
	Store     *store.Store
	Client    client.Client
	TaskQueue string
	// ExpiringNotice is how long before the end a restarted lease sends its notice.
	ExpiringNotice time.Duration
}

// Register registers the activity under the name the workflow calls.
func (r *Reconciler) Register(reg interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}) {
	reg.RegisterActivityWithOptions(r.Reconcile, activity.RegisterOptions{Name: activities.ReconcileActivity})
}

// keySyncsPerRun bounds the signals one run sends.
const keySyncsPerRun = 200

// Reconcile repairs what it finds; see the package comment.
func (r *Reconciler) Reconcile(ctx context.Context, in activities.ReconcileInput) (activities.ReconcileResult, error) {
	var res activities.ReconcileResult
	cutoff := time.Now().Add(-in.Grace)
	running, err := r.running(ctx, "Allocation")
	if err != nil {
		return res, err
	}
	leases, err := r.Store.LiveAllocationsBefore(ctx, cutoff)
	if err != nil {
		return res, fmt.Errorf("unable to list the live leases: %w", err)
	}
	for _, a := range leases {
		if running[workflows.AllocationWorkflowID(a.ID)] {
			continue
		}
		if err := r.allocation(ctx, a, &res); err != nil {
			return res, err
		}
	}

	running, err = r.running(ctx, "LeaseCleanup")
	if err != nil {
		return res, err
	}
	cleanups, err := r.Store.PendingCleanupsBefore(ctx, cutoff)
	if err != nil {
		return res, fmt.Errorf("unable to list the pending cleanups: %w", err)
	}
	for _, c := range cleanups {
		id := workflows.LeaseCleanupWorkflowID(c.AllocationID)
		if running[id] {
			continue
		}
		if status, err := r.status(ctx, id); err != nil {
			return res, err
		} else if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		_, err := r.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: r.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, workflows.LeaseCleanup,
			workflows.LeaseCleanupInput{AllocationID: c.AllocationID, MachineID: c.MachineID, TenantID: c.TenantID, EndedAt: c.EndedAt})
		if err != nil && !isAlreadyStarted(err) {
			return res, fmt.Errorf("unable to start the cleanup of %s: %w", c.AllocationID, err)
		}
		slog.InfoContext(ctx, "reconcile: started a missing lease cleanup", "allocation", c.AllocationID, "machine", c.MachineID)
		res.CleanupsStarted++
	}

	lagging, err := r.Store.LaggingKeySyncs(ctx, cutoff, keySyncsPerRun)
	if err != nil {
		return res, fmt.Errorf("unable to list the leases with old keys: %w", err)
	}
	for _, id := range lagging {
		err := r.Client.SignalWorkflow(ctx, workflows.AllocationWorkflowID(id), "", workflows.AllocationKeysChangedSignal, nil)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return res, fmt.Errorf("unable to signal the lease %s: %w", id, err)
		}
		res.KeySyncsSignalled++
	}
	if err := r.tasks(ctx, cutoff, &res); err != nil {
		return res, err
	}
	return res, nil
}

// tasks gives a live task without a running workflow a new run at its
// current attempt (a granted one finds its GPUs and its container again),
// and a deleted task its host cleanup.
func (r *Reconciler) tasks(ctx context.Context, cutoff time.Time, res *activities.ReconcileResult) error {
	running, err := r.running(ctx, "TaskRun")
	if err != nil {
		return err
	}
	live, err := r.Store.LiveTasksBefore(ctx, cutoff)
	if err != nil {
		return fmt.Errorf("unable to list the live tasks: %w", err)
	}
	for _, t := range live {
		id := workflows.TaskRunWorkflowID(t.ID)
		if running[id] {
			continue
		}
		if status, err := r.status(ctx, id); err != nil {
			return err
		} else if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		_, err := r.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: r.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, workflows.TaskRun,
			workflows.TaskRunInput{TaskID: t.ID, MachineID: t.MachineID, Attempt: t.Attempt, FirstAttempt: t.FirstAttempt,
				MaxAttempts: t.MaxAttempts, AutoRestart: t.AutoRestart, AnyMachine: t.AnyMachine})
		if err != nil && !isAlreadyStarted(err) {
			return fmt.Errorf("unable to start the workflow of task %s: %w", t.ID, err)
		}
		slog.InfoContext(ctx, "reconcile: started a missing task workflow", "task", t.ID, "attempt", t.Attempt)
		res.TasksStarted++
	}
	deleted, err := r.Store.DeletedTasksBefore(ctx, cutoff)
	if err != nil {
		return fmt.Errorf("unable to list the deleted tasks: %w", err)
	}
	for _, taskID := range deleted {
		id := workflows.TaskRemoveWorkflowID(taskID)
		if status, err := r.status(ctx, id); err != nil {
			return err
		} else if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		_, err := r.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: r.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, workflows.TaskRemove, workflows.TaskRemoveInput{TaskID: taskID})
		if err != nil && !isAlreadyStarted(err) {
			return fmt.Errorf("unable to start the removal of task %s: %w", taskID, err)
		}
		res.RemovalsStarted++
	}
	return nil
}

// allocation gives a live lease without a running workflow a new one.
func (r *Reconciler) allocation(ctx context.Context, a store.ReconcileAllocation, res *activities.ReconcileResult) error {
	id := workflows.AllocationWorkflowID(a.ID)
	status, err := r.status(ctx, id)
	if err != nil {
		return err
	}
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return nil // visibility lagged behind
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		if a.Status == "pending" {
			// It never activated and gave up: free the machine, as the api does when a start fails.
			if err := r.Store.EndAllocation(ctx, a.ID, "reclaimed", "the lease workflow failed before it started the lease", "system", nil); err != nil {
				return fmt.Errorf("unable to close the lease %s: %w", a.ID, err)
			}
			slog.WarnContext(ctx, "reconcile: closed a pending lease whose workflow failed", "allocation", a.ID)
			res.AllocationsClosed++
			return nil
		}
	}
	in := workflows.AllocationInput{AllocationID: a.ID, Months: a.Months, ExpiringNotice: r.ExpiringNotice}
	if a.Status == "active" && a.StartAt != nil && a.EndAt != nil {
		// Already active: carry on from the record, as a continued run does.
		in.StartAt, in.EndAt, in.Notified, in.Extensions, in.MachineID, in.TenantID =
			a.StartAt.UTC(), a.EndAt.UTC(), a.Notified, a.Extensions, a.MachineID, a.TenantID
	}
	_, err = r.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: r.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, workflows.Allocation, in)
	if err != nil && !isAlreadyStarted(err) {
		return fmt.Errorf("unable to start the workflow of lease %s: %w", a.ID, err)
	}
	slog.InfoContext(ctx, "reconcile: started a missing lease workflow", "allocation", a.ID, "status", a.Status, "previous", status.String())
	res.AllocationsStarted++
	return nil
}

// running lists the IDs of the running workflows of a type (Temporal's
// visibility may lag a little: a row not found here is checked directly).
func (r *Reconciler) running(ctx context.Context, workflowType string) (map[string]bool, error) {
	ids := map[string]bool{}
	var token []byte
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token,
			Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflowType)})
		if err != nil {
			return nil, fmt.Errorf("unable to list the running %s workflows: %w", workflowType, err)
		}
		for _, e := range resp.GetExecutions() {
			ids[e.GetExecution().GetWorkflowId()] = true
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// status is the status of the latest run of a workflow ID (UNSPECIFIED when there is none).
func (r *Reconciler) status(ctx context.Context, id string) (enumspb.WorkflowExecutionStatus, error) {
	d, err := r.Client.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to describe %s: %w", id, err)
	}
	return d.GetWorkflowExecutionInfo().GetStatus(), nil
}

func isAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}
