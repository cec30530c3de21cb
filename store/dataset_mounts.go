package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dataset mount statuses (docs/datasets.md).
const (
	MountMounting   = "mounting"
	MountMounted    = "mounted"
	MountFailed     = "failed"
	MountUnmounting = "unmounting"
	MountUnmounted  = "unmounted"
)

// ErrMountPathInUse: the machine has a live mount at that path.
var ErrMountPathInUse = errors.New("the machine has a live dataset mount at that path")

// DatasetMount is a dataset copied read-only onto a path of a leased machine.
type DatasetMount struct {
	ID           string         `json:"id" format:"uuid"`
	TenantID     string         `json:"tenantId"`
	DatasetID    string         `json:"datasetId"`
	DatasetName  string         `json:"datasetName"`
	MachineID    string         `json:"machineId"`
	MachineName  string         `json:"machineName"`
	AllocationID string         `json:"-"`
	Path         string         `json:"path"`
	Status       string         `json:"status" enum:"mounting,mounted,failed,unmounting,unmounted"`
	StatusReason string         `json:"statusReason" doc:"A code (mounts.reason.*) the console translates; empty when there is none"`
	StatusParams map[string]any `json:"statusParams"`
	CreatedBy    string         `json:"createdBy"`
	CreatedAt    time.Time      `json:"createdAt"`
	MountedAt    *time.Time     `json:"mountedAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	Progress     MountProgress  `json:"progress" doc:"The copy's progress, as the host last reported it (while mounting)"`
}

// MountProgress is how far the host's copy is.
type MountProgress struct {
	FilesDone  int   `json:"filesDone"`
	FilesTotal int   `json:"filesTotal"`
	BytesDone  int64 `json:"bytesDone"`
	BytesTotal int64 `json:"bytesTotal"`
}

const mountSelect = `SELECT dm.id, dm.tenant_id, dm.dataset_id, d.name, dm.machine_id, m.name, coalesce(dm.allocation_id::text, ''), dm.path,
	dm.status, dm.status_reason, dm.status_params, coalesce(dm.created_by::text, ''), dm.created_at, dm.mounted_at, dm.updated_at,
	dm.files_done, dm.files_total, dm.bytes_done, dm.bytes_total
	FROM dataset_mounts dm JOIN datasets d ON d.id = dm.dataset_id JOIN machines m ON m.id = dm.machine_id`

func scanMount(row pgx.Row) (*DatasetMount, error) {
	var m DatasetMount
	var params []byte
	if err := row.Scan(&m.ID, &m.TenantID, &m.DatasetID, &m.DatasetName, &m.MachineID, &m.MachineName, &m.AllocationID, &m.Path,
		&m.Status, &m.StatusReason, &params, &m.CreatedBy, &m.CreatedAt, &m.MountedAt, &m.UpdatedAt,
		&m.Progress.FilesDone, &m.Progress.FilesTotal, &m.Progress.BytesDone, &m.Progress.BytesTotal); err != nil {
		return nil, notFound(err)
	}
	m.StatusParams = map[string]any{}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &m.StatusParams); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// NewDatasetMount is a mount as it is asked for.
type NewDatasetMount struct {
	TenantID  string
	DatasetID string
	MachineID string
	Path      string
	CreatedBy string
}

// CreateDatasetMount records a mount (mounting) with the machine's live
// allocation; ErrMountPathInUse when the machine has a live one at the
// path, above it or under it.
func (q *Queries) CreateDatasetMount(ctx context.Context, n NewDatasetMount) (string, error) {
	// nor one inside another, nor around one: a copy's sync would remove the other
	var nested bool
	if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dataset_mounts WHERE machine_id = $1
			AND status IN ('mounting', 'mounted', 'unmounting')
			AND (path = $2 OR starts_with($2, path || '/') OR starts_with(path, $2 || '/')))`, n.MachineID, n.Path).Scan(&nested); err != nil {
		return "", err
	}
	if nested {
		return "", ErrMountPathInUse
	}
	var id string
	err := q.db.QueryRow(ctx, `INSERT INTO dataset_mounts (tenant_id, dataset_id, machine_id, allocation_id, path, created_by)
		VALUES ($1, $2, $3, (SELECT live_allocation_id FROM machines WHERE id = $3), $4, nullif($5, '')::uuid) RETURNING id`,
		n.TenantID, n.DatasetID, n.MachineID, n.Path, n.CreatedBy).Scan(&id)
	if IsUniqueViolation(err, "dataset_mounts_path_key") {
		return "", ErrMountPathInUse
	}
	return id, err
}

