package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Upload statuses.
const (
	UploadOpen      = "open"
	UploadCompleted = "completed"
	UploadAborted   = "aborted"
)

// DatasetUpload is one file being uploaded in chunks (docs/datasets.md).
type DatasetUpload struct {
	ID             string
	DatasetID      string
	TenantID       string // '' for a public dataset
	Path           string
	Size           int64
	MD5            string
	Archive        bool
	ChunkSize      int
	ObjectKey      string
	S3UploadID     string
	Status         string
	ConfirmedParts []int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ChunkCount is how many parts the file is sent in (at least 1).
func (u DatasetUpload) ChunkCount() int {
	if u.Size <= 0 {
		return 1
	}
	return int((u.Size + int64(u.ChunkSize) - 1) / int64(u.ChunkSize))
}

// PartSize is the size part n must have.
func (u DatasetUpload) PartSize(n int) int64 {
	if n < u.ChunkCount() {
		return int64(u.ChunkSize)
	}
	return u.Size - int64(u.ChunkSize)*int64(u.ChunkCount()-1)
}

const uploadSelect = `SELECT u.id, u.dataset_id, coalesce(u.tenant_id::text, ''), u.path, u.size, u.md5, u.archive, u.chunk_size, u.object_key,
	u.s3_upload_id, u.status, coalesce((SELECT array_agg(p.part_number ORDER BY p.part_number) FROM dataset_upload_parts p WHERE p.upload_id = u.id), '{}'),
	u.created_at, u.updated_at FROM dataset_uploads u`

func scanUpload(row pgx.Row) (*DatasetUpload, error) {
	var u DatasetUpload
	var parts []int32
	if err := row.Scan(&u.ID, &u.DatasetID, &u.TenantID, &u.Path, &u.Size, &u.MD5, &u.Archive, &u.ChunkSize, &u.ObjectKey, &u.S3UploadID,
		&u.Status, &parts, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	u.ConfirmedParts = make([]int, len(parts))
	for i, p := range parts {
		u.ConfirmedParts[i] = int(p)
	}
	return &u, nil
}

// OpenDatasetUpload is the open upload of a path of a dataset (ErrNotFound: none).
func (q *Queries) OpenDatasetUpload(ctx context.Context, datasetID, path string) (*DatasetUpload, error) {
	return scanUpload(q.db.QueryRow(ctx, uploadSelect+` WHERE u.dataset_id = $1 AND u.path = $2 AND u.status = 'open'`, datasetID, path))
}

// GetDatasetUpload reads an upload of a dataset (ErrNotFound: not this dataset's).
func (q *Queries) GetDatasetUpload(ctx context.Context, datasetID, uploadID string) (*DatasetUpload, error) {
	return scanUpload(q.db.QueryRow(ctx, uploadSelect+` WHERE u.dataset_id = $1 AND u.id = $2`, datasetID, uploadID))
}

// LockDatasetUpload reads an upload FOR UPDATE (inside a transaction).
func (q *Queries) LockDatasetUpload(ctx context.Context, datasetID, uploadID string) (*DatasetUpload, error) {
	return scanUpload(q.db.QueryRow(ctx, uploadSelect+` WHERE u.dataset_id = $1 AND u.id = $2 FOR UPDATE OF u`, datasetID, uploadID))
}

// DatasetUploads lists a dataset's uploads in the given statuses, by path.
func (q *Queries) DatasetUploads(ctx context.Context, datasetID string, statuses ...string) ([]DatasetUpload, error) {
	rows, err := q.db.Query(ctx, uploadSelect+` WHERE u.dataset_id = $1 AND u.status = ANY($2) ORDER BY u.path`, datasetID, statuses)
	return collect(rows, err, scanUpload)
}

// CreateDatasetUpload records an open upload (u.ID and u.ObjectKey chosen by the caller).
func (q *Queries) CreateDatasetUpload(ctx context.Context, u DatasetUpload) error {
	_, err := q.db.Exec(ctx, `INSERT INTO dataset_uploads (id, dataset_id, tenant_id, path, size, md5, archive, chunk_size, object_key, s3_upload_id)
		VALUES ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.DatasetID, u.TenantID, u.Path, u.Size, u.MD5, u.Archive, u.ChunkSize, u.ObjectKey, u.S3UploadID)
	return err
}

// SetDatasetUploadStatus moves an upload to completed or aborted; false when it was not open.
func (q *Queries) SetDatasetUploadStatus(ctx context.Context, uploadID, status string) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE dataset_uploads SET status = $2, updated_at = now() WHERE id = $1 AND status = 'open'`, uploadID, status)
	return tag.RowsAffected() == 1, err
}

// UploadPart is a confirmed part.
type UploadPart struct {
	N    int
	Size int64
	MD5  string
	ETag string
}

// RecordUploadPart confirms part n of an open upload (a part sent again
// replaces itself) and touches the upload; false when it is no longer open.
func (q *Queries) RecordUploadPart(ctx context.Context, uploadID string, p UploadPart) (bool, error) {
	tag, err := q.db.Exec(ctx, `WITH u AS (UPDATE dataset_uploads SET updated_at = now() WHERE id = $1 AND status = 'open' RETURNING id)
		INSERT INTO dataset_upload_parts (upload_id, part_number, size, md5, etag) SELECT u.id, $2, $3, $4, $5 FROM u
		ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size, md5 = excluded.md5, etag = excluded.etag, created_at = now()`,
		uploadID, p.N, p.Size, p.MD5, p.ETag)
	return tag.RowsAffected() == 1, err
}

// UploadParts lists an upload's confirmed parts in order.
func (q *Queries) UploadParts(ctx context.Context, uploadID string) ([]UploadPart, error) {
	rows, err := q.db.Query(ctx, `SELECT part_number, size, md5, etag FROM dataset_upload_parts WHERE upload_id = $1 ORDER BY part_number`, uploadID)
	return collect(rows, err, func(r pgx.Row) (*UploadPart, error) {
		var p UploadPart
		return &p, r.Scan(&p.N, &p.Size, &p.MD5, &p.ETag)
	})
}

// DatasetUploadedBytes is what a dataset's uploads hold (open and completed files).
func (q *Queries) DatasetUploadedBytes(ctx context.Context, datasetID string) (int64, error) {
	var n int64
	err := q.db.QueryRow(ctx, `SELECT coalesce(sum(size), 0) FROM dataset_uploads WHERE dataset_id = $1 AND status IN ('open', 'completed')`,
		datasetID).Scan(&n)
	return n, err
}

// StaleDatasetUploads lists open uploads untouched since before (abandoned).
func (q *Queries) StaleDatasetUploads(ctx context.Context, before time.Time, limit int) ([]DatasetUpload, error) {
	rows, err := q.db.Query(ctx, uploadSelect+` WHERE u.status = 'open' AND u.updated_at < $1 ORDER BY u.updated_at LIMIT $2`, before, limit)
	return collect(rows, err, scanUpload)
}

// StaleUploadingDatasets are datasets still uploading, untouched since
// before, with no open upload touched since then.
func (q *Queries) StaleUploadingDatasets(ctx context.Context, before time.Time, limit int) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT d.id FROM datasets d WHERE d.status = 'uploading' AND d.deleted_at IS NULL AND d.updated_at < $1
		AND NOT EXISTS (SELECT 1 FROM dataset_uploads u WHERE u.dataset_id = d.id AND u.status = 'open' AND u.updated_at >= $1)
		ORDER BY d.updated_at LIMIT $2`, before, limit)
	return collect(rows, err, func(r pgx.Row) (*string, error) {
		var id string
		return &id, r.Scan(&id)
	})
}

// SetDatasetUploadS3ID records the S3 multipart upload of an upload.
func (q *Queries) SetDatasetUploadS3ID(ctx context.Context, uploadID, s3ID string) error {
	_, err := q.db.Exec(ctx, `UPDATE dataset_uploads SET s3_upload_id = $2, updated_at = now() WHERE id = $1`, uploadID, s3ID)
	return err
}

// DropIngestDataset removes a dataset whose ingest could not start (it holds nothing yet).
func (q *Queries) DropIngestDataset(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM datasets WHERE id = $1`, id)
	return err
}

