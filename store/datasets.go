package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dataset statuses (requirements 4.5.4).
const (
	DatasetUploading  = "uploading"
	DatasetProcessing = "processing"
	DatasetAvailable  = "available"
	DatasetFailed     = "failed"
)

// Dataset access (docs/datasets.md): private and team for a customer's
// dataset; public and private for a public (platform) one.
const (
	AccessPrivate = "private"
	AccessTeam    = "team"
	AccessPublic  = "public"
)

// Dataset is a dataset as lists and the detail show it.
type Dataset struct {
	ID            string         `json:"id" format:"uuid"`
	TenantID      string         `json:"tenantId" doc:"The owner company; empty for a public (platform) dataset"`
	TenantName    string         `json:"tenantName" doc:"The owner company's name; empty for a public dataset (the console shows 平台)"`
	Public        bool           `json:"public" doc:"A platform dataset (公共数据集)"`
	Name          string         `json:"name"`
	Type          string         `json:"type" enum:"image,text,audio,video,other"`
	Description   string         `json:"description"`
	Tags          []string       `json:"tags"`
	Access        string         `json:"access" enum:"private,team,public" doc:"Customer datasets: private (私有) or team (团队共享); public datasets: public (公开) or private (admins only)"`
	Source        string         `json:"source" enum:"upload,url,machine"`
	SourceRef     string         `json:"sourceRef" doc:"The URL or machine path imported from"`
	Status        string         `json:"status" enum:"uploading,processing,available,failed"`
	StatusReason  string         `json:"statusReason" doc:"A code (uploads.reason.*) the console translates; empty when there is none"`
	StatusParams  map[string]any `json:"statusParams"`
	SizeBytes     int64          `json:"sizeBytes"`
	FileCount     int            `json:"fileCount"`
	ReservedBytes int64          `json:"reservedBytes" doc:"Quota held while it is uploading or processing"`
	ProgressBytes int64          `json:"progressBytes" doc:"Imports: bytes fetched so far"`
	DownloadCount int            `json:"downloadCount"`
	CreatedBy     string         `json:"createdBy" doc:"The uploader's user ID (empty if the user is gone)"`
	CreatedByName string         `json:"createdByName"`
	Shared        bool           `json:"shared" doc:"Shared with the caller's company by another company (共享给我的): read-only"`
	LastUsedAt    *time.Time     `json:"lastUsedAt"`
	CreatedAt     time.Time      `json:"createdAt"`
	UpdatedAt     time.Time      `json:"updatedAt"`
}

// DatasetScope is who reads datasets. A customer user (TenantID, UserID,
// Owner) sees its company's team datasets, its own private ones (all of
// them when it is an owner), the public datasets that are public, and
// those shared with its company and approved. Admin sees everything.
type DatasetScope struct {
	TenantID string
	UserID   string
	Owner    bool
	Admin    bool
}

// add restricts the datasets d to those the scope may read.
func (s DatasetScope) add(w *where) error {
	if s.Admin {
		return nil
	}
	if s.TenantID == "" {
		return errors.New("a dataset query without a tenant")
	}
	w.add(`(d.tenant_id = %[1]s::uuid AND (d.access = 'team' OR %[3]s OR d.created_by = nullif(%[2]s, '')::uuid)
		OR d.tenant_id IS NULL AND d.access = 'public'
		OR EXISTS (SELECT 1 FROM dataset_shares sh WHERE sh.dataset_id = d.id AND sh.tenant_id = %[1]s::uuid AND sh.status = 'approved'))`,
		s.TenantID, s.UserID, s.Owner)
	return nil
}

// datasetSelect reads the row of datasets d with its owner's name; $1 is
// the caller's tenant (” for admins), for the shared flag.
const datasetSelect = `SELECT d.id, coalesce(d.tenant_id::text, ''), coalesce(tn.company, ''), d.name, d.type, d.description, d.tags,
	d.access, d.source, d.source_ref, d.status, d.status_reason, d.status_params, d.size_bytes, d.file_count, d.reserved_bytes,
	d.progress_bytes, d.download_count, coalesce(d.created_by::text, ''), d.created_by_name, d.last_used_at, d.created_at, d.updated_at
	FROM datasets d LEFT JOIN tenants tn ON tn.id = d.tenant_id`

