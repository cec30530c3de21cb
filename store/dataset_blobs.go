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

// instantOwner: the blobs b a tenant ($1) may reuse: its own, and the
// platform's that a public dataset customers see holds (not the content
// of one kept to admins); for the platform ('') its own.
const instantOwner = `(b.tenant_id = nullif($1, '')::uuid OR b.tenant_id IS NULL AND ($1 = '' OR EXISTS (SELECT 1 FROM dataset_files f
	JOIN datasets d ON d.id = f.dataset_id WHERE f.blob_id = b.id AND d.tenant_id IS NULL AND d.access = 'public' AND d.deleted_at IS NULL)))`

// InstantBlob finds a verified blob with this content that the tenant may
// reuse (instant upload): its own, or the platform's in a public dataset;
// never another company's. tenantID ” (a public dataset): the platform's only.
func (q *Queries) InstantBlob(ctx context.Context, tenantID, md5 string, size int64) (*DatasetBlob, error) {
	return scanBlob(q.db.QueryRow(ctx, blobSelect+` WHERE b.verified AND b.md5 = $2 AND b.size = $3
		AND `+instantOwner+`
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

// IngestBlobPath is a file of the dataset that points at the blob (for messages).
func (q *Queries) IngestBlobPath(ctx context.Context, datasetID, blobID string) (string, error) {
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

// IngestLockDataset reads a dataset's row FOR UPDATE (any scope; the caller checked it).
func (q *Queries) IngestLockDataset(ctx context.Context, id string) (*Dataset, error) {
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+` WHERE d.id = $1 AND d.deleted_at IS NULL FOR UPDATE OF d`, id), "")
}

// IngestDataset reads a dataset for the workflows (no scope; deleted ones too).
func (q *Queries) IngestDataset(ctx context.Context, id string) (*Dataset, error) {
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+` WHERE d.id = $1`, id), "")
}

// IngestSetStatus moves a dataset from one status to another; false when it was not in from.
func (q *Queries) IngestSetStatus(ctx context.Context, id, from, to string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE datasets SET status = $3, updated_at = now() WHERE id = $1 AND status = $2`, id, from, to)
	return tag.RowsAffected() == 1, err
}

// IngestTouchDataset marks a dataset as just worked on (the abandoned-upload cleanup reads it).
func (q *Queries) IngestTouchDataset(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE datasets SET updated_at = now() WHERE id = $1`, id)
	return err
}

// IngestSetProgress records the bytes an import fetched so far.
func (q *Queries) IngestSetProgress(ctx context.Context, id string, n int64) error {
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
	d, err := q.IngestLockDataset(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	if d.Status != DatasetProcessing {
		return nil, fmt.Errorf("dataset %s is %s, not processing", datasetID, d.Status)
	}
	// the dataset's unverified blobs, each with the blob it becomes: an
	// equal verified one of the owner, else the first equal one of the
	// dataset (which is verified)
	rows, err := q.db.Query(ctx, `WITH mine AS (
			SELECT b.id, b.md5, b.size, b.tenant_id, b.object_key FROM dataset_blobs b
			WHERE NOT b.verified AND b.id IN (SELECT blob_id FROM dataset_files WHERE dataset_id = $1))
		SELECT m.id, m.object_key, coalesce(
			(SELECT v.id FROM dataset_blobs v WHERE v.verified AND v.md5 = m.md5 AND v.size = m.size
				AND v.tenant_id IS NOT DISTINCT FROM m.tenant_id),
			(SELECT min(o.id::text)::uuid FROM mine o WHERE o.md5 = m.md5 AND o.size = m.size)) AS keep
		FROM mine m`, datasetID)
	type merge struct{ id, key, keep string }
	list, err := collect(rows, err, func(r pgx.Row) (*merge, error) {
		var m merge
		return &m, r.Scan(&m.id, &m.key, &m.keep)
	})
	if err != nil {
		return nil, err
	}
	var dups, dupIDs, keepIDs, verify []string
	for _, m := range list {
		if m.keep == m.id {
			verify = append(verify, m.id)
			continue
		}
		dups, dupIDs, keepIDs = append(dups, m.key), append(dupIDs, m.id), append(keepIDs, m.keep)
	}
	if len(dupIDs) > 0 {
		if _, err := q.db.Exec(ctx, `UPDATE dataset_files f SET blob_id = t.keep FROM unnest($1::uuid[], $2::uuid[]) AS t(dup, keep)
			WHERE f.blob_id = t.dup`, dupIDs, keepIDs); err != nil {
			return nil, err
		}
		if _, err := q.db.Exec(ctx, `DELETE FROM dataset_blobs WHERE id = ANY($1::uuid[])`, dupIDs); err != nil {
			return nil, err
		}
	}
	if _, err := q.db.Exec(ctx, `UPDATE dataset_blobs SET verified = true WHERE id = ANY($1::uuid[])`, verify); err != nil {
		return nil, err
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
	if _, err := q.IngestLockDataset(ctx, datasetID); err != nil && !errors.Is(err, ErrNotFound) {
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

// ContentKey names a content: its MD5 (hex) and size.
type ContentKey struct {
	MD5  string
	Size int64
}

// InstantBlobs is InstantBlob for many contents at once (those found).
func (q *Queries) InstantBlobs(ctx context.Context, tenantID string, keys []ContentKey) (map[ContentKey]*DatasetBlob, error) {
	md5s, sizes := make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		md5s[i], sizes[i] = k.MD5, k.Size
	}
	rows, err := q.db.Query(ctx, `SELECT DISTINCT ON (b.md5, b.size) b.id, coalesce(b.tenant_id::text, ''), b.md5, b.size, b.object_key, b.verified
		FROM dataset_blobs b JOIN unnest($2::text[], $3::bigint[]) AS k(md5, size) ON b.md5 = k.md5 AND b.size = k.size
		WHERE b.verified AND `+instantOwner+`
		ORDER BY b.md5, b.size, b.tenant_id IS NULL`, tenantID, md5s, sizes)
	list, err := collect(rows, err, scanBlob)
	if err != nil {
		return nil, err
	}
	out := make(map[ContentKey]*DatasetBlob, len(list))
	for i := range list {
		out[ContentKey{list[i].MD5, list[i].Size}] = &list[i]
	}
	return out, nil
}

// IngestFile is a file row to record.
type IngestFile struct {
	Path   string
	BlobID string
	Size   int64
	MD5    string
}

// IngestPutFiles is IngestPutFile for many files at once.
func (q *Queries) IngestPutFiles(ctx context.Context, datasetID string, fs []IngestFile) error {
	if len(fs) == 0 {
		return nil
	}
	n := len(fs)
	paths, blobs, md5s, sizes := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, f := range fs {
		paths[i], blobs[i], md5s[i], sizes[i] = f.Path, f.BlobID, f.MD5, f.Size
	}
	_, err := q.db.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5)
		SELECT $1, t.path, t.blob, t.size, t.md5 FROM unnest($2::text[], $3::uuid[], $4::bigint[], $5::text[]) AS t(path, blob, size, md5)
		ON CONFLICT (dataset_id, path) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, md5 = excluded.md5, created_at = now()`,
		datasetID, paths, blobs, sizes, md5s)
	return err
}
