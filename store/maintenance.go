package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaintenanceRecord is one period a machine was taken out of service (维护记录).
type MaintenanceRecord struct {
	ID             string     `json:"id" format:"uuid"`
	MachineID      string     `json:"machineId" format:"uuid"`
	MachineName    string     `json:"machineName"`
	Reason         string     `json:"reason"`
	PlannedUntil   *time.Time `json:"plannedUntil"`
	StartedByName  string     `json:"startedByName"`
	StartedAt      time.Time  `json:"startedAt"`
	EndedByName    string     `json:"endedByName"`
	EndedAt        *time.Time `json:"endedAt"`
	PreviousStatus string     `json:"previousStatus"`
	Kind           string     `json:"kind" enum:"manual,lease_cleanup" doc:"manual: opened by an admin; lease_cleanup: the platform's, while a former lease's host steps are unconfirmed (it ends with them or when the machine is marked reinstalled, not by hand)"`
}

// StartMaintenance opens a record and puts the machine into maintenance; a
// machine already in maintenance violates the open-record index.
func (q *Queries) StartMaintenance(ctx context.Context, machineID, reason string, until *time.Time, byID, byName string) (*MaintenanceRecord, error) {
	r := MaintenanceRecord{MachineID: machineID, Reason: reason, PlannedUntil: until, StartedByName: byName, Kind: "manual"}
	err := q.db.QueryRow(ctx, `INSERT INTO maintenance_records (machine_id, reason, planned_until, started_by, started_by_name, previous_status)
		SELECT id, $2, $3, $4, $5, status FROM machines WHERE id = $1 AND deleted_at IS NULL
		RETURNING id, started_at, previous_status`, machineID, reason, until, nullable(byID), byName).Scan(&r.ID, &r.StartedAt, &r.PreviousStatus)
	if err != nil {
		return nil, notFound(err)
	}
	if _, err := q.db.Exec(ctx, `UPDATE machines SET status = 'maintenance', updated_at = now() WHERE id = $1`, machineID); err != nil {
		return nil, err
	}
	return &r, nil
}

// ErrCleanupMaintenance: the open maintenance is the platform's lease
// cleanup, which ends when the host confirmed the steps (or the machine is
// marked reinstalled), not by hand.
var ErrCleanupMaintenance = errors.New("the maintenance is a lease cleanup")

// EndMaintenance closes the open record and restores the status the machine had before.
func (q *Queries) EndMaintenance(ctx context.Context, machineID, byID, byName string) (*MaintenanceRecord, error) {
	r := MaintenanceRecord{Kind: "manual"}
	err := q.db.QueryRow(ctx, `UPDATE maintenance_records SET ended_at = now(), ended_by = $2, ended_by_name = $3
		WHERE machine_id = $1 AND ended_at IS NULL AND kind = 'manual' RETURNING id, machine_id, reason, started_at, ended_at, previous_status`,
		machineID, nullable(byID), byName).Scan(&r.ID, &r.MachineID, &r.Reason, &r.StartedAt, &r.EndedAt, &r.PreviousStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		var cleanup bool
		if q.db.QueryRow(ctx, `SELECT true FROM maintenance_records WHERE machine_id = $1 AND ended_at IS NULL AND kind = 'lease_cleanup'`,
			machineID).Scan(&cleanup) == nil && cleanup {
			return nil, ErrCleanupMaintenance
		}
	}
	if err != nil {
		return nil, notFound(err)
	}
	if _, err := q.db.Exec(ctx, `UPDATE machines SET status = $2, updated_at = now() WHERE id = $1`, machineID, r.PreviousStatus); err != nil {
		return nil, err
	}
	return &r, nil
}

type MaintenanceFilter struct {
	MachineID string
	OpenOnly  bool
	Keyword   string
}

func (q *Queries) ListMaintenance(ctx context.Context, f MaintenanceFilter, p Page) ([]MaintenanceRecord, int, error) {
	var w where
	if f.MachineID != "" {
		w.add("r.machine_id = %s", f.MachineID)
	}
	if f.OpenOnly {
		w.raw("r.ended_at IS NULL")
	}
	if f.Keyword != "" {
		pat := likePattern(f.Keyword)
		w.add("(m.name ILIKE %s OR r.reason ILIKE %s)", pat, pat)
	}
	from := " FROM maintenance_records r JOIN machines m ON m.id = r.machine_id"
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*)"+from+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT r.id, r.machine_id, m.name, r.reason, r.planned_until, r.started_by_name, r.started_at,
		r.ended_by_name, r.ended_at, r.previous_status, r.kind`+from+w.sql()+
		p.orderBy(map[string]string{"startedAt": "r.started_at", "endedAt": "r.ended_at", "machineName": "m.name"}, "r.started_at DESC, r.id")+
		p.limitOffset(), w.args...)
	list, err := collect(rows, err, func(row pgx.Row) (*MaintenanceRecord, error) {
		var r MaintenanceRecord
		return &r, row.Scan(&r.ID, &r.MachineID, &r.MachineName, &r.Reason, &r.PlannedUntil, &r.StartedByName, &r.StartedAt,
			&r.EndedByName, &r.EndedAt, &r.PreviousStatus, &r.Kind)
	})
	return list, total, err
}