// AbortDatasetUpload marks an open upload aborted and drops its part records.
func (q *Queries) AbortDatasetUpload(ctx context.Context, uploadID string) error {
	return q.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE dataset_uploads SET status = 'aborted', updated_at = now() WHERE id = $1 AND status = 'open'`, uploadID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM dataset_upload_parts WHERE upload_id = $1`, uploadID)
		return err
	})
}

// OpenDatasetUploadsByPath reads the open uploads of these paths of a dataset, by path.
func (q *Queries) OpenDatasetUploadsByPath(ctx context.Context, datasetID string, paths []string) (map[string]*DatasetUpload, error) {
	rows, err := q.db.Query(ctx, uploadSelect+` WHERE u.dataset_id = $1 AND u.path = ANY($2) AND u.status = 'open'`, datasetID, paths)
	list, err := collect(rows, err, scanUpload)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*DatasetUpload, len(list))
	for i := range list {
		out[list[i].Path] = &list[i]
	}
	return out, nil
}

// AbortDatasetUploads marks open uploads aborted.
func (q *Queries) AbortDatasetUploads(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.db.Exec(ctx, `UPDATE dataset_uploads SET status = 'aborted', updated_at = now() WHERE id = ANY($1::uuid[]) AND status = 'open'`, ids)
	return err
}

