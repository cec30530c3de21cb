package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReconcileAllocation is a live lease as the reconciler needs it to start
// its workflow again.
type ReconcileAllocation struct {
	ID         string
	Status     string // pending or active
	Months     int
	StartAt    *time.Time
	EndAt      *time.Time
	Notified   bool
	Extensions int
	MachineID  string
	TenantID   string
}

// LiveAllocationsBefore lists the pending and active leases created before cutoff.
func (q *Queries) LiveAllocationsBefore(ctx context.Context, cutoff time.Time) ([]ReconcileAllocation, error) {
	rows, err := q.db.Query(ctx, `SELECT id, status, months, start_at, end_at, expiring_notified_at IS NOT NULL, extensions,
		machine_id, tenant_id FROM allocations WHERE status IN ('pending', 'active') AND created_at < $1 ORDER BY created_at`, cutoff)
	return collect(rows, err, func(r pgx.Row) (*ReconcileAllocation, error) {
		var a ReconcileAllocation
		return &a, r.Scan(&a.ID, &a.Status, &a.Months, &a.StartAt, &a.EndAt, &a.Notified, &a.Extensions, &a.MachineID, &a.TenantID)
	})
}

// PendingCleanup is a machine waiting for the end-of-lease steps of a lease.
type PendingCleanup struct {
	AllocationID string
	MachineID    string
	TenantID     string
	EndedAt      time.Time
}

// PendingCleanupsBefore lists the machines whose cleanup began before cutoff and is not finished.
func (q *Queries) PendingCleanupsBefore(ctx context.Context, cutoff time.Time) ([]PendingCleanup, error) {
	rows, err := q.db.Query(ctx, `SELECT a.id, m.id, a.tenant_id, coalesce(a.ended_at, m.cleanup_since) FROM machines m
		JOIN allocations a ON a.id = m.cleanup_allocation_id
		WHERE m.deleted_at IS NULL AND m.cleanup_since < $1 ORDER BY m.cleanup_since`, cutoff)
	return collect(rows, err, func(r pgx.Row) (*PendingCleanup, error) {
		var c PendingCleanup
		return &c, r.Scan(&c.AllocationID, &c.MachineID, &c.TenantID, &c.EndedAt)
	})
}

// LaggingKeySyncs lists the active leases, older than cutoff, whose machine
// holds an older version of the tenant's SSH keys and has no sync waiting
// for the host already.
func (q *Queries) LaggingKeySyncs(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT a.id::text FROM allocations a JOIN tenants t ON t.id = a.tenant_id
		WHERE a.status = 'active' AND a.ssh_keys_version < t.ssh_keys_version AND a.start_at < $1
		  AND NOT EXISTS (SELECT 1 FROM host_commands c WHERE c.machine_id = a.machine_id AND c.kind = 'sync_ssh_keys'
		                  AND c.status IN ('pending', 'running'))
		ORDER BY a.start_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
