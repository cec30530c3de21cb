package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaintenanceReasonLeaseCleanup is the reason of the maintenance the
// platform opens while a former lease's host steps are not confirmed.
const MaintenanceReasonLeaseCleanup = "lease cleanup"

// BeginLeaseCleanup takes the lease's machine out of service until the host
// confirmed every end-of-lease step: the machine records the lease, and
// unless an admin has it in maintenance already it goes into maintenance
// with the reason "lease cleanup".
func (q *Queries) BeginLeaseCleanup(ctx context.Context, allocationID, machineID string) error {
	if _, err := q.db.Exec(ctx, `UPDATE allocations SET cleanup_status = 'running', updated_at = now() WHERE id = $1`, allocationID); err != nil {
		return err
	}
	if _, err := q.db.Exec(ctx, `UPDATE machines SET cleanup_allocation_id = $2, cleanup_since = coalesce(cleanup_since, now()), updated_at = now()
		WHERE id = $1`, machineID, allocationID); err != nil {
		return err
	}
	tag, err := q.db.Exec(ctx, `INSERT INTO maintenance_records (machine_id, reason, kind, started_by_name, previous_status)
		SELECT id, $2, 'lease_cleanup', 'system', status FROM machines WHERE id = $1 AND deleted_at IS NULL AND status <> 'maintenance'
		ON CONFLICT (machine_id) WHERE ended_at IS NULL DO NOTHING`, machineID, MaintenanceReasonLeaseCleanup)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		_, err = q.db.Exec(ctx, `UPDATE machines SET status = 'maintenance', updated_at = now() WHERE id = $1`, machineID)
	}
	return err
}

// SetCleanupStep records the outcome of one end-of-lease step on the lease.
func (q *Queries) SetCleanupStep(ctx context.Context, allocationID string, step HostStep) error {
	return q.InTx(ctx, func(tx pgx.Tx) error { return New(tx).setStepTx(ctx, allocationID, step) })
}

// LeaseCleanupFinish says how a cleanup ended.
type LeaseCleanupFinish struct {
	AllocationID string
	MachineID    string
	// Reinstalled: an admin reinstalled the host instead; its agent keys are
	// revoked (a fresh registration is needed) and the machine is offline
	// until then. Otherwise every step was confirmed: the machine is back.
	Reinstalled bool
	Skipped     []HostStep // steps left undone (reinstalled), recorded as such
	Audit       *AuditLog  // written in the same transaction (reinstalled)
}

// FinishLeaseCleanup ends the cleanup: the lease records its outcome, the
// machine no longer waits for it, the platform's maintenance is closed, and
// the cleanup alert resolved. Repeating it changes nothing.
func (q *Queries) FinishLeaseCleanup(ctx context.Context, f LeaseCleanupFinish) error {
	outcome := "done"
	if f.Reinstalled {
		outcome = "reinstalled"
	}
	return q.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE allocations SET cleanup_status = $2, updated_at = now() WHERE id = $1 AND cleanup_status = 'running'`,
			f.AllocationID, outcome)
		if err != nil || tag.RowsAffected() == 0 {
			return err // finished before
		}
		for _, st := range f.Skipped {
			if err := New(tx).setStepTx(ctx, f.AllocationID, st); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE machines SET cleanup_allocation_id = NULL, cleanup_since = NULL, updated_at = now()
			WHERE id = $1 AND cleanup_allocation_id = $2`, f.MachineID, f.AllocationID); err != nil {
			return err
		}
		status := "online"
		if f.Reinstalled {
			status = "offline" // until the reinstalled host's agent registers
			if err := New(tx).ForgetAgent(ctx, f.MachineID); err != nil {
				return err
			}
		}
		tag, err = tx.Exec(ctx, `UPDATE maintenance_records SET ended_at = now(), ended_by_name = 'system'
			WHERE machine_id = $1 AND ended_at IS NULL AND kind = 'lease_cleanup'`, f.MachineID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, `UPDATE machines SET status = $2, updated_at = now() WHERE id = $1 AND status = 'maintenance'`,
				f.MachineID, status); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `UPDATE alerts SET status = 'resolved', resolution = $2, resolved_at = now(), updated_at = now()
			WHERE machine_id = $1 AND type = 'lease_cleanup' AND status <> 'resolved'
			RETURNING id::text, machine_id::text, type, level`, f.MachineID, map[bool]string{true: "manual", false: "auto"}[f.Reinstalled])
		changes, err := collect(rows, err, func(r pgx.Row) (*AlertChange, error) {
			c := AlertChange{Event: AlertResolved}
			return &c, r.Scan(&c.ID, &c.MachineID, &c.Type, &c.Level)
		})
		if err != nil {
			return err
		}
		if err := New(tx).notifyAlertEvents(ctx, changeEvents(changes)); err != nil {
			return err
		}
		if f.Audit != nil {
			return New(tx).InsertAudit(ctx, f.Audit)
		}
		return nil
	})
}