// GetDatasetMount reads a mount of the tenant ("" for any: the workflows).
func (q *Queries) GetDatasetMount(ctx context.Context, tenantID, id string) (*DatasetMount, error) {
	return scanMount(q.db.QueryRow(ctx, mountSelect+` WHERE dm.id = $1::uuid AND ($2 = '' OR dm.tenant_id = nullif($2, '')::uuid)`, id, tenantID))
}

// MountFilter narrows a list of mounts; TenantID is required.
type MountFilter struct {
	TenantID  string
	DatasetID string
	MachineID string
	Status    string
}

// ListDatasetMounts lists a company's mounts, newest first unless sorted
// (createdAt, mountedAt, status, path, datasetName, machineName).
func (q *Queries) ListDatasetMounts(ctx context.Context, f MountFilter, p Page) ([]DatasetMount, int, error) {
	if f.TenantID == "" {
		return nil, 0, errors.New("a mount query without a tenant")
	}
	w := &where{}
	w.add("dm.tenant_id = %s::uuid", f.TenantID)
	if f.DatasetID != "" {
		w.add("dm.dataset_id = %s::uuid", f.DatasetID)
	}
	if f.MachineID != "" {
		w.add("dm.machine_id = %s::uuid", f.MachineID)
	}
	if f.Status != "" {
		w.add("dm.status = %s", f.Status)
	}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM dataset_mounts dm`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := p.orderBy(map[string]string{"createdAt": "dm.created_at", "mountedAt": "dm.mounted_at", "status": "dm.status", "path": "dm.path",
		"datasetName": "d.name", "machineName": "m.name"}, "dm.created_at DESC")
	rows, err := q.db.Query(ctx, mountSelect+w.sql()+order+", dm.id"+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanMount)
	return list, total, err
}

// SetDatasetMountStatus records where a mount is (mounted sets mounted_at);
// from says which statuses it may leave (none: any).
func (q *Queries) SetDatasetMountStatus(ctx context.Context, id, status, reason string, params map[string]any, from ...string) (bool, error) {
	if params == nil {
		params = map[string]any{}
	}
	if from == nil {
		from = []string{}
	}
	tag, err := q.db.Exec(ctx, `UPDATE dataset_mounts SET status = $2, status_reason = $3, status_params = $4,
			mounted_at = CASE WHEN $2 = 'mounted' THEN now() ELSE mounted_at END, updated_at = now()
		WHERE id = $1 AND (cardinality($5::text[]) = 0 OR status = ANY($5))`, id, status, reason, params, from)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// UnmountLeaseMounts marks the live mounts of the allocation's tenant on
// its machine unmounted (the end of the lease removed them on the host).
func (q *Queries) UnmountLeaseMounts(ctx context.Context, allocationID string) (int64, error) {
	tag, err := q.db.Exec(ctx, `UPDATE dataset_mounts dm SET status = 'unmounted', status_reason = 'mounts.reason.leaseEnded',
			status_params = '{}', updated_at = now()
		FROM allocations al WHERE al.id = $1 AND dm.machine_id = al.machine_id AND dm.tenant_id = al.tenant_id
		  AND dm.status IN ('mounting', 'mounted', 'unmounting')`, allocationID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// agentMount is the mount as an agent may read it: of its machine, while
// the mount's tenant holds the machine's live allocation (once the lease
// ends, the next customer is root there and has the agent's key), mounting
// or mounted, of a dataset not deleted.
const agentMount = ` FROM dataset_mounts dm JOIN machines m ON m.id = dm.machine_id JOIN allocations al ON al.id = m.live_allocation_id
	JOIN datasets d ON d.id = dm.dataset_id`

const agentMountWhere = `
	WHERE dm.id = $1::uuid AND dm.machine_id = $2::uuid AND al.tenant_id = dm.tenant_id AND dm.allocation_id = al.id
	  AND dm.status IN ('mounting', 'mounted') AND d.deleted_at IS NULL AND ` + mountReadable

// mountReadable: the mount's company (and its creator) may still read the
// dataset d of the mount dm, as DatasetScope says: a narrowed access (team
// to private, public to admins only) or a revoked share stops a mount's
// files and its binding into tasks at once, not only at the next unmount.
const mountReadable = `(d.tenant_id IS NULL AND d.access = 'public'
	  OR d.tenant_id = dm.tenant_id AND (d.access = 'team' OR d.created_by = dm.created_by
	    OR EXISTS (SELECT 1 FROM users u WHERE u.id = dm.created_by AND u.role = 'owner' AND u.tenant_id = dm.tenant_id))
	  OR EXISTS (SELECT 1 FROM dataset_shares sh WHERE sh.dataset_id = d.id AND sh.tenant_id = dm.tenant_id AND sh.status = 'approved'))`

// ManifestFile is one file of a dataset as a mount lists it.
type ManifestFile struct {
	Path string
	Size int64
	MD5  string
}

// AgentMountManifest lists the files of the mount's dataset for the agent
// of the machine (ErrNotFound when it may not have them).
func (q *Queries) AgentMountManifest(ctx context.Context, machineID, mountID string) (string, []ManifestFile, error) {
	var datasetID string
	if err := q.db.QueryRow(ctx, `SELECT dm.dataset_id`+agentMount+agentMountWhere, mountID, machineID).Scan(&datasetID); err != nil {
		return "", nil, notFound(err)
	}
	rows, err := q.db.Query(ctx, `SELECT path, size, md5 FROM dataset_files WHERE dataset_id = $1 ORDER BY path`, datasetID)
	files, err := collect(rows, err, func(r pgx.Row) (*ManifestFile, error) {
		var f ManifestFile
		return &f, r.Scan(&f.Path, &f.Size, &f.MD5)
	})
	return datasetID, files, err
}

// AgentMountFile is the object of one file of the mount's dataset, for the
// agent of the machine (ErrNotFound when it may not have it).
func (q *Queries) AgentMountFile(ctx context.Context, machineID, mountID, path string) (objectKey string, size int64, err error) {
	err = q.db.QueryRow(ctx, `SELECT b.object_key, f.size`+agentMount+`
		JOIN dataset_files f ON f.dataset_id = dm.dataset_id JOIN dataset_blobs b ON b.id = f.blob_id`+agentMountWhere+` AND f.path = $3`,
		mountID, machineID, path).Scan(&objectKey, &size)
	return objectKey, size, notFound(err)
}

// TouchDataset records that a dataset was used (mounted, bound by a task).
func (q *Queries) TouchDataset(ctx context.Context, datasetID string) error {
	_, err := q.db.Exec(ctx, `UPDATE datasets SET last_used_at = now() WHERE id = $1`, datasetID)
	return err
}

// ImportTarget is what a machine import's upload is checked against.
type ImportTarget struct {
	DatasetID string
	TenantID  string
	Status    string
}

// AgentImportTarget is the dataset of a machine import, for the agent of
// the machine, while the dataset's tenant holds its live allocation and
// the dataset is being processed (ErrNotFound otherwise).
func (q *Queries) AgentImportTarget(ctx context.Context, machineID, datasetID string) (*ImportTarget, error) {
	var t ImportTarget
	err := q.db.QueryRow(ctx, `SELECT d.id, d.tenant_id, d.status FROM datasets d JOIN machines m ON m.id = $2::uuid
		JOIN allocations al ON al.id = m.live_allocation_id
		WHERE d.id = $1::uuid AND d.tenant_id = al.tenant_id AND d.deleted_at IS NULL AND d.status = 'processing'`, datasetID, machineID).
		Scan(&t.DatasetID, &t.TenantID, &t.Status)
	return &t, notFound(err)
}

// RecordImportUpload notes on the command (its progress, which the host's
// heartbeats may overwrite: informative only) where the api stored a
// machine import's tar. The result check derives the key from the command
// and the activity reads the size from the store.
func (q *Queries) RecordImportUpload(ctx context.Context, commandID, objectKey string, size int64) error {
	p, _ := json.Marshal(map[string]any{"uploading": true, "objectKey": objectKey, "size": size})
	_, err := q.db.Exec(ctx, `UPDATE host_commands SET progress = $2, updated_at = now() WHERE id = $1`, commandID, p)
	return err
}

// TaskMount is a mount a task binds.
type TaskMount struct {
	MountID     string
	DatasetID   string
	DatasetName string
	Path        string
}

// TaskMounts reads the tenant's mounts among ids that are mounted on the
// machine (the others are left out: the caller compares).
func (q *Queries) TaskMounts(ctx context.Context, tenantID, machineID string, ids []string) ([]TaskMount, error) {
	rows, err := q.db.Query(ctx, `SELECT dm.id, dm.dataset_id, d.name, dm.path FROM dataset_mounts dm JOIN datasets d ON d.id = dm.dataset_id
		WHERE dm.id = ANY($1::uuid[]) AND dm.tenant_id = $2 AND dm.machine_id = $3 AND dm.status = 'mounted' AND d.deleted_at IS NULL
		  AND `+mountReadable,
		ids, tenantID, machineID)
	return collect(rows, err, func(r pgx.Row) (*TaskMount, error) {
		var m TaskMount
		return &m, r.Scan(&m.MountID, &m.DatasetID, &m.DatasetName, &m.Path)
	})
}

// TaskDatasetUse is a dataset a task binds, at a path of its container.
type TaskDatasetUse struct {
	DatasetID     string
	MountID       string
	ContainerPath string
}

// RecordTaskDatasets records a task's uses of datasets and marks them used.
func (q *Queries) RecordTaskDatasets(ctx context.Context, taskID string, uses []TaskDatasetUse) error {
	for _, u := range uses {
		if _, err := q.db.Exec(ctx, `INSERT INTO dataset_task_uses (dataset_id, task_id, mount_id, container_path) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, u.DatasetID, taskID, u.MountID, u.ContainerPath); err != nil {
			return err
		}
		if err := q.TouchDataset(ctx, u.DatasetID); err != nil {
			return err
		}
	}
	return nil
}

