package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The queue of a machine: its queued tasks in (queued_at, id) order, granted
// free GPU indices strictly in that order (a task that does not fit holds
// the ones behind it, so a large task is never starved). Every grant and
// release locks the machine row first, so one transaction at a time decides
// for a machine; task_gpu_grants' primary key keeps two tasks off one GPU
// whatever happens. The lock is FOR NO KEY UPDATE: it excludes the other
// deciders and the lease triggers, not the foreign-key checks of inserts
// that name the machine (samples, commands). Task rows are locked the same
// way, so that a log batch being stored (its foreign-key check takes a key
// share on the task) never deadlocks with the end of the attempt.

// Admission is what an Admit call found.
type Admission struct {
	// Granted: the task holds its GPUs for the attempt (now or before).
	Granted bool
	GPUs    []int
	// Ended: the task is not waiting for this attempt any more; Status is why.
	Ended  bool
	Status string
	// Admitted are the other tasks this call granted GPUs to.
	Admitted []string
}

// AdmitTask grants the machine's free GPUs to its queue and tells whether
// the task's attempt got its GPUs. A task whose machine is no longer leased
// to its tenant is stopped (tasks.reason.leaseEnded); one that wants more
// GPUs than its machine has fails (tasks.reason.notEnoughGpus).
func (q *Queries) AdmitTask(ctx context.Context, taskID string, attempt int) (*Admission, error) {
	var out *Admission
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		db := New(tx)
		var machineID string
		if err := tx.QueryRow(ctx, `SELECT machine_id FROM tasks WHERE id = $1`, taskID).Scan(&machineID); err != nil {
			return notFound(err)
		}
		gpuCount, err := db.lockMachine(ctx, machineID)
		if err != nil {
			return err
		}
		var status, tenantID, current string
		var cur int
		if err := tx.QueryRow(ctx, `SELECT status, tenant_id, attempt, machine_id FROM tasks WHERE id = $1 FOR NO KEY UPDATE`, taskID).
			Scan(&status, &tenantID, &cur, &current); err != nil {
			return notFound(err)
		}
		switch {
		case current != machineID && cur == attempt && !TaskEnded(status):
			return errMoved // moved between the two reads: the next try locks the right machine
		case cur != attempt || TaskEnded(status):
			out = &Admission{Ended: true, Status: status}
			return nil
		case status == TaskRunning:
			h, err := db.TaskAttemptHost(ctx, taskID, attempt)
			if err != nil {
				return err
			}
			out = &Admission{Granted: true, GPUs: h.GPUs}
			return nil
		}
		var leased bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM machines m JOIN allocations a ON a.id = m.live_allocation_id
			WHERE m.id = $1 AND m.deleted_at IS NULL AND a.tenant_id = $2 AND a.status = 'active')`, machineID, tenantID).Scan(&leased); err != nil {
			return err
		}
		if !leased {
			if err := db.endQueued(ctx, taskID, attempt, TaskStopped, "tasks.reason.leaseEnded", nil); err != nil {
				return err
			}
			out = &Admission{Ended: true, Status: TaskStopped}
			return nil
		}
		// the caller's own backoff is over: its timer fired
		if _, err := tx.Exec(ctx, `UPDATE tasks SET not_before = NULL WHERE id = $1`, taskID); err != nil {
			return err
		}
		granted, err := db.grantQueue(ctx, machineID, gpuCount)
		if err != nil {
			return err
		}
		out = &Admission{Status: TaskQueued}
		for _, g := range granted {
			if g.taskID == taskID {
				out.Granted, out.GPUs, out.Status = true, g.gpus, TaskRunning
			} else {
				out.Admitted = append(out.Admitted, g.taskID)
			}
		}
		if !out.Granted {
			// failed by the queue itself (more GPUs than the machine has)
			if err := tx.QueryRow(ctx, `SELECT status FROM tasks WHERE id = $1`, taskID).Scan(&out.Status); err != nil {
				return err
			}
			out.Ended = TaskEnded(out.Status)
		}
		return nil
	})
	return out, err
}

var errMoved = errors.New("the task moved to another machine; try again")

// lockMachine takes the machine's admission lock and returns its GPU count.
func (q *Queries) lockMachine(ctx context.Context, machineID string) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT gpu_count FROM machines WHERE id = $1 FOR NO KEY UPDATE`, machineID).Scan(&n)
	return n, notFound(err)
}

