package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// DatasetUploadsCleanupInput: OlderThan overrides DATASET_UPLOAD_ABANDON_AFTER (0: the setting).
type DatasetUploadsCleanupInput struct {
	OlderThan time.Duration
	Prefix    string // narrows the search for leftover multipart uploads (tests)
}

// DatasetUploadsCleanup (hourly schedule) aborts the uploads nobody touched
// for DATASET_UPLOAD_ABANDON_AFTER and removes their parts, then fails the
// datasets left uploading that long (uploads.reason.abandoned), releasing
// their reservations (docs/datasets.md, Storage management).
func DatasetUploadsCleanup(ctx workflow.Context, in DatasetUploadsCleanupInput) (activities.UploadsCleanupResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3}})
	var a *activities.Datasets
	var res activities.UploadsCleanupResult
	err := workflow.ExecuteActivity(ctx, a.DatasetAbandonUploads, activities.UploadsCleanupInput{OlderThan: in.OlderThan, Prefix: in.Prefix}).Get(ctx, &res)
	return res, err
}
