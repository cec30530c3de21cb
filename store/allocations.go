package store

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Allocation is one lease of one machine to one customer.
type Allocation struct {
	ID            string     `json:"id" format:"uuid"`
	TenantID      string     `json:"tenantId" format:"uuid"`
	Customer      string     `json:"customer" doc:"Company name"`
	CustomerName  string     `json:"customerName" doc:"Contact person"`
	MachineID     string     `json:"machineId" format:"uuid"`
	MachineName   string     `json:"machineName"`
	GPUModel      string     `json:"gpuModel"`
	GPUCount      int        `json:"gpuCount"`
	Region        string     `json:"region"`
	Status        string     `json:"status" enum:"pending,active,expired,reclaimed"`
	Expiring      bool       `json:"expiring" doc:"Active and ending within the notice window"`
	Months        int        `json:"months" doc:"Total months, renewals included"`
	Extensions    int        `json:"extensions"`
	Remark        string     `json:"remark"`
	StartAt       *time.Time `json:"startAt"`
	EndAt         *time.Time `json:"endAt"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedByName string     `json:"createdByName"`
	NotifiedAt    *time.Time `json:"expiringNotifiedAt"`
	EndedAt       *time.Time `json:"endedAt"`
	EndedByName   string     `json:"endedByName"`
	EndReason     string     `json:"endReason" doc:"As the admin wrote it, or one the platform wrote (then endReasonCode names it)"`
	EndReasonCode string     `json:"endReasonCode,omitempty" doc:"The end reason as a code (lease.<x>) the console translates, when the platform wrote it; absent for an admin's own words"`
	HostSteps     []HostStep `json:"hostSteps" doc:"What was done on the host when the lease ended"`
	CleanupStatus string     `json:"cleanupStatus" enum:"none,running,done,reinstalled" doc:"The end-of-lease steps on the host: running until the host confirmed them all"`
}

// HostStep records one host-side action at the end of a lease and whether an agent confirmed it.
type HostStep struct {
	Step      string         `json:"step" doc:"stop_tenant, remove_ssh_keys, rotate_password, rotate_agent_key (before the host channel: stop_tasks, rotate_password)"`
	Confirmed bool           `json:"confirmed" doc:"An agent on the host confirmed it"`
	State     string         `json:"state,omitempty" enum:"pending,confirmed,failed,skipped," doc:"pending: waiting for the host; failed: the host reported an error (it is tried again); skipped: the machine was reinstalled instead"`
	Code      string         `json:"code,omitempty" doc:"What the host did or why it waits, as a code (lease.step.<x>) the console translates with params; absent on steps recorded before codes"`
	Params    map[string]any `json:"params,omitempty" doc:"The figures of the code's text; simulated: true when the host's agent only simulated it"`
	Detail    string         `json:"detail" doc:"English"`
	At        time.Time      `json:"at"`
}

// The end reasons the platform writes itself. The API names each by a code
// as well (Allocation.EndReasonCode), which the console translates.
const (
	ReasonReclaimedEarly     = "reclaimed early"          // a reclaim given no reason
	ReasonLeaseEnded         = "the lease ended"          // the lease ran out
	ReasonWorkflowNotStarted = "workflow could not start" // closed again at once: nothing owned it
)

var endReasonCodes = map[string]string{ReasonReclaimedEarly: "lease.reclaimedEarly", ReasonLeaseEnded: "lease.leaseEnded",
	ReasonWorkflowNotStarted: "lease.workflowNotStarted"}

// legacyDetail finds the English half of a step detail recorded before
// codes ("中文 / English"), the English prefixes being those the lease wrote.
var legacyDetail = regexp.MustCompile(` / ((stopped|the tenant's keys removed|new password set|the agent switched|the host failed|waiting for|the machine was) .*)$`)

// withoutChinese returns a copy of steps in which the details recorded
// before codes (an activity scheduled by an older workflow) keep their
// English half only; steps itself is left as it is.
func withoutChinese(steps []HostStep) []HostStep {
	out := slices.Clone(steps)
	for i, st := range out {
		if st.Code == "" {
			if m := legacyDetail.FindStringSubmatch(st.Detail); m != nil {
				out[i].Detail = m[1]
			}
		}
	}
	return out
}

const allocationSelect = `SELECT a.id, a.tenant_id, t.company, t.name, a.machine_id, m.name, m.gpu_model, m.gpu_count, m.region, a.status,
	a.status = 'active' AND a.end_at < now() + $1::interval, a.months, a.extensions, a.remark, a.start_at, a.end_at, a.created_at,
	a.created_by_name, a.expiring_notified_at, a.ended_at, a.ended_by_name, a.end_reason, a.host_steps, a.cleanup_status
	FROM allocations a JOIN tenants t ON t.id = a.tenant_id JOIN machines m ON m.id = a.machine_id`

func scanAllocation(row pgx.Row) (*Allocation, error) {
	var a Allocation
	var steps []byte
	err := row.Scan(&a.ID, &a.TenantID, &a.Customer, &a.CustomerName, &a.MachineID, &a.MachineName, &a.GPUModel, &a.GPUCount, &a.Region,
		&a.Status, &a.Expiring, &a.Months, &a.Extensions, &a.Remark, &a.StartAt, &a.EndAt, &a.CreatedAt, &a.CreatedByName,
		&a.NotifiedAt, &a.EndedAt, &a.EndedByName, &a.EndReason, &steps, &a.CleanupStatus)
	if err != nil {
		return nil, notFound(err)
	}
	a.HostSteps = []HostStep{}
	_ = json.Unmarshal(steps, &a.HostSteps)
	a.EndReasonCode = endReasonCodes[a.EndReason]
	return &a, nil
}

// RecentAllocations are the latest n allocations, newest first.
func (q *Queries) RecentAllocations(ctx context.Context, n int, expiring time.Duration) ([]Allocation, error) {
	rows, err := q.db.Query(ctx, allocationSelect+" ORDER BY a.created_at DESC, a.id LIMIT $2", expiring.String(), n)
	return collect(rows, err, scanAllocation)
}

type AllocationFilter struct {
	Tab       string // current (pending+active), history (expired+reclaimed), expiring; empty = all
	TenantID  string
	MachineID string
	Keyword   string // customer or machine name
}

var allocationSorts = map[string]string{"createdAt": "a.created_at", "startAt": "a.start_at", "endAt": "a.end_at",
	"customer": "t.company", "machineName": "m.name", "status": "a.status", "months": "a.months"}

func (q *Queries) ListAllocations(ctx context.Context, f AllocationFilter, p Page, expiring time.Duration) ([]Allocation, int, error) {
	w := &where{args: []any{expiring.String()}}
	w.raw("$1::interval IS NOT NULL") // $1 is used by some filters and by the select; keep it typed in all
	switch f.Tab {
	case "current":
		w.raw("a.status IN ('pending', 'active')")
	case "history":
		w.raw("a.status IN ('expired', 'reclaimed')")
	case "expiring":
		w.raw("a.status = 'active' AND a.end_at < now() + $1::interval")
	}
	if f.TenantID != "" {
		w.add("a.tenant_id = %s", f.TenantID)
	}
	if f.MachineID != "" {
		w.add("a.machine_id = %s", f.MachineID)
	}
	if f.Keyword != "" {
		pat := likePattern(f.Keyword)
		w.add("(t.company ILIKE %s OR t.name ILIKE %s OR m.name ILIKE %s)", pat, pat, pat)
	}
	from := ` FROM allocations a JOIN tenants t ON t.id = a.tenant_id JOIN machines m ON m.id = a.machine_id`
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*)"+from+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	def := "a.created_at DESC, a.id"
	if f.Tab == "expiring" {
		def = "a.end_at, a.id"
	}
	rows, err := q.db.Query(ctx, allocationSelect+w.sql()+p.orderBy(allocationSorts, def)+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanAllocation)
	return list, total, err
}

func (q *Queries) GetAllocation(ctx context.Context, id string, expiring time.Duration) (*Allocation, error) {
	return scanAllocation(q.db.QueryRow(ctx, allocationSelect+" WHERE a.id = $2", expiring.String(), id))
}

// CreateAllocation inserts a pending lease; the live-machine unique index refuses a second one.
func (q *Queries) CreateAllocation(ctx context.Context, tenantID, machineID string, months int, remark, byID, byName string) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, `INSERT INTO allocations (tenant_id, machine_id, months, remark, created_by, created_by_name)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, tenantID, machineID, months, remark, nullable(byID), byName).Scan(&id)
	return id, err
}

// ActivateAllocation starts a pending lease; repeating it changes nothing and returns the stored times.
func (q *Queries) ActivateAllocation(ctx context.Context, id string, start, end time.Time) (time.Time, time.Time, error) {
	var st, en time.Time
	err := q.db.QueryRow(ctx, `UPDATE allocations SET status = 'active', start_at = coalesce(start_at, $2), end_at = coalesce(end_at, $3),
		updated_at = now() WHERE id = $1 AND status IN ('pending', 'active') RETURNING start_at, end_at`, id, start, end).Scan(&st, &en)
	return st, en, notFound(err)
}

// ExtendAllocation moves the end of an active lease to newEnd; a retry with
// the same newEnd changes nothing (ErrNotFound), which the caller treats as done.
// With a, the audit entry is written in the same transaction (its Detail
// gets the before and after ends): no record, no renewal.
func (q *Queries) ExtendAllocation(ctx context.Context, id string, months int, newEnd time.Time, a *AuditLog) error {
	return q.InTx(ctx, func(tx pgx.Tx) error {
		var before time.Time
		var tenantID string
		err := tx.QueryRow(ctx, `UPDATE allocations n SET end_at = $3, months = n.months + $2, extensions = n.extensions + 1,
			expiring_notified_at = NULL, updated_at = now() FROM allocations o
			WHERE n.id = $1 AND o.id = n.id AND n.status = 'active' AND n.end_at < $3 RETURNING o.end_at, n.tenant_id`, id, months, newEnd).
			Scan(&before, &tenantID)
		if err != nil {
			return notFound(err)
		}
		if a == nil {
			return nil
		}
		a.TenantID, a.TargetType, a.TargetID = &tenantID, "allocation", id
		if a.Detail == nil {
			a.Detail = map[string]any{}
		}
		a.Detail["months"], a.Detail["before"], a.Detail["after"] = months, before, newEnd
		return New(tx).InsertAudit(ctx, a)
	})
}

func (q *Queries) MarkExpiringNotified(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE allocations SET expiring_notified_at = coalesce(expiring_notified_at, now()) WHERE id = $1`, id)
	return err
}

