package store

import (
	"context"
	"time"
)

// Dataset list tabs: the customer's three (我的数据集, 公共数据集, 共享给我的)
// and the admins' library (公共, 客户, 待审核).
const (
	DatasetTabMine     = "mine"
	DatasetTabPublic   = "public"
	DatasetTabShared   = "shared"
	DatasetTabPlatform = "platform" // admins: every public (platform) dataset, public or not
	DatasetTabCustomer = "customer" // admins: every customer's dataset
	DatasetTabPending  = "pending"  // admins: datasets with a share waiting for approval
)

// DatasetFilter narrows a list of datasets.
type DatasetFilter struct {
	Tab    string
	Q      string // name, description or a tag contains
	Type   string
	Status string
}

var datasetSort = map[string]string{"name": "d.name", "sizeBytes": "d.size_bytes", "createdAt": "d.created_at",
	"fileCount": "d.file_count", "updatedAt": "d.updated_at", "downloadCount": "d.download_count"}

// ListDatasets pages the datasets of a tab the scope may read.
func (q *Queries) ListDatasets(ctx context.Context, s DatasetScope, f DatasetFilter, p Page) ([]Dataset, int, error) {
	w := &where{}
	if err := s.add(w); err != nil {
		return nil, 0, err
	}
	w.raw("d.deleted_at IS NULL")
	switch f.Tab {
	case DatasetTabMine:
		w.add("d.tenant_id = %s::uuid", s.TenantID)
	case DatasetTabPublic:
		w.raw("d.tenant_id IS NULL AND d.access = 'public'")
	case DatasetTabShared:
		w.add(`d.tenant_id IS DISTINCT FROM %[1]s::uuid AND EXISTS (SELECT 1 FROM dataset_shares sh WHERE sh.dataset_id = d.id
			AND sh.tenant_id = %[1]s::uuid AND sh.status = 'approved')`, s.TenantID)
	case DatasetTabPlatform:
		w.raw("d.tenant_id IS NULL")
	case DatasetTabCustomer:
		w.raw("d.tenant_id IS NOT NULL")
	case DatasetTabPending:
		w.raw("EXISTS (SELECT 1 FROM dataset_shares sh WHERE sh.dataset_id = d.id AND sh.status = 'pending')")
	}
	if f.Q != "" {
		w.add(`(d.name ILIKE %[1]s OR d.description ILIKE %[1]s OR EXISTS (SELECT 1 FROM unnest(d.tags) tg WHERE tg ILIKE %[1]s))`,
			likePattern(f.Q))
	}
	if f.Type != "" {
		w.add("d.type = %s", f.Type)
	}
	if f.Status != "" {
		w.add("d.status = %s", f.Status)
	}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM datasets d`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, datasetSelect+w.sql()+p.orderBy(datasetSort, "d.created_at DESC, d.id")+p.limitOffset(), w.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []Dataset{}
	for rows.Next() {
		d, err := scanDataset(rows, s.TenantID)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, *d)
	}
	return list, total, rows.Err()
}

// LockDatasetForChange reads a dataset (not deleted) for update, whoever owns it:
// the caller has checked that it may (GetDataset with its scope).
func (q *Queries) LockDatasetForChange(ctx context.Context, id string) (*Dataset, error) {
	return scanDataset(q.db.QueryRow(ctx, datasetSelect+` WHERE d.id = $1::uuid AND d.deleted_at IS NULL FOR UPDATE OF d`, id), "")
}

// DatasetEdit is what an edit changes.
type DatasetEdit struct {
	Name        string
	Type        string
	Description string
	Tags        []string
	Access      string
}

// UpdateDataset changes a dataset's name, type, description, tags and access.
func (q *Queries) UpdateDataset(ctx context.Context, id string, e DatasetEdit) error {
	if e.Tags == nil {
		e.Tags = []string{}
	}
	tag, err := q.db.Exec(ctx, `UPDATE datasets SET name = $2, type = $3, description = $4, tags = $5, access = $6, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL`, id, e.Name, e.Type, e.Description, e.Tags, e.Access)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// SetDatasetAccess changes a dataset's access alone.
func (q *Queries) SetDatasetAccess(ctx context.Context, id, access string) error {
	tag, err := q.db.Exec(ctx, `UPDATE datasets SET access = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, id, access)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// DatasetUse is what holds a dataset: its live mounts and the tasks
// (queued or running) that bind it.
type DatasetUse struct {
	Mounts int
	Tasks  int
}

