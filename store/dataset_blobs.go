package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DatasetBlob is one object of the datasets bucket (docs/datasets.md).
type DatasetBlob struct {
	ID        string
	TenantID  string // '' for the platform's
	MD5       string
	Size      int64
	ObjectKey string
	Verified  bool
}

const blobSelect = `SELECT b.id, coalesce(b.tenant_id::text, ''), b.md5, b.size, b.object_key, b.verified FROM dataset_blobs b`

func scanBlob(row pgx.Row) (*DatasetBlob, error) {
	var b DatasetBlob
	if err := row.Scan(&b.ID, &b.TenantID, &b.MD5, &b.Size, &b.ObjectKey, &b.Verified); err != nil {
		return nil, notFound(err)
	}
	return &b, nil
}

// InstantBlob finds a verified blob with this content that the tenant may
// reuse (instant upload): its own, or the platform's; never another
// company's. tenantID ” (a public dataset): the platform's only.
func (q *Queries) InstantBlob(ctx context.Context, tenantID, md5 string, size int64) (*DatasetBlob, error) {
	return scanBlob(q.db.QueryRow(ctx, blobSelect+` WHERE b.verified AND b.md5 = $2 AND b.size = $3
		AND (b.tenant_id IS NULL OR b.tenant_id = nullif($1, '')::uuid)
		ORDER BY b.tenant_id IS NULL LIMIT 1`, tenantID, md5, size))
}

// InsertDatasetBlob records an unverified blob (b.ID chosen by the caller);
// recording it again changes nothing.
func (q *Queries) InsertDatasetBlob(ctx context.Context, b DatasetBlob) error {
	_, err := q.db.Exec(ctx, `INSERT INTO dataset_blobs (id, tenant_id, md5, size, object_key) VALUES ($1, nullif($2, '')::uuid, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET md5 = excluded.md5, size = excluded.size WHERE NOT dataset_blobs.verified`,
		b.ID, b.TenantID, b.MD5, b.Size, b.ObjectKey)
	return err
}

// IngestPutFile makes (dataset, path) point at a blob (a path given again
// replaces its file).
func (q *Queries) IngestPutFile(ctx context.Context, datasetID, path, blobID string, size int64, md5 string) error {
	_, err := q.db.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (dataset_id, path) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, md5 = excluded.md5, created_at = now()`,
		datasetID, path, blobID, size, md5)
	return err
}

// UnverifiedDatasetBlobs lists the unverified blobs the dataset's files point at.
func (q *Queries) UnverifiedDatasetBlobs(ctx context.Context, datasetID string) ([]DatasetBlob, error) {
	rows, err := q.db.Query(ctx, blobSelect+` WHERE NOT b.verified AND b.id IN (SELECT blob_id FROM dataset_files WHERE dataset_id = $1)
		ORDER BY b.id`, datasetID)
	return collect(rows, err, scanBlob)
}

// BlobPath is a file of the dataset that points at the blob (for messages).
func (q *Queries) BlobPath(ctx context.Context, datasetID, blobID string) (string, error) {
	var p string
	err := q.db.QueryRow(ctx, `SELECT path FROM dataset_files WHERE dataset_id = $1 AND blob_id = $2 ORDER BY path LIMIT 1`, datasetID, blobID).Scan(&p)
	return p, notFound(err)
}

// ErrQuotaExceeded is a reservation the quota has no room for.
var ErrQuotaExceeded = errors.New("storage quota exceeded")

// ReserveStorage raises a dataset's reservation by n bytes after checking,
// with the tenant's row locked (call it inside a transaction), that the
// company has room: ErrQuotaExceeded with the use when it has not. A public
// dataset (tenantID ”) has no quota.
func (q *Queries) ReserveStorage(ctx context.Context, datasetID, tenantID string, n, defaultQuota int64) (StorageUse, error) {
	var u StorageUse
	if tenantID != "" && n > 0 {
		var err error
		if u, err = q.TenantStorage(ctx, tenantID, defaultQuota, true); err != nil {
			return u, err
		}
		if u.Free() < n {
			return u, ErrQuotaExceeded
		}
	}
	if datasetID != "" && n != 0 {
		if _, err := q.db.Exec(ctx, `UPDATE datasets SET reserved_bytes = greatest(reserved_bytes + $2, 0), updated_at = now() WHERE id = $1`,
			datasetID, n); err != nil {
			return u, err
		}
	}
	return u, nil
}

// LockDataset reads a dataset's row FOR UPDATE (any scope; the caller checked it).
func (q *Queries) LockDataset(ctx context.Context, id string) (*Dataset, error) {
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+` WHERE d.id = $1 AND d.deleted_at IS NULL FOR UPDATE OF d`, id), "")
}

// DatasetByID reads a dataset for the workflows (no scope; deleted ones too).
func (q *Queries) DatasetByID(ctx context.Context, id string) (*Dataset, error) {
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+` WHERE d.id = $1`, id), "")
}

// SetDatasetStatus moves a dataset from one status to another; false when it was not in from.
func (q *Queries) SetDatasetStatus(ctx context.Context, id, from, to string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE datasets SET status = $3, updated_at = now() WHERE id = $1 AND status = $2`, id, from, to)
	return tag.RowsAffected() == 1, err
}