// EndAllocation closes a live lease as expired or reclaimed; an ended one is left as it is.
func (q *Queries) EndAllocation(ctx context.Context, id, status, reason, byName string, steps []HostStep) error {
	b, err := json.Marshal(withoutChinese(steps))
	if err != nil {
		return err
	}
	_, err = q.db.Exec(ctx, `UPDATE allocations SET status = $2, end_reason = $3, ended_by_name = $4, host_steps = $5,
		ended_at = now(), end_at = CASE WHEN $2 = 'reclaimed' THEN least(coalesce(end_at, now()), now()) ELSE end_at END, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'active')`, id, status, reason, byName, b)
	return err
}

// TenantUsageHours sums the hours each lease of the tenant ran inside [from, to).
func (q *Queries) TenantUsageHours(ctx context.Context, tenantID string, from, to time.Time) (float64, error) {
	var h float64
	err := q.db.QueryRow(ctx, `SELECT coalesce(sum(extract(epoch FROM
			least(coalesce(ended_at, end_at, now()), now(), $3) - greatest(start_at, $2)) / 3600), 0)
		FROM allocations WHERE tenant_id = $1 AND start_at IS NOT NULL AND start_at < $3
		AND coalesce(ended_at, end_at, now()) > $2`, tenantID, from, to).Scan(&h)
	if h < 0 {
		h = 0
	}
	return h, err
}

// ActiveAllocationIDs lists the tenant's active leases.
func (q *Queries) ActiveAllocationIDs(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT id::text FROM allocations WHERE tenant_id = $1 AND status = 'active'`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
