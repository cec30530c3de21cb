package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// StorageSample is one point of the storage trend.
type StorageSample struct {
	At            time.Time `json:"at"`
	CapacityBytes int64     `json:"capacityBytes"`
	UsedBytes     int64     `json:"usedBytes"`
	DatasetsBytes int64     `json:"datasetsBytes"`
}

// RecordStorageSample stores a sample (one per instant; a repeat replaces it).
func (q *Queries) RecordStorageSample(ctx context.Context, s StorageSample) error {
	_, err := q.db.Exec(ctx, `INSERT INTO storage_samples (at, capacity_bytes, used_bytes, datasets_bytes) VALUES ($1, $2, $3, $4)
		ON CONFLICT (at) DO UPDATE SET capacity_bytes = excluded.capacity_bytes, used_bytes = excluded.used_bytes,
			datasets_bytes = excluded.datasets_bytes`, s.At, s.CapacityBytes, s.UsedBytes, s.DatasetsBytes)
	return err
}

// StorageSamples are the samples since a time, oldest first.
func (q *Queries) StorageSamples(ctx context.Context, since time.Time) ([]StorageSample, error) {
	rows, err := q.db.Query(ctx, `SELECT at, capacity_bytes, used_bytes, datasets_bytes FROM storage_samples WHERE at >= $1 ORDER BY at`, since)
	return collect(rows, err, func(r pgx.Row) (*StorageSample, error) {
		var s StorageSample
		return &s, r.Scan(&s.At, &s.CapacityBytes, &s.UsedBytes, &s.DatasetsBytes)
	})
}

// DatasetStoreBytes is what the datasets bucket holds by the records: every
// blob and the confirmed parts of the uploads still open.
func (q *Queries) DatasetStoreBytes(ctx context.Context) (blobs, parts int64, err error) {
	err = q.db.QueryRow(ctx, `SELECT coalesce((SELECT sum(size) FROM dataset_blobs), 0)::bigint,
		coalesce((SELECT sum(p.size) FROM dataset_upload_parts p JOIN dataset_uploads u ON u.id = p.upload_id WHERE u.status = 'open'), 0)::bigint`).
		Scan(&blobs, &parts)
	return blobs, parts, err
}

