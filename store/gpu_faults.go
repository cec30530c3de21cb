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
