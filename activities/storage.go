package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"

	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Storage are the activities of the storage sample and the dataset
// cleanup (docs/datasets.md, Storage management).
type Storage struct {
	Store   *store.Store
	Objects *objstore.Store // nil: no object store (nothing to sample or remove)
}

// StorageUsed is what the object store holds: the datasets bucket by its
// records (blobs and open uploads' parts) and the task outputs by a listing.
type StorageUsed struct {
	DatasetsBytes    int64
	UploadsBytes     int64
	TaskOutputsBytes int64
	TaskOutputsKnown bool // the task-outputs bucket could be listed
}

// Total is every byte stored.
func (u StorageUsed) Total() int64 { return u.DatasetsBytes + u.UploadsBytes + u.TaskOutputsBytes }

// MeasureStorage reads what the object store holds now.
func MeasureStorage(ctx context.Context, st *store.Store, objects *objstore.Store) (StorageUsed, error) {
	var u StorageUsed
	var err error
	if u.DatasetsBytes, u.UploadsBytes, err = st.DatasetStoreBytes(ctx); err != nil {
		return u, err
	}
	if objects != nil {
		if u.TaskOutputsBytes, _, err = objects.Usage(ctx, objstore.BucketTaskOutputs, ""); err != nil {
			return u, err
		}
		u.TaskOutputsKnown = true
	}
	return u, nil
}

// StorageSampleInput is the capacity to record (the configured one: the
// object store does not report its own).
type StorageSampleInput struct {
	CapacityBytes int64
}

// SampleStorage records the storage trend's point for now (to the minute).
func (a *Storage) SampleStorage(ctx context.Context, in StorageSampleInput) (store.StorageSample, error) {
	u, err := MeasureStorage(ctx, a.Store, a.Objects)
	if err != nil {
		return store.StorageSample{}, err
	}
	s := store.StorageSample{At: time.Now().UTC().Truncate(time.Minute), CapacityBytes: in.CapacityBytes, UsedBytes: u.Total(),
		DatasetsBytes: u.DatasetsBytes}
	return s, a.Store.RecordStorageSample(ctx, s)
}

// CleanupDatasetsInput bounds one call.
type CleanupDatasetsInput struct {
	// FailedAfter: a failed dataset's files go this long after it failed.
	FailedAfter time.Duration
	Limit       int
}

type CleanupDatasetsResult struct {
	Purged  int // deleted datasets whose rows went
	Cleared int // failed datasets whose files went
	More    bool
}

// CleanupDatasets removes the rows of deleted datasets (with the objects
// of their imports) and the files of failed ones (their blobs orphaned).
func (a *Storage) CleanupDatasets(ctx context.Context, in CleanupDatasetsInput) (CleanupDatasetsResult, error) {
	var res CleanupDatasetsResult
	if in.Limit <= 0 {
		in.Limit = 100
	}
	deleted, failed, err := a.Store.DatasetIDsToClean(ctx, time.Now().Add(-in.FailedAfter), in.Limit)
	if err != nil {
		return res, err
	}
	res.More = len(deleted)+len(failed) >= in.Limit
	for _, id := range deleted {
		if a.Objects != nil {
			if err := a.Objects.RemovePrefix(ctx, objstore.BucketDatasets, "imports/"+id+"/"); err != nil {
				return res, err
			}
		}
		ok, err := a.Store.PurgeDataset(ctx, id)
		if err != nil {
			return res, fmt.Errorf("unable to purge dataset %s: %w", id, err)
		}
		if ok {
			res.Purged++
		}
		activity.RecordHeartbeat(ctx, res)
	}
	for _, id := range failed {
		if a.Objects != nil {
			if err := a.Objects.RemovePrefix(ctx, objstore.BucketDatasets, "imports/"+id+"/"); err != nil {
				return res, err
			}
		}
		if err := a.Store.ClearFailedDataset(ctx, id); err != nil {
			return res, fmt.Errorf("unable to clear failed dataset %s: %w", id, err)
		}
		res.Cleared++
	}
	if len(deleted) > 0 && res.Purged == 0 && len(failed) == 0 {
		res.More = false // all wait for their open uploads to be aborted
	}
	return res, nil
}

// RemoveOrphanBlobsInput bounds one call.
type RemoveOrphanBlobsInput struct {
	// Grace: a blob no file ever pointed at is left this long to the upload
	// or ingest that made it; a blob orphaned by a delete goes at once.
	Grace time.Duration
	Limit int
}

type RemoveOrphanBlobsResult struct {
	Removed int
	Bytes   int64
	More    bool
}

// RemoveOrphanBlobs removes the blobs no file points at: each in a
// transaction that deletes its row (only while still unreferenced) and
// then its object, so a failed removal keeps the row for the next run and
// a file pointing at it meanwhile keeps both.
func (a *Storage) RemoveOrphanBlobs(ctx context.Context, in RemoveOrphanBlobsInput) (RemoveOrphanBlobsResult, error) {
	var res RemoveOrphanBlobsResult
	if in.Limit <= 0 {
		in.Limit = 500
	}
	if a.Objects == nil {
		return res, nil
	}
	blobs, err := a.Store.OrphanBlobs(ctx, time.Now().Add(-in.Grace), in.Limit)
	if err != nil {
		return res, err
	}
	res.More = len(blobs) >= in.Limit
	for _, b := range blobs {
		err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
			gone, err := store.New(tx).DeleteOrphanBlob(ctx, b.ID)
			if err != nil || !gone {
				return err
			}
			if err := a.Objects.Remove(ctx, objstore.BucketDatasets, b.ObjectKey); err != nil && !errors.Is(err, objstore.ErrNotFound) {
				return err
			}
			res.Removed++
			res.Bytes += b.Size
			return nil
		})
		if err != nil {
			slog.WarnContext(ctx, "unable to remove an orphan blob; the next cleanup tries again", "blob", b.ID, "err", err)
			res.More = false
			return res, err
		}
		activity.RecordHeartbeat(ctx, res)
	}
	return res, nil
}
