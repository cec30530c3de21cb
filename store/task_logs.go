package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// TaskLogLine is one line of an attempt's log: n counts from 1 over both
// streams, in the order the agent read them.
type TaskLogLine struct {
	N int64     `json:"n"`
	T time.Time `json:"t"`
	S string    `json:"s" enum:"stdout,stderr"`
	X string    `json:"x"`
}

// NewTaskLogLine is a line the agent sent.
type NewTaskLogLine struct {
	Time   time.Time
	Stream string
	Text   string
}

// AppendTaskLogs stores a batch of an attempt's lines that starts at
// offset (0-based) and returns the offset expected next. Only the agent of
// the attempt's machine may write, and only while the task's tenant holds
// that machine (ErrNotFound otherwise, and for a deleted task). Lines
// stored before are skipped, so a batch sent twice is stored once; a batch
// after a gap stores nothing and the answer says where to resume.
func (q *Queries) AppendTaskLogs(ctx context.Context, taskID string, attempt int, machineID string, offset int64, lines []NewTaskLogLine) (int64, error) {
	var next int64
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		// Only while the task's tenant holds the machine: once the lease ends,
		// the next customer is root there and has the agent's key.
		err := tx.QueryRow(ctx, `SELECT a.log_next FROM task_attempts a JOIN tasks t ON t.id = a.task_id
			JOIN machines m ON m.id = a.machine_id JOIN allocations al ON al.id = m.live_allocation_id
			WHERE a.task_id = $1 AND a.attempt = $2 AND a.machine_id = $3 AND t.deleted_at IS NULL AND al.tenant_id = t.tenant_id
			FOR UPDATE OF a`,
			taskID, attempt, machineID).Scan(&next)
		if err != nil {
			return notFound(err)
		}
		if offset > next || offset+int64(len(lines)) <= next {
			return nil
		}
		fresh := lines[next-offset:]
		ts := make([]time.Time, len(fresh))
		streams := make([]string, len(fresh))
		texts := make([]string, len(fresh))
		for i, l := range fresh {
			ts[i], streams[i] = l.Time, l.Stream
			texts[i] = strings.ReplaceAll(l.Text, "\x00", "\uFFFD") // Postgres text holds no NUL
		}
		if _, err := tx.Exec(ctx, `INSERT INTO task_logs (task_id, attempt, n, ts, stream, line)
			SELECT $1, $2, $3 + u.i, u.ts, u.s, u.x FROM unnest($4::timestamptz[], $5::text[], $6::text[]) WITH ORDINALITY AS u(ts, s, x, i)
			ON CONFLICT DO NOTHING`, taskID, attempt, next, ts, streams, texts); err != nil {
			return err
		}
		next += int64(len(fresh))
		if _, err := tx.Exec(ctx, `UPDATE task_attempts SET log_next = $3 WHERE task_id = $1 AND attempt = $2`, taskID, attempt, next); err != nil {
			return err
		}
		return notifyTask(ctx, tx, taskID)
	})
	return next, err
}

// TaskLogQuery pages an attempt's log.
type TaskLogQuery struct {
	TaskID  string
	Attempt int
	AfterN  int64
	Limit   int
	Search  string // substring, case-insensitive
}

// TaskLogs are the lines after AfterN, oldest first, at most Limit.
func (q *Queries) TaskLogs(ctx context.Context, lq TaskLogQuery) ([]TaskLogLine, error) {
	w := &where{}
	w.add("task_id = %s", lq.TaskID)
	w.add("attempt = %s", lq.Attempt)
	w.add("n > %s", lq.AfterN)
	if lq.Search != "" {
		w.add("line ILIKE %s", likePattern(lq.Search))
	}
	limit := lq.Limit
	if limit <= 0 {
		limit = 1000
	}
	w.args = append(w.args, limit)
	rows, err := q.db.Query(ctx, `SELECT n, ts, stream, line FROM task_logs`+w.sql()+` ORDER BY n LIMIT $`+strconv.Itoa(len(w.args)), w.args...)
	return collect(rows, err, func(row pgx.Row) (*TaskLogLine, error) {
		var l TaskLogLine
		err := row.Scan(&l.N, &l.T, &l.S, &l.X)
		l.T = l.T.UTC()
		return &l, err
	})
}

// EachTaskLogLine calls fn for every line of an attempt in order, reading
// a chunk at a time (a download of a long log).
func (q *Queries) EachTaskLogLine(ctx context.Context, taskID string, attempt int, fn func(TaskLogLine) error) error {
	var after int64
	for {
		chunk, err := q.TaskLogs(ctx, TaskLogQuery{TaskID: taskID, Attempt: attempt, AfterN: after, Limit: 5000})
		if err != nil {
			return err
		}
		for _, l := range chunk {
			if err := fn(l); err != nil {
				return err
			}
			after = l.N
		}
		if len(chunk) < 5000 {
			return nil
		}
	}
}
