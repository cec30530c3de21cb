package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Share statuses.
const (
	SharePending  = "pending"
	ShareApproved = "approved"
	ShareRejected = "rejected"
)

// DatasetShare is a dataset shared read-only with another company.
type DatasetShare struct {
	ID          string     `json:"id" format:"uuid"`
	DatasetID   string     `json:"datasetId" format:"uuid"`
	DatasetName string     `json:"datasetName"`
	OwnerID     string     `json:"ownerTenantId" doc:"The dataset's company"`
	TenantID    string     `json:"tenantId" format:"uuid" doc:"The company it is shared with"`
	TenantCode  string     `json:"tenantCode"`
	TenantName  string     `json:"tenantName" doc:"The company's name"`
	Status      string     `json:"status" enum:"pending,approved,rejected"`
	Reason      string     `json:"reason" doc:"The admin's reason when rejected"`
	RequestedBy string     `json:"requestedBy"`
	CreatedAt   time.Time  `json:"createdAt"`
	DecidedAt   *time.Time `json:"decidedAt"`
}

const shareSelect = `SELECT sh.id, sh.dataset_id, d.name, coalesce(d.tenant_id::text, ''), sh.tenant_id, t.code, t.company, sh.status, sh.reason,
	coalesce(sh.requested_by::text, ''), sh.created_at, sh.decided_at
	FROM dataset_shares sh JOIN datasets d ON d.id = sh.dataset_id JOIN tenants t ON t.id = sh.tenant_id`

func scanShare(r pgx.Row) (*DatasetShare, error) {
	var s DatasetShare
	err := r.Scan(&s.ID, &s.DatasetID, &s.DatasetName, &s.OwnerID, &s.TenantID, &s.TenantCode, &s.TenantName, &s.Status, &s.Reason,
		&s.RequestedBy, &s.CreatedAt, &s.DecidedAt)
	return &s, notFound(err)
}

// ShareDataset asks to share a dataset with a company: a pending share, or
// a rejected one asked again; an approved or pending one stays as it is.
func (q *Queries) ShareDataset(ctx context.Context, datasetID, tenantID, userID string) (*DatasetShare, error) {
	var id string
	err := q.db.QueryRow(ctx, `INSERT INTO dataset_shares (dataset_id, tenant_id, requested_by) VALUES ($1, $2, nullif($3, '')::uuid)
		ON CONFLICT (dataset_id, tenant_id) DO UPDATE SET
			status = CASE WHEN dataset_shares.status = 'rejected' THEN 'pending' ELSE dataset_shares.status END,
			reason = CASE WHEN dataset_shares.status = 'rejected' THEN '' ELSE dataset_shares.reason END,
			requested_by = CASE WHEN dataset_shares.status = 'rejected' THEN excluded.requested_by ELSE dataset_shares.requested_by END,
			created_at = CASE WHEN dataset_shares.status = 'rejected' THEN now() ELSE dataset_shares.created_at END,
			decided_at = CASE WHEN dataset_shares.status = 'rejected' THEN NULL ELSE dataset_shares.decided_at END
		RETURNING id`, datasetID, tenantID, userID).Scan(&id)
	if err != nil {
		return nil, err
	}
	return q.GetShare(ctx, id)
}

// GetShare reads a share.
func (q *Queries) GetShare(ctx context.Context, id string) (*DatasetShare, error) {
	return scanShare(q.db.QueryRow(ctx, shareSelect+` WHERE sh.id = $1::uuid`, id))
}

// ListDatasetShares lists a dataset's shares, newest first.
func (q *Queries) ListDatasetShares(ctx context.Context, datasetID string) ([]DatasetShare, error) {
	rows, err := q.db.Query(ctx, shareSelect+` WHERE sh.dataset_id = $1 ORDER BY sh.created_at DESC, sh.id`, datasetID)
	return collect(rows, err, scanShare)
}

// PendingShares lists the pending shares of the datasets given, oldest first.
func (q *Queries) PendingShares(ctx context.Context, datasetIDs []string) ([]DatasetShare, error) {
	rows, err := q.db.Query(ctx, shareSelect+` WHERE sh.dataset_id = ANY($1::uuid[]) AND sh.status = 'pending' ORDER BY sh.created_at, sh.id`, datasetIDs)
	return collect(rows, err, scanShare)
}

// DeleteShare revokes a share of a dataset.
func (q *Queries) DeleteShare(ctx context.Context, datasetID, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM dataset_shares WHERE id = $1 AND dataset_id = $2`, id, datasetID)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// LockShare reads a share for update.
func (q *Queries) LockShare(ctx context.Context, id string) (*DatasetShare, error) {
	s, err := scanShare(q.db.QueryRow(ctx, shareSelect+` WHERE sh.id = $1::uuid AND d.deleted_at IS NULL FOR UPDATE OF sh`, id))
	return s, err
}

// DecideShare approves or rejects a pending share.
func (q *Queries) DecideShare(ctx context.Context, id, status, reason, adminID string) error {
	tag, err := q.db.Exec(ctx, `UPDATE dataset_shares SET status = $2, reason = $3, decided_by = nullif($4, '')::uuid, decided_at = now()
		WHERE id = $1 AND status = 'pending'`, id, status, reason, adminID)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// TenantOwnerIDs are the active owners of a company (the users told about its datasets' shares).
func (q *Queries) TenantOwnerIDs(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT id FROM users WHERE tenant_id = $1 AND role = 'owner' AND status = 'active' ORDER BY id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
