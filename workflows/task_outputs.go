package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// TaskOutputsWait bounds how long a listing waits for the agent.
const TaskOutputsWait = 10 * time.Second

type TaskOutputsInput struct {
	TaskID    string
	MachineID string
	Dir       string
}

// TaskOutputs asks the machine's agent for the files under a task's output
// directory and returns its answer; it gives up after TaskOutputsWait (the
// api answers 503 then).
func TaskOutputs(ctx workflow.Context, in TaskOutputsInput) (agentproto.TaskOutputsResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: TaskOutputsWait,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	var h *activities.Host
	var res agentproto.TaskOutputsResult
	if err := workflow.ExecuteActivity(ctx, h.TaskOutputs, activities.TaskOutputsInput{TaskID: in.TaskID, MachineID: in.MachineID, Dir: in.Dir}).
		Get(ctx, &res); err != nil {
		return res, fmt.Errorf("the host did not list the outputs: %w", err)
	}
	return res, nil
}

// TaskOutputFetchWait bounds how long a download waits for the agent's upload.
const TaskOutputFetchWait = 60 * time.Second

type TaskOutputFetchInput struct {
	TaskID    string
	MachineID string
	Path      string
}

// TaskOutputFetch has the machine's agent upload one output file (the api
// stores it in the object store) and returns its size and ETag; it gives up
// after TaskOutputFetchWait.
func TaskOutputFetch(ctx workflow.Context, in TaskOutputFetchInput) (agentproto.TaskOutputFetchResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: TaskOutputFetchWait,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	var h *activities.Host
	var res agentproto.TaskOutputFetchResult
	if err := workflow.ExecuteActivity(ctx, h.TaskOutputFetch, activities.TaskOutputFetchInput(in)).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("the host did not upload the file: %w", err)
	}
	return res, nil
}
