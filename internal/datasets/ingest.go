package datasets

import (
	"context"
	"log/slog"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/workflows"
)

// startIngest starts a dataset's DatasetIngest workflow.
func (s *Service) startIngest(ctx context.Context, in workflows.DatasetIngestInput) error {
	down := apperr.UnavailableErr(apperr.CodeWorkflowDown, "the workflow service is unavailable; try again later")
	if s.Temporal == nil {
		return down
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.DatasetIngestID(in.DatasetID), TaskQueue: s.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL},
		workflows.DatasetIngest, in)
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the dataset ingest", "dataset", in.DatasetID, "err", err)
		return down
	}
	return nil
}