// TouchDataset marks a dataset as just worked on (the abandoned-upload cleanup reads it).
func (q *Queries) TouchDataset(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE datasets SET updated_at = now() WHERE id = $1`, id)
	return err
}

// SetDatasetProgress records the bytes an import fetched so far.
func (q *Queries) SetDatasetProgress(ctx context.Context, id string, n int64) error {
	_, err := q.db.Exec(ctx, `UPDATE datasets SET progress_bytes = $2, updated_at = now() WHERE id = $1`, id, n)
	return err
}

// VerifiedIngest is the end of an ingest: every unverified blob of the
// dataset becomes verified or, where the owner already holds a verified
// blob with the same content, is merged into it (its files point there);
// the dataset gets its size and file count, its reservation is released
// and it is available. It returns the object keys of the merged
// duplicates, for the caller to remove once committed. Run it in a
// transaction.
func (q *Queries) VerifiedIngest(ctx context.Context, datasetID string) ([]string, error) {
	d, err := q.LockDataset(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	if d.Status != DatasetProcessing {
		return nil, fmt.Errorf("dataset %s is %s, not processing", datasetID, d.Status)
	}
	blobs, err := q.UnverifiedDatasetBlobs(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	var dups []string
	for _, b := range blobs {
		var keep string
		err := q.db.QueryRow(ctx, `SELECT id FROM dataset_blobs WHERE verified AND md5 = $1 AND size = $2
			AND coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) = coalesce(nullif($3, '')::uuid, '00000000-0000-0000-0000-000000000000'::uuid)`,
			b.MD5, b.Size, b.TenantID).Scan(&keep)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := q.db.Exec(ctx, `UPDATE dataset_blobs SET verified = true WHERE id = $1`, b.ID); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			if _, err := q.db.Exec(ctx, `UPDATE dataset_files SET blob_id = $2 WHERE blob_id = $1`, b.ID, keep); err != nil {
				return nil, err
			}
			if _, err := q.db.Exec(ctx, `DELETE FROM dataset_blobs WHERE id = $1`, b.ID); err != nil {
				return nil, err
			}
			dups = append(dups, b.ObjectKey)
		}
	}
	_, err = q.db.Exec(ctx, `UPDATE datasets d SET status = 'available', status_reason = '', status_params = '{}', reserved_bytes = 0,
		size_bytes = f.size, file_count = f.n, updated_at = now()
		FROM (SELECT coalesce(sum(size), 0) AS size, count(*) AS n FROM dataset_files WHERE dataset_id = $1) f WHERE d.id = $1`, datasetID)
	return dups, err
}

// FailedIngest marks a dataset failed with a reason (a code and its
// params), drops its files and the unverified blobs they pointed at (not
// another dataset's), closes its open uploads and releases its
// reservation. It returns the object keys of the dropped blobs and the
// open multipart uploads, for the caller to remove. Run it in a transaction.
func (q *Queries) FailedIngest(ctx context.Context, datasetID, reason string, params map[string]any) ([]string, []DatasetUpload, error) {
	if params == nil {
		params = map[string]any{}
	}
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, nil, err
	}
	if _, err := q.LockDataset(ctx, datasetID); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	open, err := q.DatasetUploads(ctx, datasetID, UploadOpen)
	if err != nil {
		return nil, nil, err
	}
	if _, err := q.db.Exec(ctx, `UPDATE dataset_uploads SET status = 'aborted', updated_at = now() WHERE dataset_id = $1 AND status = 'open'`,
		datasetID); err != nil {
		return nil, nil, err
	}
	rows, err := q.db.Query(ctx, `WITH f AS (DELETE FROM dataset_files WHERE dataset_id = $1 RETURNING blob_id)
		DELETE FROM dataset_blobs b WHERE b.id IN (SELECT blob_id FROM f) AND NOT b.verified
			AND NOT EXISTS (SELECT 1 FROM dataset_files o WHERE o.blob_id = b.id AND o.dataset_id <> $1)
		RETURNING b.object_key`, datasetID)
	keys, err := collect(rows, err, func(r pgx.Row) (*string, error) {
		var k string
		return &k, r.Scan(&k)
	})
	if err != nil {
		return nil, nil, err
	}
	_, err = q.db.Exec(ctx, `UPDATE datasets SET status = 'failed', status_reason = $2, status_params = $3, reserved_bytes = 0, size_bytes = 0,
		file_count = 0, updated_at = now() WHERE id = $1`, datasetID, reason, pj)
	return keys, open, err
}
