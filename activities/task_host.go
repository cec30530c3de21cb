package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/store"
)

// The host commands of a task's attempts (internal/agentproto/tasks.go),
// issued through the host channel like the other host activities. Start
// reads the spec from the database, so the customer's environment never
// enters a workflow history.

type TaskStartInput struct {
	TaskID  string
	Attempt int
}

// TaskStart creates and starts the attempt's container on the machine that
// granted its GPUs.
func (h *Host) TaskStart(ctx context.Context, in TaskStartInput) (agentproto.TaskStartResult, error) {
	t, err := h.Store.TaskRun(ctx, in.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return agentproto.TaskStartResult{}, temporal.NewNonRetryableApplicationError("task not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return agentproto.TaskStartResult{}, fmt.Errorf("unable to load the task: %w", err)
	}
	at, err := h.Store.TaskAttemptHost(ctx, in.TaskID, in.Attempt)
	if err != nil {
		return agentproto.TaskStartResult{}, fmt.Errorf("unable to load the attempt: %w", err)
	}
	env := make(map[string]string, len(t.Env))
	for _, e := range t.Env {
		env[e.Name] = e.Value
	}
	args := agentproto.TaskStartArgs{TaskID: t.TaskID, TenantID: t.TenantID, Attempt: in.Attempt, Image: t.Image, Command: t.Command,
		WorkDir: t.WorkDir, Env: env, GPUs: at.GPUs, CheckpointIntervalSeconds: t.CheckpointIntervalSeconds}
	if t.ServicePort != nil {
		args.ServicePort = *t.ServicePort
	}
	binds, err := h.Store.TaskBinds(ctx, in.TaskID)
	if err != nil {
		return agentproto.TaskStartResult{}, fmt.Errorf("unable to load the task's datasets: %w", err)
	}
	for _, b := range binds {
		args.Datasets = append(args.Datasets, agentproto.TaskDataset{HostPath: b.HostPath, ContainerPath: b.ContainerPath})
	}
	return hostResult[agentproto.TaskStartResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: at.MachineID, Kind: agentproto.KindTaskStart, Args: args}))
}

type TaskHostInput struct {
	TaskID    string
	Attempt   int
	MachineID string
	// GraceSeconds (TaskStop): how long the container has between SIGTERM and SIGKILL.
	GraceSeconds int
}

// TaskWait holds until the attempt's container exits; the agent heartbeats
// meanwhile (with its service's health, for a task with a service port),
// and a host that stops heartbeating is lost.
func (h *Host) TaskWait(ctx context.Context, in TaskHostInput) (agentproto.TaskWaitResult, error) {
	args := agentproto.TaskWaitArgs{TaskID: in.TaskID, Attempt: in.Attempt}
	t, err := h.Store.TaskRun(ctx, in.TaskID)
	switch {
	case err == nil && t.ServicePort != nil:
		args.ServicePort = *t.ServicePort
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return agentproto.TaskWaitResult{}, fmt.Errorf("unable to load the task: %w", err)
	}
	return hostResult[agentproto.TaskWaitResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindTaskWait, Args: args}))
}

// TaskStop stops the attempt's container (SIGTERM, then SIGKILL after the grace).
func (h *Host) TaskStop(ctx context.Context, in TaskHostInput) (agentproto.TaskStopResult, error) {
	return hostResult[agentproto.TaskStopResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindTaskStop,
		Args: agentproto.TaskStopArgs{TaskID: in.TaskID, Attempt: in.Attempt, GraceSeconds: in.GraceSeconds}}))
}

type TaskOutputsInput struct {
	TaskID    string
	MachineID string
	Dir       string
}

// TaskOutputs lists files under the task's output directory on the host.
func (h *Host) TaskOutputs(ctx context.Context, in TaskOutputsInput) (agentproto.TaskOutputsResult, error) {
	return hostResult[agentproto.TaskOutputsResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindTaskOutputs,
		Args: agentproto.TaskOutputsArgs{TaskID: in.TaskID, Dir: in.Dir}}))
}

type TaskRemoveInput struct {
	TaskID    string
	MachineID string
}

// TaskRemove removes the task's containers and its directory on the host.
func (h *Host) TaskRemove(ctx context.Context, in TaskRemoveInput) (agentproto.TaskRemoveResult, error) {
	return hostResult[agentproto.TaskRemoveResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindTaskRemove,
		Args: agentproto.TaskRemoveArgs{TaskID: in.TaskID}}))
}

type TaskOutputFetchInput struct {
	TaskID    string
	MachineID string
	Path      string
}

// TaskOutputFetch has the host upload one output file to the api (which
// stores it in the object store) and returns its size and ETag.
func (h *Host) TaskOutputFetch(ctx context.Context, in TaskOutputFetchInput) (agentproto.TaskOutputFetchResult, error) {
	return hostResult[agentproto.TaskOutputFetchResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindTaskOutputFetch,
		Args: agentproto.TaskOutputFetchArgs{TaskID: in.TaskID, Path: in.Path}}))
}
