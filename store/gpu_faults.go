package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// GPUHolder is a running attempt that holds a GPU of a machine.
type GPUHolder struct {
	GPUIndex  int
	TaskID    string
	Attempt   int
	GrantedAt time.Time
}

// GPUHolders are the running attempts holding the machine's GPUs of the
// list (task_gpu_grants), by GPU.
func (q *Queries) GPUHolders(ctx context.Context, machineID string, gpus []int) ([]GPUHolder, error) {
	rows, err := q.db.Query(ctx, `SELECT g.gpu_index, g.task_id, g.attempt, g.granted_at FROM task_gpu_grants g
		JOIN tasks t ON t.id = g.task_id AND t.attempt = g.attempt AND t.status = 'running'
		WHERE g.machine_id = $1 AND g.gpu_index = ANY($2) ORDER BY g.gpu_index`, machineID, gpus)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (GPUHolder, error) {
		var h GPUHolder
		err := row.Scan(&h.GPUIndex, &h.TaskID, &h.Attempt, &h.GrantedAt)
		return h, err
	})
}

// ECCBefore is each listed GPU's uncorrected ECC count in the machine's
// latest sample taken before `before` and not before `since`; a GPU without
// one (no sample then, or no ECC figure) is left out.
func (q *Queries) ECCBefore(ctx context.Context, machineID string, gpus []int, since, before time.Time) (map[int]int64, error) {
	rows, err := q.db.Query(ctx, `SELECT g, (SELECT s.ecc_errors FROM gpu_samples s
			WHERE s.machine_id = $1 AND s.gpu_index = g AND s.at < $3 AND s.at >= $2 ORDER BY s.at DESC LIMIT 1)
		FROM unnest($4::int[]) g`, machineID, since, before, gpus)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var g int
		var ecc *int64
		if err := rows.Scan(&g, &ecc); err != nil {
			return nil, err
		}
		if ecc != nil {
			out[g] = *ecc
		}
	}
	return out, rows.Err()
}

// GPUFaultHold is how long a GPU fault keeps the GPU out of the queue,
// unless an admin clears it.
const GPUFaultHold = 24 * time.Hour

// faultyGPUsSQL are the GPU indices of machine $1 with a fault in the last
// GPUFaultHold that no admin cleared.
const faultyGPUsSQL = `SELECT DISTINCT f.gpu_index FROM gpu_faults f
	WHERE f.machine_id = $1 AND f.cleared_at IS NULL AND f.at > now() - interval '24 hours'`

// GPUFaultRecord is one fault to record.
type GPUFaultRecord struct {
	GPUIndex int
	At       time.Time
	XID      int
	ECC      int64
}

// RecordGPUFaults stores the machine's faults (a fault reported twice is stored once).
func (q *Queries) RecordGPUFaults(ctx context.Context, machineID string, faults []GPUFaultRecord) error {
	for _, f := range faults {
		// at comes from the agent, which the customer controls: never later
		// than now, or a fault dated next year would hold the GPU that long
		if _, err := q.db.Exec(ctx, `INSERT INTO gpu_faults (machine_id, gpu_index, at, xid, ecc) VALUES ($1, $2, least($3, now()), $4, $5)
			ON CONFLICT DO NOTHING`, machineID, f.GPUIndex, f.At, f.XID, f.ECC); err != nil {
			return err
		}
	}
	return nil
}

// FaultyGPU is a GPU set aside: its latest fault not cleared.
type FaultyGPU struct {
	GPUIndex int       `json:"gpuIndex"`
	At       time.Time `json:"at" doc:"The latest fault"`
	XID      int       `json:"xid" doc:"The latest fault's XID, 0 for an ECC fault"`
	ECC      int64     `json:"ecc" doc:"The latest fault's new uncorrected ECC errors, 0 for an XID"`
	Faults   int       `json:"faults" doc:"Faults in the last 24 h not cleared"`
}

// FaultyGPUs are the machine's GPUs with a fault in the last 24 h that no
// admin cleared, by index.
func (q *Queries) FaultyGPUs(ctx context.Context, machineID string) ([]FaultyGPU, error) {
	rows, err := q.db.Query(ctx, `SELECT DISTINCT ON (gpu_index) gpu_index, at, xid, ecc,
			count(*) OVER (PARTITION BY gpu_index)
		FROM gpu_faults WHERE machine_id = $1 AND cleared_at IS NULL AND at > now() - interval '24 hours'
		ORDER BY gpu_index, at DESC`, machineID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (FaultyGPU, error) {
		var g FaultyGPU
		err := row.Scan(&g.GPUIndex, &g.At, &g.XID, &g.ECC, &g.Faults)
		return g, err
	})
}

// ClearGPUFaults sets the machine's GPU back in service (its faults so far
// no longer count) and returns how many faults it cleared, with the tasks
// queued on the machine (they may fit now).
func (q *Queries) ClearGPUFaults(ctx context.Context, machineID string, gpuIndex int, by string) (int64, []string, error) {
	tag, err := q.db.Exec(ctx, `UPDATE gpu_faults SET cleared_at = now(), cleared_by = nullif($3, '')::uuid
		WHERE machine_id = $1 AND gpu_index = $2 AND cleared_at IS NULL`, machineID, gpuIndex, by)
	if err != nil {
		return 0, nil, err
	}
	rows, err := q.db.Query(ctx, `SELECT id::text FROM tasks WHERE machine_id = $1 AND status = 'queued' ORDER BY queued_at, id`, machineID)
	queued, err := rowsTo[string](rows, err)
	return tag.RowsAffected(), queued, err
}