type grant struct {
	taskID string
	gpus   []int
}

// grantQueue hands the machine's free GPUs to its queue in order; the
// caller holds the machine's lock.
func (q *Queries) grantQueue(ctx context.Context, machineID string, gpuCount int) ([]grant, error) {
	// granted, or set aside after a fault (gpu_faults)
	rows, err := q.db.Query(ctx, `SELECT gpu_index FROM task_gpu_grants WHERE machine_id = $1 UNION `+faultyGPUsSQL, machineID)
	taken, err := rowsTo[int32](rows, err)
	if err != nil {
		return nil, err
	}
	var free []int
	for i := range gpuCount {
		if !slices.Contains(taken, int32(i)) {
			free = append(free, i)
		}
	}
	type waiting struct {
		id      string
		attempt int
		gpus    int
	}
	rows, err = q.db.Query(ctx, `SELECT id, attempt, gpu_count FROM tasks WHERE machine_id = $1 AND status = 'queued'
		AND (not_before IS NULL OR not_before <= now()) ORDER BY queued_at, id FOR NO KEY UPDATE`, machineID)
	if err != nil {
		return nil, err
	}
	queue, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (waiting, error) {
		var w waiting
		err := row.Scan(&w.id, &w.attempt, &w.gpus)
		return w, err
	})
	if err != nil {
		return nil, err
	}
	var out []grant
	for _, w := range queue {
		if w.gpus > gpuCount {
			if err := q.endQueued(ctx, w.id, w.attempt, TaskFailed, "tasks.reason.notEnoughGpus",
				map[string]any{"gpus": w.gpus, "machineGpus": gpuCount}); err != nil {
				return nil, err
			}
			continue
		}
		if w.gpus > len(free) {
			break // strict FIFO: the head waits for its GPUs, the rest behind it
		}
		gpus := slices.Clone(free[:w.gpus])
		free = free[w.gpus:]
		if _, err := q.db.Exec(ctx, `INSERT INTO task_gpu_grants (machine_id, gpu_index, task_id, attempt)
			SELECT $1, g, $2, $3 FROM unnest($4::int[]) g`, machineID, w.id, w.attempt, gpus); err != nil {
			return nil, err
		}
		if _, err := q.db.Exec(ctx, `UPDATE task_attempts SET gpus = $3 WHERE task_id = $1 AND attempt = $2`, w.id, w.attempt, gpus); err != nil {
			return nil, err
		}
		if _, err := q.db.Exec(ctx, `UPDATE tasks SET status = 'running', status_reason = '', status_params = '{}', updated_at = now()
			WHERE id = $1`, w.id); err != nil {
			return nil, err
		}
		if err := notifyTask(ctx, q.db, w.id); err != nil {
			return nil, err
		}
		out = append(out, grant{taskID: w.id, gpus: gpus})
	}
	return out, nil
}

// endQueued ends a task that did not get to run.
func (q *Queries) endQueued(ctx context.Context, taskID string, attempt int, status, reason string, params map[string]any) error {
	if params == nil {
		params = map[string]any{}
	}
	if _, err := q.db.Exec(ctx, `UPDATE tasks SET status = $2, status_reason = $3, status_params = $4, finished_at = now(), not_before = NULL,
		updated_at = now() WHERE id = $1`, taskID, status, reason, params); err != nil {
		return err
	}
	if _, err := q.db.Exec(ctx, `UPDATE task_attempts SET finished_at = now(), reason = $3, params = $4
		WHERE task_id = $1 AND attempt = $2 AND finished_at IS NULL`, taskID, attempt, reason, params); err != nil {
		return err
	}
	return notifyTask(ctx, q.db, taskID)
}