// NamedBytes is a share of the storage.
type NamedBytes struct {
	ID    string `json:"id" doc:"The customer's or region's key; empty for the rest"`
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

// StorageByCustomer are the customers storing the most (their blobs), the
// top n, and the sum of the others.
func (q *Queries) StorageByCustomer(ctx context.Context, n int) ([]NamedBytes, int64, error) {
	rows, err := q.db.Query(ctx, `SELECT t.id, t.company, sum(b.size)::bigint AS bytes FROM dataset_blobs b JOIN tenants t ON t.id = b.tenant_id
		GROUP BY t.id, t.company ORDER BY bytes DESC, t.company`)
	list, err := collect(rows, err, func(r pgx.Row) (*NamedBytes, error) {
		var b NamedBytes
		return &b, r.Scan(&b.ID, &b.Name, &b.Bytes)
	})
	if err != nil {
		return nil, 0, err
	}
	var others int64
	if len(list) > n {
		for _, b := range list[n:] {
			others += b.Bytes
		}
		list = list[:n]
	}
	return list, others, nil
}

// PlatformBlobBytes is what the public (platform) datasets store.
func (q *Queries) PlatformBlobBytes(ctx context.Context) (int64, error) {
	var n int64
	err := q.db.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM dataset_blobs WHERE tenant_id IS NULL`).Scan(&n)
	return n, err
}

// MountedBytesByRegion are the bytes of the datasets mounted (or being
// mounted) on machines, by the machine's region.
func (q *Queries) MountedBytesByRegion(ctx context.Context) ([]NamedBytes, error) {
	rows, err := q.db.Query(ctx, `SELECT m.region, sum(d.size_bytes)::bigint AS bytes FROM dataset_mounts dm
		JOIN machines m ON m.id = dm.machine_id JOIN datasets d ON d.id = dm.dataset_id
		WHERE dm.status IN ('mounting', 'mounted') GROUP BY m.region ORDER BY bytes DESC, m.region`)
	return collect(rows, err, func(r pgx.Row) (*NamedBytes, error) {
		var b NamedBytes
		err := r.Scan(&b.Name, &b.Bytes)
		b.ID = b.Name
		return &b, err
	})
}

// TenantQuota is a customer's storage against its quota.
type TenantQuota struct {
	TenantID      string `json:"customerId" format:"uuid"`
	Company       string `json:"company"`
	Code          string `json:"code"`
	UsedBytes     int64  `json:"usedBytes"`
	ReservedBytes int64  `json:"reservedBytes"`
	QuotaBytes    int64  `json:"quotaBytes"`
	CustomQuota   bool   `json:"customQuota" doc:"An admin set it; otherwise the default"`
	DatasetCount  int    `json:"datasetCount"`
}

var quotaSort = map[string]string{"usedBytes": "used", "quotaBytes": "quota", "company": "t.company", "reservedBytes": "reserved",
	"usage": "CASE WHEN coalesce(t.storage_quota_bytes, $1) = 0 THEN 0 ELSE used::float8 / coalesce(t.storage_quota_bytes, $1) END"}

// ListTenantQuotas pages the customers with their use and quota; q
// searches the company, code and contact.
func (q *Queries) ListTenantQuotas(ctx context.Context, defaultQuota int64, search string, p Page) ([]TenantQuota, int, error) {
	w := &where{args: []any{defaultQuota}}
	w.raw("$1::bigint >= 0") // the default quota is $1 in both queries
	if search != "" {
		w.add(`(t.company ILIKE %[1]s OR t.code ILIKE %[1]s OR t.name ILIKE %[1]s)`, likePattern(search))
	}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM tenants t`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT t.id, t.company, t.code, used, reserved, coalesce(t.storage_quota_bytes, $1) AS quota,
			t.storage_quota_bytes IS NOT NULL, datasets
		FROM tenants t,
		LATERAL (SELECT coalesce(sum(size), 0)::bigint AS used FROM dataset_blobs b WHERE b.tenant_id = t.id AND b.verified) u,
		LATERAL (SELECT coalesce(sum(reserved_bytes) FILTER (WHERE status IN ('uploading', 'processing')), 0)::bigint AS reserved,
			count(*)::int AS datasets FROM datasets d WHERE d.tenant_id = t.id AND d.deleted_at IS NULL) r`+
		w.sql()+p.orderBy(quotaSort, "used DESC, t.company, t.id")+p.limitOffset(), w.args...)
	list, err := collect(rows, err, func(r pgx.Row) (*TenantQuota, error) {
		var t TenantQuota
		return &t, r.Scan(&t.TenantID, &t.Company, &t.Code, &t.UsedBytes, &t.ReservedBytes, &t.QuotaBytes, &t.CustomQuota, &t.DatasetCount)
	})
	return list, total, err
}

// SetTenantQuota sets a customer's quota (nil: back to the default) and returns the one before.
func (q *Queries) SetTenantQuota(ctx context.Context, tenantID string, quota *int64) (*int64, error) {
	var before *int64
	err := q.db.QueryRow(ctx, `UPDATE tenants t SET storage_quota_bytes = $2, updated_at = now()
		FROM (SELECT storage_quota_bytes FROM tenants WHERE id = $1 FOR UPDATE) old WHERE t.id = $1
		RETURNING old.storage_quota_bytes`, tenantID, quota).Scan(&before)
	return before, notFound(err)
}

// UnusedDataset is a dataset nobody used for a while.
type UnusedDataset struct {
	DatasetID  string     `json:"datasetId" format:"uuid"`
	Name       string     `json:"name"`
	TenantID   string     `json:"customerId" doc:"Empty for a public dataset"`
	Company    string     `json:"company"`
	Status     string     `json:"status"`
	Bytes      int64      `json:"bytes" doc:"What deleting it would free: its blobs no other dataset uses"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// freeable is the bytes of the blobs of dataset d that no other dataset's file points at.
const freeable = `coalesce((SELECT sum(b.size) FROM dataset_blobs b WHERE b.id IN (SELECT f.blob_id FROM dataset_files f WHERE f.dataset_id = d.id)
	AND NOT EXISTS (SELECT 1 FROM dataset_files o WHERE o.blob_id = b.id AND o.dataset_id <> d.id)), 0)::bigint`

// UnusedDatasets are the datasets not downloaded, mounted or used by a
// task since before (nor created since), most bytes first, with their total.
func (q *Queries) UnusedDatasets(ctx context.Context, before time.Time, limit int) ([]UnusedDataset, int, int64, error) {
	rows, err := q.db.Query(ctx, `SELECT d.id, d.name, coalesce(d.tenant_id::text, ''), coalesce(t.company, ''), d.status, `+freeable+` AS bytes,
			d.last_used_at, d.created_at, count(*) OVER (), (sum(`+freeable+`) OVER ())::bigint
		FROM datasets d LEFT JOIN tenants t ON t.id = d.tenant_id
		WHERE d.deleted_at IS NULL AND d.status = 'available' AND coalesce(d.last_used_at, d.created_at) < $1
			AND NOT EXISTS (SELECT 1 FROM dataset_mounts m WHERE m.dataset_id = d.id AND m.status IN ('mounting', 'mounted', 'unmounting'))
		ORDER BY bytes DESC, d.created_at LIMIT $2`, before, limit)
	return scanUnusedDatasets(rows, err)
}

// scanUnusedDatasets reads rows of UnusedDatasets' columns, each with the
// count and the bytes of all of them (window functions).
func scanUnusedDatasets(rows pgx.Rows, err error) ([]UnusedDataset, int, int64, error) {
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	list := []UnusedDataset{}
	var count int
	var total int64
	for rows.Next() {
		var u UnusedDataset
		if err := rows.Scan(&u.DatasetID, &u.Name, &u.TenantID, &u.Company, &u.Status, &u.Bytes, &u.LastUsedAt, &u.CreatedAt, &count, &total); err != nil {
			return nil, 0, 0, err
		}
		list = append(list, u)
	}
	return list, count, total, rows.Err()
}

// DuplicateContent is content stored in several blobs.
type DuplicateContent struct {
	MD5          string `json:"md5"`
	Size         int64  `json:"size"`
	Blobs        int    `json:"blobs"`
	Owners       int    `json:"owners" doc:"Companies (and the platform) holding a copy"`
	SavableBytes int64  `json:"savableBytes" doc:"(blobs - 1) × size"`
}

// DuplicateBlobs are the contents (md5 and size) kept in several verified
// blobs, across owners, most savable bytes first, with the total.
func (q *Queries) DuplicateBlobs(ctx context.Context, limit int) ([]DuplicateContent, int, int64, error) {
	rows, err := q.db.Query(ctx, `SELECT md5, size, count(*)::int, count(DISTINCT coalesce(tenant_id::text, ''))::int,
			((count(*) - 1) * size)::bigint AS savable, count(*) OVER (), (sum((count(*) - 1) * size) OVER ())::bigint
		FROM dataset_blobs WHERE verified AND orphaned_at IS NULL GROUP BY md5, size HAVING count(*) > 1
		ORDER BY savable DESC, md5 LIMIT $1`, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	list := []DuplicateContent{}
	var count int
	var total int64
	for rows.Next() {
		var d DuplicateContent
		if err := rows.Scan(&d.MD5, &d.Size, &d.Blobs, &d.Owners, &d.SavableBytes, &count, &total); err != nil {
			return nil, 0, 0, err
		}
		list = append(list, d)
	}
	return list, count, total, rows.Err()
}

// AbandonedUpload is an upload nobody touched for a while.
type AbandonedUpload struct {
	UploadID    string    `json:"uploadId" format:"uuid"`
	DatasetID   string    `json:"datasetId" format:"uuid"`
	DatasetName string    `json:"datasetName"`
	Company     string    `json:"company"`
	Path        string    `json:"path"`
	Bytes       int64     `json:"bytes" doc:"Its confirmed parts"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// AbandonedUploads are the open uploads untouched since before, with their parts' bytes.
func (q *Queries) AbandonedUploads(ctx context.Context, before time.Time, limit int) ([]AbandonedUpload, int, int64, error) {
	rows, err := q.db.Query(ctx, `SELECT u.id, u.dataset_id, d.name, coalesce(t.company, ''), u.path,
			coalesce((SELECT sum(p.size) FROM dataset_upload_parts p WHERE p.upload_id = u.id), 0)::bigint AS bytes, u.updated_at,
			count(*) OVER (), (sum(coalesce((SELECT sum(p.size) FROM dataset_upload_parts p WHERE p.upload_id = u.id), 0)) OVER ())::bigint
		FROM dataset_uploads u JOIN datasets d ON d.id = u.dataset_id LEFT JOIN tenants t ON t.id = u.tenant_id
		WHERE u.status = 'open' AND u.updated_at < $1 ORDER BY bytes DESC, u.updated_at LIMIT $2`, before, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	list := []AbandonedUpload{}
	var count int
	var total int64
	for rows.Next() {
		var a AbandonedUpload
		if err := rows.Scan(&a.UploadID, &a.DatasetID, &a.DatasetName, &a.Company, &a.Path, &a.Bytes, &a.UpdatedAt, &count, &total); err != nil {
			return nil, 0, 0, err
		}
		list = append(list, a)
	}
	return list, count, total, rows.Err()
}

// FailedLeftovers are the failed datasets that still hold files or a
// reservation, with what removing them frees.
func (q *Queries) FailedLeftovers(ctx context.Context, limit int) ([]UnusedDataset, int, int64, error) {
	rows, err := q.db.Query(ctx, `SELECT d.id, d.name, coalesce(d.tenant_id::text, ''), coalesce(t.company, ''), d.status,
			`+freeable+` + d.reserved_bytes AS bytes, d.last_used_at, d.created_at, count(*) OVER (), (sum(`+freeable+` + d.reserved_bytes) OVER ())::bigint
		FROM datasets d LEFT JOIN tenants t ON t.id = d.tenant_id
		WHERE d.deleted_at IS NULL AND d.status = 'failed'
			AND (d.reserved_bytes > 0 OR EXISTS (SELECT 1 FROM dataset_files f WHERE f.dataset_id = d.id))
		ORDER BY bytes DESC, d.created_at LIMIT $1`, limit)
	return scanUnusedDatasets(rows, err)
}

// OrphanBlob is a blob no file points at.
type OrphanBlob struct {
	ID        string
	ObjectKey string
	Size      int64
}

// OrphanBlobs are blobs no file points at: orphaned by a delete, or
// left unreferenced since before (an upload or ingest that never recorded its file).
func (q *Queries) OrphanBlobs(ctx context.Context, before time.Time, limit int) ([]OrphanBlob, error) {
	rows, err := q.db.Query(ctx, `SELECT b.id, b.object_key, b.size FROM dataset_blobs b
		WHERE (b.orphaned_at IS NOT NULL OR b.created_at < $1)
			AND NOT EXISTS (SELECT 1 FROM dataset_files f WHERE f.blob_id = b.id)
		ORDER BY b.orphaned_at NULLS LAST, b.created_at LIMIT $2`, before, limit)
	return collect(rows, err, func(r pgx.Row) (*OrphanBlob, error) {
		var b OrphanBlob
		return &b, r.Scan(&b.ID, &b.ObjectKey, &b.Size)
	})
}

// DeleteOrphanBlob removes a blob's row when still no file points at it;
// false when one does again (it stays). Run it in the transaction that
// removes the object, so a failed removal keeps the row.
func (q *Queries) DeleteOrphanBlob(ctx context.Context, id string) (bool, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM dataset_blobs b WHERE b.id = $1 AND NOT EXISTS (SELECT 1 FROM dataset_files f WHERE f.blob_id = b.id)`, id)
	if err != nil {
		if IsForeignKeyViolation(err) {
			return false, nil
		}
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
