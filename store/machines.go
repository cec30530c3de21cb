package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Machine is a GPU host. Its allocation fields come from the live allocation, if any.
type Machine struct {
	ID                    string          `json:"id" format:"uuid"`
	Name                  string          `json:"name"`
	Region                string          `json:"region"`
	Room                  string          `json:"room"`
	GPUModel              string          `json:"gpuModel"`
	GPUMemoryGB           int             `json:"gpuMemoryGb"`
	GPUCount              int             `json:"gpuCount"`
	CUDAVersion           string          `json:"cudaVersion"`
	DriverVersion         string          `json:"driverVersion"`
	CPUModel              string          `json:"cpuModel"`
	CPUCores              int             `json:"cpuCores"`
	MemoryGB              int             `json:"memoryGb"`
	DiskGB                int             `json:"diskGb"`
	InternalIP            string          `json:"internalIp"`
	SSHHost               string          `json:"sshHost"`
	SSHPort               int             `json:"sshPort"`
	ContainerDomainPrefix string          `json:"containerDomainPrefix"`
	SSHUser               string          `json:"sshUser"`
	SSHPassword           string          `json:"sshPassword" doc:"Always masked; reveal it with the reveal-password operation"`
	Status                string          `json:"status" enum:"online,offline,maintenance"`
	AllocationStatus      string          `json:"allocationStatus" enum:"allocated,unallocated,expiring"`
	GPUUtil               *float64        `json:"gpuUtil" doc:"Average GPU utilisation of the latest sample (%); null before the agent reports"`
	Allocation            *LiveAllocation `json:"allocation,omitempty"`
	AgentTokenIssued      bool            `json:"agentTokenIssued"`
	Cleanup               *MachineCleanup `json:"cleanup,omitempty" doc:"Set while the host has not confirmed the end-of-lease steps of its last lease"`
	CreatedAt             time.Time       `json:"createdAt"`
	UpdatedAt             time.Time       `json:"updatedAt"`

	SSHPasswordEnc []byte `json:"-"`
}

// LiveAllocation is the pending or active lease of a machine.
type LiveAllocation struct {
	ID       string     `json:"id" format:"uuid"`
	TenantID string     `json:"tenantId" format:"uuid"`
	Customer string     `json:"customer" doc:"Company name"`
	Status   string     `json:"status" enum:"pending,active"`
	StartAt  *time.Time `json:"startAt"`
	EndAt    *time.Time `json:"endAt"`
}

// MachineCleanup is the lease whose end-of-lease steps the machine waits for.
type MachineCleanup struct {
	AllocationID string    `json:"allocationId" format:"uuid"`
	Since        time.Time `json:"since"`
}

// MaskedPassword is what every response shows instead of a password.
const MaskedPassword = "********"

// machineSelect joins the live allocation; the unique partial index makes it at most one row.
// $1 is the "expiring" window as an interval.
const machineSelect = `SELECT m.id, m.name, m.region, m.room, m.gpu_model, m.gpu_memory_gb, m.gpu_count, m.cuda_version,
	m.driver_version, m.cpu_model, m.cpu_cores, m.memory_gb, m.disk_gb, m.internal_ip, m.ssh_host, m.ssh_port,
	m.container_domain_prefix, m.ssh_user, m.ssh_password_enc, m.status, m.agent_token_hash IS NOT NULL, m.created_at, m.updated_at,
	a.id, a.tenant_id, t.company, a.status, a.start_at, a.end_at, l.gpu_util_avg,
	CASE WHEN a.id IS NULL THEN 'unallocated'
	     WHEN a.status = 'active' AND a.end_at < now() + $1::interval THEN 'expiring'
	     ELSE 'allocated' END AS allocation_status, m.cleanup_allocation_id, m.cleanup_since
	FROM machines m
	LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')
	LEFT JOIN tenants t ON t.id = a.tenant_id
	LEFT JOIN machine_latest l ON l.machine_id = m.id`

// machineLive limits machineSelect to machines that are not deleted.
const machineLive = " WHERE m.deleted_at IS NULL"