// AttemptEnd is how an attempt ended, and what comes after it.
type AttemptEnd struct {
	TaskID   string
	Attempt  int
	Status   string // the task's status when nothing follows: succeeded, failed or stopped
	Reason   string
	Params   map[string]any
	ExitCode *int
	// Next, when set, queues the task again as attempt Attempt+1 on
	// NextMachine once Backoff has passed (Status is then the attempt's own).
	Next        bool
	NextMachine string
	Backoff     time.Duration
}

// AttemptEnded is what FinishTaskAttempt stored.
type AttemptEnded struct {
	// Status is the task's status now; Final when it will not run again
	// (it may have ended before the call: a lease end stopped it).
	Status string
	Final  bool
	// Admitted are the tasks that got the freed GPUs.
	Admitted []string
}

// FinishTaskAttempt records the end of an attempt, frees its GPUs and
// grants them to the machine's queue, and either ends the task or queues
// its next attempt, in one transaction. Repeating it changes nothing.
func (q *Queries) FinishTaskAttempt(ctx context.Context, e AttemptEnd) (*AttemptEnded, error) {
	params := e.Params
	if params == nil {
		params = map[string]any{}
	}
	var out *AttemptEnded
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		db := New(tx)
		h, err := db.TaskAttemptHost(ctx, e.TaskID, e.Attempt)
		if err != nil {
			return err
		}
		gpuCount, err := db.lockMachine(ctx, h.MachineID)
		if err != nil {
			return err
		}
		var status string
		var cur int
		if err := tx.QueryRow(ctx, `SELECT status, attempt FROM tasks WHERE id = $1 FOR NO KEY UPDATE`, e.TaskID).Scan(&status, &cur); err != nil {
			return notFound(err)
		}
		out = &AttemptEnded{Status: status, Final: TaskEnded(status)}
		if cur != e.Attempt {
			return nil // done before: the next attempt is queued
		}
		if _, err := tx.Exec(ctx, `UPDATE task_attempts SET finished_at = now(), exit_code = $3, reason = $4, params = $5
			WHERE task_id = $1 AND attempt = $2 AND finished_at IS NULL`, e.TaskID, e.Attempt, e.ExitCode, e.Reason, params); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM task_gpu_grants WHERE task_id = $1 AND attempt = $2`, e.TaskID, e.Attempt); err != nil {
			return err
		}
		switch {
		case out.Final: // ended meanwhile (the lease): it stays as it is
		case e.Next:
			next := e.NextMachine
			if next == "" {
				next = h.MachineID
			}
			b, _ := json.Marshal(map[string]any{"attempt": e.Attempt + 1, "backoffSeconds": int(e.Backoff / time.Second),
				"lastReason": e.Reason, "lastParams": params})
			// it joins the queue's end once the backoff has passed
			secs := e.Backoff.Seconds()
			if err := tx.QueryRow(ctx, `UPDATE tasks SET status = 'queued', status_reason = 'tasks.reason.restarting', status_params = $2,
					attempt = attempt + 1, machine_id = $3, exit_code = $4, queued_at = now() + make_interval(secs => $5),
					not_before = now() + make_interval(secs => $5), updated_at = now()
				WHERE id = $1 RETURNING status`, e.TaskID, b, next, e.ExitCode, secs).Scan(&out.Status); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO task_attempts (task_id, attempt, machine_id, queued_at)
				VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, e.TaskID, e.Attempt+1, next, secs); err != nil {
				return err
			}
		default:
			if _, err := tx.Exec(ctx, `UPDATE tasks SET status = $2, status_reason = $3, status_params = $4, exit_code = $5, finished_at = now(),
				not_before = NULL, updated_at = now() WHERE id = $1`, e.TaskID, e.Status, e.Reason, params, e.ExitCode); err != nil {
				return err
			}
			out.Status, out.Final = e.Status, true
		}
		granted, err := db.grantQueue(ctx, h.MachineID, gpuCount)
		if err != nil {
			return err
		}
		for _, g := range granted {
			out.Admitted = append(out.Admitted, g.taskID)
		}
		return notifyTask(ctx, tx, e.TaskID)
	})
	return out, err
}
