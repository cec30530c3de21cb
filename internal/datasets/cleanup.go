package datasets

import (
	"context"
	"log/slog"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/workflows"
)

// startCleanup starts a DatasetCleanup now (the hourly one would also do it).
func (s *Service) startCleanup(ctx context.Context, reason string) {
	if s.Temporal == nil {
		return
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.DatasetCleanupID + ":" + reason + ":" + uuid.NewString(),
		TaskQueue: s.TaskQueue, WorkflowExecutionTimeout: workflows.DatasetCleanupTimeout}, workflows.DatasetCleanup, workflows.DatasetCleanupInput{})
	if err != nil {
		slog.WarnContext(ctx, "unable to start the dataset cleanup; the hourly one will do it", "reason", reason, "err", err)
	}
}