func scanMachine(row pgx.Row) (*Machine, error) {
	var m Machine
	var aID, aTenant, aCustomer, aStatus *string
	var aStart, aEnd *time.Time
	var util *float32
	var cleanupID *string
	var cleanupSince *time.Time
	err := row.Scan(&m.ID, &m.Name, &m.Region, &m.Room, &m.GPUModel, &m.GPUMemoryGB, &m.GPUCount, &m.CUDAVersion,
		&m.DriverVersion, &m.CPUModel, &m.CPUCores, &m.MemoryGB, &m.DiskGB, &m.InternalIP, &m.SSHHost, &m.SSHPort,
		&m.ContainerDomainPrefix, &m.SSHUser, &m.SSHPasswordEnc, &m.Status, &m.AgentTokenIssued, &m.CreatedAt, &m.UpdatedAt,
		&aID, &aTenant, &aCustomer, &aStatus, &aStart, &aEnd, &util, &m.AllocationStatus, &cleanupID, &cleanupSince)
	if err != nil {
		return nil, notFound(err)
	}
	m.SSHPassword = MaskedPassword
	if util != nil {
		v := float64(*util)
		m.GPUUtil = &v
	}
	if cleanupID != nil && cleanupSince != nil {
		m.Cleanup = &MachineCleanup{AllocationID: *cleanupID, Since: *cleanupSince}
	}
	if aID != nil {
		m.Allocation = &LiveAllocation{ID: *aID, TenantID: *aTenant, Customer: deref(aCustomer), Status: *aStatus, StartAt: aStart, EndAt: aEnd}
	}
	return &m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type MachineFilter struct {
	GPUModel         string
	Region           string
	Status           string
	AllocationStatus string
	Keyword          string
	TenantID         string // only machines live-allocated to this tenant
	IDs              []string
}

func (f MachineFilter) where(expiring time.Duration) *where {
	w := &where{args: []any{expiring.String()}}
	w.raw("deleted_at IS NULL")
	if f.GPUModel != "" {
		w.add("gpu_model = %s", f.GPUModel)
	}
	if f.Region != "" {
		w.add("region = %s", f.Region)
	}
	if f.Status != "" {
		w.add("status = %s", f.Status)
	}
	if f.AllocationStatus != "" {
		w.add("allocation_status = %s", f.AllocationStatus)
	}
	if f.Keyword != "" {
		w.add("name ILIKE %s", likePattern(f.Keyword))
	}
	if f.TenantID != "" {
		w.add("alloc_tenant = %s::uuid AND alloc_status = 'active'", f.TenantID)
	}
	if f.IDs != nil {
		w.add("id = ANY(%s::uuid[])", f.IDs)
	}
	return w
}

// machineSorts are the list's sortBy keys.
var machineSorts = map[string]string{"name": "name", "createdAt": "created_at", "gpuModel": "gpu_model", "gpuCount": "gpu_count",
	"region": "region", "status": "status", "allocationStatus": "allocation_status", "endAt": "alloc_end", "memoryGb": "memory_gb"}

func (s *Store) ListMachines(ctx context.Context, f MachineFilter, p Page, expiring time.Duration) ([]Machine, int, error) {
	w := f.where(expiring)
	// the inner query exposes the derived columns to WHERE and ORDER BY
	inner := `SELECT m.*, a.tenant_id AS alloc_tenant, a.end_at AS alloc_end, a.status AS alloc_status,
		CASE WHEN a.id IS NULL THEN 'unallocated' WHEN a.status = 'active' AND a.end_at < now() + $1::interval THEN 'expiring' ELSE 'allocated' END AS allocation_status
		FROM machines m LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')`
	var total int
	if err := s.Pool.QueryRow(ctx, "SELECT count(*) FROM ("+inner+") x"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	ids := "SELECT id FROM (" + inner + ") x" + w.sql() + p.orderBy(machineSorts, "created_at DESC, id") + p.limitOffset()
	q := machineSelect + " JOIN (SELECT id, row_number() OVER () AS ord FROM (" + ids + ") page) pg ON pg.id = m.id ORDER BY pg.ord"
	rows, err := s.Pool.Query(ctx, q, w.args...)
	list, err := collect(rows, err, scanMachine)
	return list, total, err
}

func (s *Store) GetMachine(ctx context.Context, id string, expiring time.Duration) (*Machine, error) {
	return scanMachine(s.Pool.QueryRow(ctx, machineSelect+machineLive+" AND m.id = $2", expiring.String(), id))
}

// GetTenantMachine returns a machine only while it is live-allocated to the tenant.
func (s *Store) GetTenantMachine(ctx context.Context, tenantID, id string, expiring time.Duration) (*Machine, error) {
	return scanMachine(s.Pool.QueryRow(ctx, machineSelect+machineLive+" AND m.id = $2 AND a.tenant_id = $3 AND a.status = 'active'", expiring.String(), id, tenantID))
}

func CreateMachine(ctx context.Context, db DBTX, m *Machine, importKey string) error {
	return db.QueryRow(ctx, `INSERT INTO machines (name, region, room, gpu_model, gpu_memory_gb, gpu_count, cuda_version, driver_version,
		cpu_model, cpu_cores, memory_gb, disk_gb, internal_ip, ssh_host, ssh_port, container_domain_prefix, ssh_user, ssh_password_enc, import_key, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, nullif($19, ''), coalesce(nullif($20, ''), 'online'))
		RETURNING id, status, created_at, updated_at`,
		m.Name, m.Region, m.Room, m.GPUModel, m.GPUMemoryGB, m.GPUCount, m.CUDAVersion, m.DriverVersion, m.CPUModel, m.CPUCores,
		m.MemoryGB, m.DiskGB, m.InternalIP, m.SSHHost, m.SSHPort, m.ContainerDomainPrefix, m.SSHUser, m.SSHPasswordEnc, importKey, m.Status,
	).Scan(&m.ID, &m.Status, &m.CreatedAt, &m.UpdatedAt)
}

// UpdateMachine writes the descriptive fields (not the password, status or token).
func UpdateMachine(ctx context.Context, db DBTX, m *Machine) error {
	tag, err := db.Exec(ctx, `UPDATE machines SET name = $2, region = $3, room = $4, gpu_model = $5, gpu_memory_gb = $6, gpu_count = $7,
		cuda_version = $8, driver_version = $9, cpu_model = $10, cpu_cores = $11, memory_gb = $12, disk_gb = $13, internal_ip = $14,
		ssh_host = $15, ssh_port = $16, container_domain_prefix = $17, ssh_user = $18, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`,
		m.ID, m.Name, m.Region, m.Room, m.GPUModel, m.GPUMemoryGB, m.GPUCount, m.CUDAVersion, m.DriverVersion, m.CPUModel, m.CPUCores,
		m.MemoryGB, m.DiskGB, m.InternalIP, m.SSHHost, m.SSHPort, m.ContainerDomainPrefix, m.SSHUser)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func SetMachinePassword(ctx context.Context, db DBTX, id string, enc []byte) error {
	tag, err := db.Exec(ctx, `UPDATE machines SET ssh_password_enc = $2, updated_at = now() WHERE id = $1`, id, enc)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func SetMachineStatus(ctx context.Context, db DBTX, id, status string) error {
	_, err := db.Exec(ctx, `UPDATE machines SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

func SetAgentToken(ctx context.Context, db DBTX, id string, hash []byte, expiresAt time.Time) error {
	_, err := db.Exec(ctx, `UPDATE machines SET agent_token_hash = $2, agent_token_created_at = now(), agent_token_expires_at = $3
		WHERE id = $1`, id, hash, expiresAt)
	return err
}

// DeleteMachine hides the machine; its allocation history stays. The caller refuses while it is allocated.
func DeleteMachine(ctx context.Context, db DBTX, id string) error {
	tag, err := db.Exec(ctx, `UPDATE machines SET deleted_at = now(), agent_token_hash = NULL, agent_key_hash = NULL, agent_key_pending_hash = NULL, import_key = NULL, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// MachineIDByImportKey finds a machine an import already created.
func MachineIDByImportKey(ctx context.Context, db DBTX, key string) (string, error) {
	var id string
	err := db.QueryRow(ctx, `SELECT id FROM machines WHERE import_key = $1`, key).Scan(&id)
	return id, notFound(err)
}

// MachineNamesTaken returns which of the names already exist (case-insensitive).
func (s *Store) MachineNamesTaken(ctx context.Context, names []string) (map[string]bool, error) {
	rows, err := s.Pool.Query(ctx, `SELECT lower(name) FROM machines WHERE lower(name) = ANY($1) AND deleted_at IS NULL`, lowerAll(names))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