// TaskBind is a bound dataset as a task's start needs it.
type TaskBind struct {
	HostPath      string
	ContainerPath string
}

// TaskBinds are the task's bound datasets whose mounts are still mounted.
func (q *Queries) TaskBinds(ctx context.Context, taskID string) ([]TaskBind, error) {
	rows, err := q.db.Query(ctx, `SELECT dm.path, u.container_path FROM dataset_task_uses u JOIN dataset_mounts dm ON dm.id = u.mount_id
		WHERE u.task_id = $1 AND dm.status = 'mounted' ORDER BY u.container_path`, taskID)
	return collect(rows, err, func(r pgx.Row) (*TaskBind, error) {
		var b TaskBind
		return &b, r.Scan(&b.HostPath, &b.ContainerPath)
	})
}

// SetMountProgress records the host's progress of a mount of the machine
// that is still mounting.
func (q *Queries) SetMountProgress(ctx context.Context, machineID, mountID string, p MountProgress) error {
	_, err := q.db.Exec(ctx, `UPDATE dataset_mounts SET files_done = $3, files_total = $4, bytes_done = $5, bytes_total = $6
		WHERE id = $1::uuid AND machine_id = $2::uuid AND status = 'mounting'`, mountID, machineID, p.FilesDone, p.FilesTotal, p.BytesDone, p.BytesTotal)
	return err
}

// UnmountTenantDataset marks a company's live mounts of a dataset
// unmounting (a share revoked: it may no longer read it) and returns them.
func (q *Queries) UnmountTenantDataset(ctx context.Context, datasetID, tenantID string) ([]string, error) {
	rows, err := q.db.Query(ctx, `UPDATE dataset_mounts SET status = 'unmounting', status_reason = '', status_params = '{}', updated_at = now()
		WHERE dataset_id = $1 AND tenant_id = $2 AND status IN ('mounting', 'mounted', 'failed') RETURNING id`, datasetID, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
