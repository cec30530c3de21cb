package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// TaskRemoveWorkflowID is the cleanup of one deleted task.
func TaskRemoveWorkflowID(taskID string) string { return "task-remove:" + taskID }

type TaskRemoveInput struct {
	TaskID string
}

// TaskRemoveHostWait bounds how long the cleanup waits for each host: a
// machine whose agent never returns keeps its directory, the rows go.
const TaskRemoveHostWait = 24 * time.Hour

// TaskRemove cleans up a deleted task: its containers and directory on each
// machine it ran on (through their agents), then its rows (attempts and
// logs with them).
func TaskRemove(ctx workflow.Context, in TaskRemoveInput) error {
	var a *activities.Tasks
	var h *activities.Host
	logger := workflow.GetLogger(ctx)
	var machines []string
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.TaskMachines, activities.TaskIDInput{TaskID: in.TaskID}).Get(ctx, &machines); err != nil {
		return fmt.Errorf("unable to list the task's machines: %w", err)
	}
	hctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: HostCommandTimeout, ScheduleToCloseTimeout: TaskRemoveHostWait,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute}})
	futures := make([]workflow.Future, len(machines))
	for i, m := range machines {
		futures[i] = workflow.ExecuteActivity(hctx, h.TaskRemove, activities.TaskRemoveInput{TaskID: in.TaskID, MachineID: m})
	}
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			logger.Warn("the host did not remove the task's files", "TaskID", in.TaskID, "MachineID", machines[i], "Error", err)
		}
	}
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.PurgeTask, activities.TaskIDInput{TaskID: in.TaskID}).Get(ctx, nil); err != nil {
		return fmt.Errorf("unable to delete the task's rows: %w", err)
	}
	return nil
}
