package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// DatasetCleanupID prefixes the IDs of DatasetCleanup runs (the schedule's,
// and those a delete starts).
const DatasetCleanupID = "dataset-cleanup"

// DatasetCleanupTimeout bounds one run.
const DatasetCleanupTimeout = 30 * time.Minute

// Defaults of a cleanup run.
const (
	// OrphanBlobGrace leaves a blob no file ever pointed at to the upload
	// or ingest that is recording it.
	OrphanBlobGrace = 24 * time.Hour
	// FailedDatasetKeep keeps a failed dataset's files a while for a look.
	FailedDatasetKeep = 24 * time.Hour
	cleanupMaxRounds  = 20
)

// DatasetCleanupInput: zero values take the defaults.
type DatasetCleanupInput struct {
	OrphanGrace time.Duration
	FailedAfter time.Duration
}

type DatasetCleanupResult struct {
	Purged, Cleared, BlobsRemoved int
	BytesFreed                    int64
}

// DatasetCleanup removes the rows of deleted datasets, the files of
// failed ones, and then every blob no file points at (object, then row).
// Hourly by a schedule, and started by a dataset's delete so that the
// company's storage drops at once. Open multipart uploads are the uploads'
// own cleanup's.
func DatasetCleanup(ctx workflow.Context, in DatasetCleanupInput) (DatasetCleanupResult, error) {
	var a *activities.Storage
	var res DatasetCleanupResult
	if in.OrphanGrace <= 0 {
		in.OrphanGrace = OrphanBlobGrace
	}
	if in.FailedAfter <= 0 {
		in.FailedAfter = FailedDatasetKeep
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 5},
	})
	for i := 0; i < cleanupMaxRounds; i++ {
		var r activities.CleanupDatasetsResult
		if err := workflow.ExecuteActivity(ctx, a.CleanupDatasets, activities.CleanupDatasetsInput{FailedAfter: in.FailedAfter}).Get(ctx, &r); err != nil {
			return res, fmt.Errorf("unable to clean up datasets: %w", err)
		}
		res.Purged += r.Purged
		res.Cleared += r.Cleared
		if !r.More {
			break
		}
	}
	for i := 0; i < cleanupMaxRounds; i++ {
		var r activities.RemoveOrphanBlobsResult
		if err := workflow.ExecuteActivity(ctx, a.RemoveOrphanBlobs, activities.RemoveOrphanBlobsInput{Grace: in.OrphanGrace}).Get(ctx, &r); err != nil {
			return res, fmt.Errorf("unable to remove orphan blobs: %w", err)
		}
		res.BlobsRemoved += r.Removed
		res.BytesFreed += r.Bytes
		if !r.More {
			break
		}
	}
	return res, nil
}
