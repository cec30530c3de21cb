package store

import (
	"context"
	"errors"
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

// allocationStatusExpr is a machine's allocation status (allocated,
// unallocated or expiring) from its live_until column, which a trigger on
// allocations keeps (schema/008_machine_live_allocation.up.sql); $1 is the
// "expiring" window as an interval.
const allocationStatusExpr = `CASE WHEN m.live_until IS NULL THEN 'unallocated'
	WHEN m.live_until < now() + $1::interval THEN 'expiring' ELSE 'allocated' END`

// machineSelect joins the live allocation the machine row points to.
// $1 is the "expiring" window as an interval.
const machineSelect = `SELECT m.id, m.name, m.region, m.room, m.gpu_model, m.gpu_memory_gb, m.gpu_count, m.cuda_version,
	m.driver_version, m.cpu_model, m.cpu_cores, m.memory_gb, m.disk_gb, m.internal_ip, m.ssh_host, m.ssh_port,
	m.container_domain_prefix, m.ssh_user, m.ssh_password_enc, m.status, m.agent_token_hash IS NOT NULL, m.created_at, m.updated_at,
	a.id, a.tenant_id, t.company, a.status, a.start_at, a.end_at, l.gpu_util_avg,
	` + allocationStatusExpr + ` AS allocation_status, m.cleanup_allocation_id, m.cleanup_since
	FROM machines m
	LEFT JOIN allocations a ON a.id = m.live_allocation_id
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

// MachineScope is whose machines a MachineFilter may see.
type MachineScope int

const (
	// TenantMachines (the zero value) are the machines live-allocated to
	// the filter's TenantID; with no TenantID the filter is refused
	// (ErrNoTenant), never widened to every machine.
	TenantMachines MachineScope = iota
	// AllMachines are every machine (admins); a TenantID narrows them to
	// that tenant's.
	AllMachines
)

// ErrNoTenant: a tenant-scope machine filter without its tenant.
var ErrNoTenant = errors.New("store: a tenant's machine filter has no tenant")

type MachineFilter struct {
	// Scope must be AllMachines for an admin's list: the zero value is
	// one tenant's machines.
	Scope            MachineScope
	GPUModel         string
	Region           string
	Status           string
	AllocationStatus string
	Keyword          string
	TenantID         string // only machines live-allocated to this tenant
	IDs              []string
}

// where is the filter over machines m; $1 is always the "expiring" window.
// The allocation status is a range condition on m.live_until, which
// machines_list_idx and machines_live_until_idx serve.
func (f MachineFilter) where(expiring time.Duration) (*where, error) {
	if f.Scope != AllMachines && f.TenantID == "" {
		return nil, ErrNoTenant
	}
	w := &where{args: []any{expiring.String()}}
	w.raw("m.deleted_at IS NULL")
	if f.GPUModel != "" {
		w.add("m.gpu_model = %s", f.GPUModel)
	}
	if f.Region != "" {
		w.add("m.region = %s", f.Region)
	}
	if f.Status != "" {
		w.add("m.status = %s", f.Status)
	}
	switch f.AllocationStatus {
	case "expiring":
		w.raw("m.live_until < now() + $1::interval")
	case "allocated":
		w.raw("m.live_until >= now() + $1::interval")
	default:
		// every statement of the list gets $1: type it where no other condition uses it (always true)
		w.raw("$1::interval IS NOT NULL")
		switch f.AllocationStatus {
		case "":
		case "unallocated":
			w.raw("m.live_until IS NULL")
		default:
			w.raw("false") // no machine has another status
		}
	}
	if f.Keyword != "" {
		w.add("m.name ILIKE %s", likePattern(f.Keyword))
	}
	if f.TenantID != "" {
		w.add("m.id IN (SELECT machine_id FROM allocations WHERE tenant_id = %s::uuid AND status = 'active')", f.TenantID)
	}
	if f.IDs != nil {
		w.add("m.id = ANY(%s::uuid[])", f.IDs)
	}
	return w, nil
}

// machineSorts are the list's sortBy keys.
var machineSorts = map[string]string{"name": "m.name", "createdAt": "m.created_at", "gpuModel": "m.gpu_model", "gpuCount": "m.gpu_count",
	"region": "m.region", "status": "m.status", "allocationStatus": allocationStatusExpr, "endAt": "m.live_end_at", "memoryGb": "m.memory_gb"}

func (q *Queries) ListMachines(ctx context.Context, f MachineFilter, p Page, expiring time.Duration) ([]Machine, int, error) {
	w, err := f.where(expiring)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM machines m"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	// the page's ids first (over machines alone, as the indexes serve it), then their rows with the joins
	ids := "SELECT m.id FROM machines m" + w.sql() + p.orderBy(machineSorts, "m.created_at DESC, m.id") + p.limitOffset()
	query := machineSelect + " JOIN (SELECT id, row_number() OVER () AS ord FROM (" + ids + ") page) pg ON pg.id = m.id ORDER BY pg.ord"
	rows, err := q.db.Query(ctx, query, w.args...)
	list, err := collect(rows, err, scanMachine)
	return list, total, err
}

func (q *Queries) GetMachine(ctx context.Context, id string, expiring time.Duration) (*Machine, error) {
	return scanMachine(q.db.QueryRow(ctx, machineSelect+machineLive+" AND m.id = $2", expiring.String(), id))
}

// GetMachines returns the machines of ids that exist, in no particular order.
func (q *Queries) GetMachines(ctx context.Context, ids []string, expiring time.Duration) ([]Machine, error) {
	rows, err := q.db.Query(ctx, machineSelect+machineLive+" AND m.id = ANY($2::uuid[])", expiring.String(), ids)
	return collect(rows, err, scanMachine)
}

// GetTenantMachine returns a machine only while it is live-allocated to the tenant.
func (q *Queries) GetTenantMachine(ctx context.Context, tenantID, id string, expiring time.Duration) (*Machine, error) {
	return scanMachine(q.db.QueryRow(ctx, machineSelect+machineLive+" AND m.id = $2 AND a.tenant_id = $3 AND a.status = 'active'", expiring.String(), id, tenantID))
}

func (q *Queries) CreateMachine(ctx context.Context, m *Machine, importKey string) error {
	return q.db.QueryRow(ctx, `INSERT INTO machines (name, region, room, gpu_model, gpu_memory_gb, gpu_count, cuda_version, driver_version,
		cpu_model, cpu_cores, memory_gb, disk_gb, internal_ip, ssh_host, ssh_port, container_domain_prefix, ssh_user, ssh_password_enc, import_key, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, nullif($19, ''), coalesce(nullif($20, ''), 'online'))
		RETURNING id, status, created_at, updated_at`,
		m.Name, m.Region, m.Room, m.GPUModel, m.GPUMemoryGB, m.GPUCount, m.CUDAVersion, m.DriverVersion, m.CPUModel, m.CPUCores,
		m.MemoryGB, m.DiskGB, m.InternalIP, m.SSHHost, m.SSHPort, m.ContainerDomainPrefix, m.SSHUser, m.SSHPasswordEnc, importKey, m.Status,
	).Scan(&m.ID, &m.Status, &m.CreatedAt, &m.UpdatedAt)
}

// UpdateMachine writes the descriptive fields (not the password, status or token).
func (q *Queries) UpdateMachine(ctx context.Context, m *Machine) error {
	tag, err := q.db.Exec(ctx, `UPDATE machines SET name = $2, region = $3, room = $4, gpu_model = $5, gpu_memory_gb = $6, gpu_count = $7,
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

func (q *Queries) SetMachinePassword(ctx context.Context, id string, enc []byte) error {
	tag, err := q.db.Exec(ctx, `UPDATE machines SET ssh_password_enc = $2, updated_at = now() WHERE id = $1`, id, enc)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (q *Queries) SetMachineStatus(ctx context.Context, id, status string) error {
	_, err := q.db.Exec(ctx, `UPDATE machines SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

func (q *Queries) SetAgentToken(ctx context.Context, id string, hash []byte, expiresAt time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE machines SET agent_token_hash = $2, agent_token_created_at = now(), agent_token_expires_at = $3
		WHERE id = $1`, id, hash, expiresAt)
	return err
}

// DeleteMachine hides the machine; its allocation history stays. The caller refuses while it is allocated.
func (q *Queries) DeleteMachine(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `UPDATE machines SET deleted_at = now(), agent_token_hash = NULL, agent_key_hash = NULL, agent_key_pending_hash = NULL, import_key = NULL, updated_at = now()
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
func (q *Queries) MachineIDByImportKey(ctx context.Context, key string) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, `SELECT id FROM machines WHERE import_key = $1`, key).Scan(&id)
	return id, notFound(err)
}

// MachineNamesTaken returns which of the names already exist (case-insensitive).
func (q *Queries) MachineNamesTaken(ctx context.Context, names []string) (map[string]bool, error) {
	rows, err := q.db.Query(ctx, `SELECT lower(name) FROM machines WHERE lower(name) = ANY($1) AND deleted_at IS NULL`, lowerAll(names))
	if err != nil {
		return nil, err
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(taken))
	for _, n := range taken {
		out[n] = true
	}
	return out, nil
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
