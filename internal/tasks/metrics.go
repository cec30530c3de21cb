package tasks

import (
	"context"
	"errors"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/workflows"
)

// metricsPoints bounds the points of each GPU's series.
const metricsPoints = 360

// Metrics are the task's own GPUs over its attempts' run times (each
// attempt's granted GPUs on its machine), from the host samples.
func (s *Service) Metrics(ctx context.Context, id string) (monitoring.GPUsOverTime, error) {
	t, err := s.get(ctx, customer(ctx), id)
	if err != nil {
		return monitoring.GPUsOverTime{}, err
	}
	attempts, err := s.Store.TaskAttempts(ctx, t.ID)
	if err != nil {
		return monitoring.GPUsOverTime{}, err
	}
	var ranges []monitoring.GPURange
	for _, a := range attempts {
		if a.StartedAt == nil || len(a.GPUs) == 0 {
			continue
		}
		r := monitoring.GPURange{MachineID: a.MachineID, From: *a.StartedAt, GPUs: a.GPUs}
		if a.FinishedAt != nil {
			r.To = *a.FinishedAt
		}
		ranges = append(ranges, r)
	}
	return s.Monitoring.GPUsOver(ctx, ranges, metricsPoints)
}

// OutputsInput lists a directory of a task's outputs.
type OutputsInput struct {
	TaskID string
	Dir    string // relative to the output directory
}

// Outputs lists files under the task's output directory, as the agent of
// its (last) machine answers within workflows.TaskOutputsWait; 503
// tasks.hostUnreachable otherwise.
func (s *Service) Outputs(ctx context.Context, in OutputsInput) (*agentproto.TaskOutputsResult, error) {
	t, err := s.get(ctx, customer(ctx), in.TaskID)
	if err != nil {
		return nil, err
	}
	dir := strings.TrimSpace(in.Dir)
	if dir != "" {
		clean := path.Clean(dir)
		if path.IsAbs(dir) || clean == ".." || strings.HasPrefix(clean, "../") || len(dir) > maxPathLen {
			return nil, apperr.New(apperr.Invalid, "tasks.outputsDirInvalid", "dir must be a path inside the output directory").AtField("query.dir")
		}
		if dir = clean; dir == "." {
			dir = ""
		}
	}
	if _, err := s.leasedMachine(ctx, t.MachineID); err != nil {
		return nil, apperr.ConflictErr("tasks.machineNotLeased", "machine {machine} is no longer leased to your company", apperr.P{"machine": t.MachineName})
	}
	if s.Temporal == nil {
		return nil, errWorkflowDown()
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "task-outputs:" + t.ID + ":" + uuid.NewString(), TaskQueue: s.TaskQueue,
		WorkflowExecutionTimeout: workflows.TaskOutputsWait * 3}, workflows.TaskOutputs,
		workflows.TaskOutputsInput{TaskID: t.ID, MachineID: t.MachineID, Dir: dir})
	if err != nil {
		slog.ErrorContext(ctx, "unable to list the task's outputs", "task", t.ID, "err", err)
		return nil, errWorkflowDown()
	}
	wctx, cancel := context.WithTimeout(ctx, workflows.TaskOutputsWait+2*time.Second)
	defer cancel()
	var res agentproto.TaskOutputsResult
	if err := run.Get(wctx, &res); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			slog.WarnContext(ctx, "the host did not list the task's outputs", "task", t.ID, "err", err)
		}
		return nil, apperr.UnavailableErr("tasks.hostUnreachable", "the host of {machine} did not answer; try again later",
			apperr.P{"machine": t.MachineName})
	}
	if res.Files == nil {
		res.Files = []agentproto.OutputFile{}
	}
	return &res, nil
}