// CreateDatasetUploads records open uploads in one statement.
func (q *Queries) CreateDatasetUploads(ctx context.Context, us []DatasetUpload) error {
	if len(us) == 0 {
		return nil
	}
	n := len(us)
	ids, paths, md5s, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sizes, archives, chunks := make([]int64, n), make([]bool, n), make([]int32, n)
	for i, u := range us {
		ids[i], paths[i], md5s[i], keys[i], sizes[i], archives[i], chunks[i] = u.ID, u.Path, u.MD5, u.ObjectKey, u.Size, u.Archive, int32(u.ChunkSize)
	}
	_, err := q.db.Exec(ctx, `INSERT INTO dataset_uploads (id, dataset_id, tenant_id, path, size, md5, archive, chunk_size, object_key)
		SELECT t.id, $1, nullif($2, '')::uuid, t.path, t.size, t.md5, t.archive, t.chunk, t.key
		FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::bool[], $8::int[], $9::text[]) AS t(id, path, size, md5, archive, chunk, key)`,
		us[0].DatasetID, us[0].TenantID, ids, paths, sizes, md5s, archives, chunks, keys)
	return err
}

// DatasetHasContent tells whether a dataset has a file or a completed upload (an archive).
func (q *Queries) DatasetHasContent(ctx context.Context, datasetID string) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dataset_files WHERE dataset_id = $1)
		OR EXISTS (SELECT 1 FROM dataset_uploads WHERE dataset_id = $1 AND status = 'completed')`, datasetID).Scan(&ok)
	return ok, err
}

// KnownS3Uploads tells which of these S3 multipart upload IDs an open upload still uses.
func (q *Queries) KnownS3Uploads(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := q.db.Query(ctx, `SELECT s3_upload_id FROM dataset_uploads WHERE status = 'open' AND s3_upload_id = ANY($1)`, ids)
	list, err := collect(rows, err, func(r pgx.Row) (*string, error) {
		var s string
		return &s, r.Scan(&s)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, s := range list {
		out[s] = true
	}
	return out, nil
}