// DatasetInUse counts the dataset's live mounts and its queued or running tasks.
func (q *Queries) DatasetInUse(ctx context.Context, id string) (DatasetUse, error) {
	var u DatasetUse
	err := q.db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM dataset_mounts WHERE dataset_id = $1 AND status IN ('mounting', 'mounted', 'unmounting')),
			(SELECT count(*) FROM dataset_task_uses u JOIN tasks t ON t.id = u.task_id
				WHERE u.dataset_id = $1 AND t.status IN ('queued', 'running') AND t.deleted_at IS NULL)`, id).Scan(&u.Mounts, &u.Tasks)
	return u, err
}

// DeleteDataset hides a dataset and removes its files (their blobs, when
// no other file points at them, are marked orphaned for DatasetCleanup),
// its shares and its reservation: the company's use drops once the
// cleanup removed the blobs. The row itself goes with the cleanup.
func (q *Queries) DeleteDataset(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `UPDATE datasets SET deleted_at = now(), updated_at = now(), reserved_bytes = 0
		WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM dataset_shares WHERE dataset_id = $1`, id); err != nil {
		return err
	}
	_, err = q.deleteFiles(ctx, id, "", true)
	return err
}

// CountDatasetDownload counts a download and marks the dataset used now.
func (q *Queries) CountDatasetDownload(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE datasets SET last_used_at = now(), download_count = download_count + 1 WHERE id = $1`, id)
	return err
}

// DatasetTaskUse is a task that bound the dataset.
type DatasetTaskUse struct {
	TaskID        string    `json:"taskId" format:"uuid"`
	TaskName      string    `json:"taskName"`
	TaskStatus    string    `json:"taskStatus" enum:"queued,running,succeeded,failed,stopped"`
	ContainerPath string    `json:"containerPath"`
	CreatedAt     time.Time `json:"createdAt" doc:"When the task bound the dataset"`
}

// DatasetTasks pages the tasks of tenantID ("" every tenant's) that used the dataset.
func (q *Queries) DatasetTasks(ctx context.Context, datasetID, tenantID string, p Page) ([]DatasetTaskUse, int, error) {
	const from = ` FROM dataset_task_uses u JOIN tasks t ON t.id = u.task_id
		WHERE u.dataset_id = $1 AND t.deleted_at IS NULL AND ($2 = '' OR t.tenant_id = nullif($2, '')::uuid)`
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*)`+from, datasetID, tenantID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT t.id, t.name, t.status, u.container_path, u.created_at`+from+
		p.orderBy(map[string]string{"createdAt": "u.created_at", "taskName": "t.name"}, "u.created_at DESC, t.id")+p.limitOffset(),
		datasetID, tenantID)
	list := []DatasetTaskUse{}
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var u DatasetTaskUse
		if err := rows.Scan(&u.TaskID, &u.TaskName, &u.TaskStatus, &u.ContainerPath, &u.CreatedAt); err != nil {
			return nil, 0, err
		}
		list = append(list, u)
	}
	return list, total, rows.Err()
}

// DatasetIDsToClean are the deleted datasets whose rows are still there
// (the cleanup removes them) and the failed ones that still hold files.
func (q *Queries) DatasetIDsToClean(ctx context.Context, failedBefore time.Time, limit int) (deleted, failed []string, err error) {
	rows, err := q.db.Query(ctx, `SELECT id, deleted_at IS NOT NULL FROM datasets
		WHERE deleted_at IS NOT NULL
		   OR status = 'failed' AND updated_at < $1 AND EXISTS (SELECT 1 FROM dataset_files f WHERE f.dataset_id = datasets.id)
		ORDER BY updated_at LIMIT $2`, failedBefore, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var del bool
		if err := rows.Scan(&id, &del); err != nil {
			return nil, nil, err
		}
		if del {
			deleted = append(deleted, id)
		} else {
			failed = append(failed, id)
		}
	}
	return deleted, failed, rows.Err()
}

// PurgeDataset removes a deleted dataset's row (with its uploads' rows,
// mounts' and task uses' records) once it has no open upload left: the
// uploads' cleanup aborts those first. Its files were removed when it was deleted.
func (q *Queries) PurgeDataset(ctx context.Context, id string) (bool, error) {
	if _, err := q.deleteFiles(ctx, id, "", true); err != nil {
		return false, err
	}
	tag, err := q.db.Exec(ctx, `DELETE FROM datasets d WHERE d.id = $1 AND d.deleted_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM dataset_uploads u WHERE u.dataset_id = d.id AND u.status = 'open')
		AND NOT EXISTS (SELECT 1 FROM dataset_mounts m WHERE m.dataset_id = d.id AND m.status IN ('mounting', 'mounted', 'unmounting'))`, id)
	return err == nil && tag.RowsAffected() == 1, err
}

// ClearFailedDataset removes a failed dataset's files (their blobs are orphaned).
func (q *Queries) ClearFailedDataset(ctx context.Context, id string) error {
	_, err := q.deleteFiles(ctx, id, "", true)
	if err != nil {
		return err
	}
	_, err = q.db.Exec(ctx, `UPDATE datasets SET size_bytes = 0, file_count = 0 WHERE id = $1 AND status = 'failed'`, id)
	return err
}