func scanDataset(row pgx.Row, callerTenant string) (*Dataset, error) {
	var d Dataset
	var params []byte
	err := row.Scan(&d.ID, &d.TenantID, &d.TenantName, &d.Name, &d.Type, &d.Description, &d.Tags, &d.Access, &d.Source, &d.SourceRef,
		&d.Status, &d.StatusReason, &params, &d.SizeBytes, &d.FileCount, &d.ReservedBytes, &d.ProgressBytes, &d.DownloadCount,
		&d.CreatedBy, &d.CreatedByName, &d.LastUsedAt, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	d.Public = d.TenantID == ""
	d.Shared = callerTenant != "" && !d.Public && d.TenantID != callerTenant
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.StatusParams = map[string]any{}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &d.StatusParams); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

// GetDataset reads a dataset the scope may read (ErrNotFound otherwise, and for deleted ones).
func (q *Queries) GetDataset(ctx context.Context, s DatasetScope, id string) (*Dataset, error) {
	w := &where{}
	if err := s.add(w); err != nil {
		return nil, err
	}
	w.add("d.id = %s::uuid", id)
	w.raw("d.deleted_at IS NULL")
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+w.sql(), w.args...), s.TenantID)
}

// NewDataset is a dataset as it is created.
type NewDataset struct {
	TenantID      string // '' for a public dataset
	CreatedBy     string
	CreatedByName string
	Name          string
	Type          string
	Description   string
	Tags          []string
	Access        string
	Source        string
	SourceRef     string
	Status        string // uploading unless said
	ReservedBytes int64
}

// CreateDataset records a dataset; the caller has reserved its quota
// (ReserveStorage) in the same transaction.
func (q *Queries) CreateDataset(ctx context.Context, n NewDataset) (string, error) {
	if n.Tags == nil {
		n.Tags = []string{}
	}
	if n.Status == "" {
		n.Status = DatasetUploading
	}
	var id string
	err := q.db.QueryRow(ctx, `INSERT INTO datasets (tenant_id, created_by, created_by_name, name, type, description, tags, access, source,
			source_ref, status, reserved_bytes)
		VALUES (nullif($1, '')::uuid, nullif($2, '')::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		n.TenantID, n.CreatedBy, n.CreatedByName, n.Name, n.Type, n.Description, n.Tags, n.Access, n.Source, n.SourceRef, n.Status,
		n.ReservedBytes).Scan(&id)
	return id, err
}

// StorageUse is a company's storage: its blobs, what its uploads in
// progress hold, and its quota (the default when it has none of its own).
type StorageUse struct {
	UsedBytes     int64 `json:"usedBytes" doc:"The company's stored bytes (its blobs; files that point at public data cost nothing)"`
	ReservedBytes int64 `json:"reservedBytes" doc:"Held by uploads and imports in progress"`
	QuotaBytes    int64 `json:"quotaBytes"`
	CustomQuota   bool  `json:"customQuota" doc:"An admin set this company's quota; otherwise it is the default"`
}

// Free is what the company may still store.
func (u StorageUse) Free() int64 { return u.QuotaBytes - u.UsedBytes - u.ReservedBytes }

// TenantStorage reads a company's storage use. Blobs count once verified
// (the ingest's end); until then the dataset's reservation covers them. lock: lock the tenant's row
// (FOR UPDATE, inside a transaction) so that two reservations are decided
// one after the other.
func (q *Queries) TenantStorage(ctx context.Context, tenantID string, defaultQuota int64, lock bool) (StorageUse, error) {
	var u StorageUse
	var quota *int64
	sql := `SELECT storage_quota_bytes FROM tenants WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	if err := q.db.QueryRow(ctx, sql, tenantID).Scan(&quota); err != nil {
		return u, notFound(err)
	}
	u.QuotaBytes, u.CustomQuota = defaultQuota, quota != nil
	if quota != nil {
		u.QuotaBytes = *quota
	}
	err := q.db.QueryRow(ctx, `SELECT
			coalesce((SELECT sum(size) FROM dataset_blobs WHERE tenant_id = $1 AND verified), 0),
			coalesce((SELECT sum(reserved_bytes) FROM datasets WHERE tenant_id = $1 AND status IN ('uploading', 'processing')
				AND deleted_at IS NULL), 0)`, tenantID).Scan(&u.UsedBytes, &u.ReservedBytes)
	return u, err
}