func (q *Queries) setStepTx(ctx context.Context, allocationID string, step HostStep) error {
	var raw []byte
	if err := q.db.QueryRow(ctx, `SELECT host_steps FROM allocations WHERE id = $1 FOR UPDATE`, allocationID).Scan(&raw); err != nil {
		return notFound(err)
	}
	var steps []HostStep
	_ = json.Unmarshal(raw, &steps)
	step = withoutChinese([]HostStep{step})[0]
	found := false
	for i := range steps {
		if steps[i].Step == step.Step {
			steps[i], found = step, true
		}
	}
	if !found {
		steps = append(steps, step)
	}
	b, err := json.Marshal(steps)
	if err != nil {
		return err
	}
	_, err = q.db.Exec(ctx, `UPDATE allocations SET host_steps = $2, updated_at = now() WHERE id = $1`, allocationID, b)
	return err
}

// CleanupAlertRule is the lease_cleanup rule: whether it is on, its level
// and after how long an unfinished cleanup raises it.
func (q *Queries) CleanupAlertRule(ctx context.Context) (enabled bool, level string, after time.Duration, err error) {
	var secs int
	err = q.db.QueryRow(ctx, `SELECT enabled, level, duration_s FROM alert_rules WHERE type = 'lease_cleanup'`).Scan(&enabled, &level, &secs)
	return enabled, level, time.Duration(secs) * time.Second, notFound(err)
}

// OpenCleanupAlert raises the alert of a machine whose cleanup is overdue
// (once: an open one is kept), if the machine still waits for it.
// CleanupAlert is the overdue-cleanup alert of a machine: its text as a code
// and figures (alerting.leaseCleanupStuck) with the English message.
type CleanupAlert struct {
	MachineID, AllocationID, Level string
	Code                           string
	Params                         map[string]any
	Message                        string
	Since                          time.Time
	After                          time.Duration
}

func (q *Queries) OpenCleanupAlert(ctx context.Context, a CleanupAlert) (bool, error) {
	machineID, level := a.MachineID, a.Level
	opened := false
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO alerts (machine_id, gpu_index, type, level, message, duration_s, started_at, code, params)
			SELECT m.id, -1, 'lease_cleanup', $3, $4, $5, $6, $7, coalesce($8::jsonb, '{}') FROM machines m
			WHERE m.id = $1 AND m.cleanup_allocation_id = $2 AND m.deleted_at IS NULL
			ON CONFLICT (machine_id, type, gpu_index) WHERE status <> 'resolved' DO NOTHING RETURNING id::text, machine_id::text`,
			machineID, a.AllocationID, level, a.Message, int(a.After/time.Second), a.Since, a.Code, a.Params)
		changes, err := collect(rows, err, func(r pgx.Row) (*AlertChange, error) {
			c := AlertChange{Type: "lease_cleanup", Level: level, Event: AlertOpened}
			return &c, r.Scan(&c.ID, &c.MachineID)
		})
		if err != nil {
			return err
		}
		opened = len(changes) > 0
		return New(tx).notifyAlertEvents(ctx, changeEvents(changes))
	})
	return opened, err
}
