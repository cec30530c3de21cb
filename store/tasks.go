package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChannelTaskLogs is notified with a task ID when the task has new log lines
// or a new status, so the log sockets of every api replica read on.
const ChannelTaskLogs = "task_logs"

// Task statuses (requirements 4.5.4).
const (
	TaskQueued    = "queued"
	TaskRunning   = "running"
	TaskSucceeded = "succeeded"
	TaskFailed    = "failed"
	TaskStopped   = "stopped"
)

// TaskEnded tells whether a status is final.
func TaskEnded(status string) bool {
	return status == TaskSucceeded || status == TaskFailed || status == TaskStopped
}

// Task is a task as lists show it.
type Task struct {
	ID              string         `json:"id" format:"uuid"`
	Name            string         `json:"name"`
	Type            string         `json:"type" enum:"training,inference"`
	Status          string         `json:"status" enum:"queued,running,succeeded,failed,stopped"`
	StatusReason    string         `json:"statusReason" doc:"A code (tasks.reason.*) the console translates; empty when there is none"`
	StatusParams    map[string]any `json:"statusParams" doc:"The figures of statusReason"`
	MachineID       string         `json:"machineId" format:"uuid" doc:"The machine of the current or last attempt"`
	MachineName     string         `json:"machineName"`
	TenantID        string         `json:"tenantId" format:"uuid"`
	TenantName      string         `json:"tenantName,omitempty" doc:"The customer's company (admin lists only)"`
	GPUCount        int            `json:"gpuCount"`
	GPUs            []int          `json:"gpus" doc:"The GPU indices granted to the current (or last) attempt"`
	Image           string         `json:"image"`
	Attempt         int            `json:"attempt"`
	MaxAttempts     int            `json:"maxAttempts"`
	QueuePosition   *int           `json:"queuePosition" doc:"Queued tasks only: 1 is next on its machine"`
	CreatedAt       time.Time      `json:"createdAt"`
	StartedAt       *time.Time     `json:"startedAt"`
	FinishedAt      *time.Time     `json:"finishedAt"`
	DurationSeconds int64          `json:"durationSeconds" doc:"From the start to the end (or now, while it runs)"`
	GPUUtil         *float64       `json:"gpuUtil" doc:"Running tasks: the latest average utilisation of its GPUs, %"`
	ExitCode        *int           `json:"exitCode"`
	ServiceURL      string         `json:"serviceUrl,omitempty" doc:"Inference tasks: where the service answers"`
	ServiceHealth   *ServiceHealth `json:"serviceHealth,omitempty" doc:"Tasks with a service port: the service's health, as the agent last probed it"`

	// for the service, not answered
	ServicePort *int   `json:"-"`
	CreatedBy   string `json:"-"`
	MachineHost string `json:"-"`
	Deleted     bool   `json:"-"`
}

// TaskEnv is one of the customer's environment variables.
type TaskEnv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TaskSpec is what a task runs and how, as the customer created it.
type TaskSpec struct {
	TenantID                  string
	CreatedBy                 string
	CreatedByName             string
	Name                      string
	Type                      string
	MachineID                 string
	AnyMachine                bool
	GPUCount                  int
	Image                     string
	WorkDir                   string
	ScriptPath                string
	Command                   string
	Env                       []TaskEnv
	AutoRestart               bool
	MaxAttempts               int
	NotifyInApp               bool
	NotifyMail                bool
	CheckpointIntervalSeconds int
	ServicePort               *int
	// Datasets are the mounts bound into the container (recorded by
	// RecordTaskDatasets, docs/datasets.md).
	Datasets []TaskDatasetUse
}

// TaskDetail is a task with its spec and attempts.
type TaskDetail struct {
	Task
	AnyMachine                bool          `json:"anyMachine"`
	WorkDir                   string        `json:"workDir"`
	ScriptPath                string        `json:"scriptPath"`
	Command                   string        `json:"command"`
	Env                       []TaskEnv     `json:"env"`
	AutoRestart               bool          `json:"autoRestart"`
	NotifyInApp               bool          `json:"notifyInApp"`
	NotifyMail                bool          `json:"notifyMail"`
	CheckpointIntervalSeconds int           `json:"checkpointIntervalSeconds"`
	ServicePort               *int          `json:"servicePort"`
	CreatedByName             string        `json:"createdByName"`
	FirstAttempt              int           `json:"firstAttempt" doc:"The first attempt of the current run (a re-run starts a new one)"`
	Attempts                  []TaskAttempt `json:"attempts"`
	GPUSimulated              bool          `json:"gpuSimulated" doc:"The machine's GPUs are simulated: no device is given to the container"`
}

// TaskAttempt is one try of a task: a container on a machine.
type TaskAttempt struct {
	Attempt         int            `json:"attempt"`
	MachineID       string         `json:"machineId" format:"uuid"`
	MachineName     string         `json:"machineName"`
	GPUs            []int          `json:"gpus"`
	Container       string         `json:"container"`
	GPUDevices      *bool          `json:"gpuDevices" doc:"The container got the GPUs as devices; false with simulated GPUs; null before it started"`
	QueuedAt        time.Time      `json:"queuedAt"`
	StartedAt       *time.Time     `json:"startedAt"`
	FinishedAt      *time.Time     `json:"finishedAt"`
	ExitCode        *int           `json:"exitCode"`
	Reason          string         `json:"reason" doc:"How it ended, a code (tasks.reason.*); empty while it runs"`
	Params          map[string]any `json:"params"`
	LogLines        int64          `json:"logLines"`
	DurationSeconds int64          `json:"durationSeconds"`
}

// TaskScope is whose tasks a query sees: one tenant's (customers), or all
// (admins, the workflows). A customer query never runs without its tenant.
type TaskScope struct {
	TenantID string
	All      bool
}

func (s TaskScope) add(w *where) error {
	switch {
	case s.All:
		return nil
	case s.TenantID == "":
		return errors.New("a task query without a tenant")
	}
	w.add("t.tenant_id = %s::uuid", s.TenantID)
	return nil
}

// taskSelect reads the list row of tasks t, with its machine, customer and current attempt.
const taskSelect = `SELECT t.id, t.name, t.type, t.status, t.status_reason, t.status_params, t.machine_id, m.name, t.tenant_id, tn.company,
	t.gpu_count, coalesce(a.gpus, '{}'), t.image, t.attempt, t.max_attempts,
	CASE WHEN t.status = 'queued' THEN (SELECT count(*) FROM tasks q WHERE q.machine_id = t.machine_id AND q.status = 'queued'
		AND (q.queued_at, q.id) <= (t.queued_at, t.id)) END,
	t.created_at, t.started_at, t.finished_at,
	CASE WHEN t.status = 'running' THEN (SELECT avg((g->>'utilization')::float8) FROM machine_latest l, jsonb_array_elements(l.gpus) g
		WHERE l.machine_id = t.machine_id AND (g->>'index')::int = ANY(a.gpus)) END,
	t.exit_code, t.service_port, m.ssh_host, coalesce(t.created_by::text, ''), t.deleted_at IS NOT NULL,
	a.service_up, a.service_http_status, a.service_checked_at
	FROM tasks t JOIN machines m ON m.id = t.machine_id JOIN tenants tn ON tn.id = t.tenant_id
	LEFT JOIN task_attempts a ON a.task_id = t.id AND a.attempt = t.attempt`

func scanTask(row pgx.Row) (*Task, error) {
	var t Task
	var pos *int64
	var probe serviceProbe
	err := row.Scan(&t.ID, &t.Name, &t.Type, &t.Status, &t.StatusReason, &t.StatusParams, &t.MachineID, &t.MachineName, &t.TenantID, &t.TenantName,
		&t.GPUCount, &t.GPUs, &t.Image, &t.Attempt, &t.MaxAttempts, &pos, &t.CreatedAt, &t.StartedAt, &t.FinishedAt, &t.GPUUtil,
		&t.ExitCode, &t.ServicePort, &t.MachineHost, &t.CreatedBy, &t.Deleted,
		&probe.up, &probe.status, &probe.at)
	if err != nil {
		return nil, notFound(err)
	}
	if pos != nil {
		p := int(*pos)
		t.QueuePosition = &p
	}
	if t.StatusParams == nil {
		t.StatusParams = map[string]any{}
	}
	if t.GPUUtil != nil {
		v := round(*t.GPUUtil)
		t.GPUUtil = &v
	}
	t.DurationSeconds = duration(t.StartedAt, t.FinishedAt)
	if t.Type == "inference" && t.ServicePort != nil && t.MachineHost != "" {
		t.ServiceURL = "http://" + t.MachineHost + ":" + strconv.Itoa(*t.ServicePort)
	}
	if t.ServicePort != nil {
		t.ServiceHealth = probe.health(t.Status, time.Now())
	}
	return &t, nil
}

// duration is the seconds from start to end, or to now when it has not ended.
func duration(start, end *time.Time) int64 {
	if start == nil {
		return 0
	}
	e := time.Now()
	if end != nil {
		e = *end
	}
	return max(0, int64(e.Sub(*start)/time.Second))
}

// TaskFilter narrows a task list.
type TaskFilter struct {
	Type      string
	Statuses  []string
	MachineID string
	TenantID  string // admins: one customer's
	Name      string // substring
	From, To  *time.Time
	// Queue lists the queued tasks by machine and queue position.
	Queue bool
}

var taskSorts = map[string]string{"createdAt": "t.created_at", "name": "t.name", "status": "t.status", "startedAt": "t.started_at",
	"finishedAt": "t.finished_at", "gpuCount": "t.gpu_count", "machineName": "m.name", "type": "t.type"}

// ListTasks pages the tasks the scope sees (deleted ones never).
func (q *Queries) ListTasks(ctx context.Context, s TaskScope, f TaskFilter, p Page) ([]Task, int, error) {
	w := &where{}
	if err := s.add(w); err != nil {
		return nil, 0, err
	}
	w.raw("t.deleted_at IS NULL")
	if f.Type != "" {
		w.add("t.type = %s", f.Type)
	}
	if len(f.Statuses) > 0 {
		w.add("t.status = ANY(%s::text[])", f.Statuses)
	}
	if f.MachineID != "" {
		w.add("t.machine_id = %s::uuid", f.MachineID)
	}
	if f.TenantID != "" {
		w.add("t.tenant_id = %s::uuid", f.TenantID)
	}
	if f.Name != "" {
		w.add("t.name ILIKE %s", likePattern(f.Name))
	}
	if f.From != nil {
		w.add("t.created_at >= %s", *f.From)
	}
	if f.To != nil {
		w.add("t.created_at < %s", *f.To)
	}
	order := p.orderBy(taskSorts, "t.created_at DESC, t.id")
	if f.Queue {
		w.raw("t.status = 'queued'")
		order = " ORDER BY m.name, t.machine_id, t.queued_at, t.id"
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM tasks t JOIN machines m ON m.id = t.machine_id"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, taskSelect+w.sql()+order+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanTask)
	return list, total, err
}

// GetTask is one task the scope sees; a deleted one only when withDeleted.
func (q *Queries) GetTask(ctx context.Context, s TaskScope, id string, withDeleted bool) (*Task, error) {
	w := &where{}
	if err := s.add(w); err != nil {
		return nil, err
	}
	w.add("t.id = %s::uuid", id)
	if !withDeleted {
		w.raw("t.deleted_at IS NULL")
	}
	return scanTask(q.db.QueryRow(ctx, taskSelect+w.sql(), w.args...))
}

// GetTaskDetail is a task with its spec and attempts.
func (q *Queries) GetTaskDetail(ctx context.Context, s TaskScope, id string) (*TaskDetail, error) {
	t, err := q.GetTask(ctx, s, id, false)
	if err != nil {
		return nil, err
	}
	d := TaskDetail{Task: *t}
	var env []byte
	var source *string
	w := &where{}
	if err := s.add(w); err != nil {
		return nil, err
	}
	w.add("t.id = %s::uuid", id)
	err = q.db.QueryRow(ctx, `SELECT t.any_machine, t.work_dir, t.script_path, t.command, t.env, t.auto_restart, t.notify_in_app, t.notify_mail,
		t.checkpoint_interval_s, t.service_port, t.created_by_name, t.first_attempt, m.gpu_source
		FROM tasks t JOIN machines m ON m.id = t.machine_id`+w.sql(), w.args...).Scan(&d.AnyMachine, &d.WorkDir, &d.ScriptPath, &d.Command, &env,
		&d.AutoRestart, &d.NotifyInApp, &d.NotifyMail, &d.CheckpointIntervalSeconds, &d.ServicePort, &d.CreatedByName, &d.FirstAttempt, &source)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(env, &d.Env); err != nil {
		return nil, fmt.Errorf("unable to read the task's environment: %w", err)
	}
	if d.Env == nil {
		d.Env = []TaskEnv{}
	}
	d.GPUSimulated = source != nil && *source == "simulated"
	if d.Attempts, err = q.TaskAttempts(ctx, id); err != nil {
		return nil, err
	}
	return &d, nil
}

// TaskAttempts lists a task's attempts, newest first.
func (q *Queries) TaskAttempts(ctx context.Context, taskID string) ([]TaskAttempt, error) {
	rows, err := q.db.Query(ctx, `SELECT a.attempt, a.machine_id, m.name, a.gpus, a.container, a.gpu_devices, a.queued_at, a.started_at, a.finished_at,
		a.exit_code, a.reason, a.params, a.log_next
		FROM task_attempts a JOIN machines m ON m.id = a.machine_id WHERE a.task_id = $1 ORDER BY a.attempt DESC`, taskID)
	return collect(rows, err, func(row pgx.Row) (*TaskAttempt, error) {
		var a TaskAttempt
		if err := row.Scan(&a.Attempt, &a.MachineID, &a.MachineName, &a.GPUs, &a.Container, &a.GPUDevices, &a.QueuedAt, &a.StartedAt,
			&a.FinishedAt, &a.ExitCode, &a.Reason, &a.Params, &a.LogLines); err != nil {
			return nil, err
		}
		if a.Params == nil {
			a.Params = map[string]any{}
		}
		a.DurationSeconds = duration(a.StartedAt, a.FinishedAt)
		return &a, nil
	})
}

// CreateTask records a queued task and its first attempt on its machine.
func (q *Queries) CreateTask(ctx context.Context, s TaskSpec) (string, error) {
	env, err := json.Marshal(s.Env)
	if err != nil {
		return "", err
	}
	var id string
	err = q.db.QueryRow(ctx, `INSERT INTO tasks (tenant_id, created_by, created_by_name, name, type, machine_id, any_machine, gpu_count, image,
			work_dir, script_path, command, env, auto_restart, max_attempts, notify_in_app, notify_mail, checkpoint_interval_s, service_port)
		VALUES ($1, nullif($2, '')::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id`,
		s.TenantID, s.CreatedBy, s.CreatedByName, s.Name, s.Type, s.MachineID, s.AnyMachine, s.GPUCount, s.Image, s.WorkDir, s.ScriptPath,
		s.Command, env, s.AutoRestart, s.MaxAttempts, s.NotifyInApp, s.NotifyMail, s.CheckpointIntervalSeconds, s.ServicePort).Scan(&id)
	if err != nil {
		return "", err
	}
	_, err = q.db.Exec(ctx, `INSERT INTO task_attempts (task_id, attempt, machine_id) VALUES ($1, 1, $2)`, id, s.MachineID)
	return id, err
}

// DropTask removes a task that never ran (its workflow could not start).
func (q *Queries) DropTask(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM tasks WHERE id = $1`, id)
	return err
}

// TaskRunSpec is what a task's workflow and host commands need.
type TaskRunSpec struct {
	TaskID                    string
	TenantID                  string
	MachineID                 string
	Status                    string
	Attempt                   int
	FirstAttempt              int
	GPUCount                  int
	Image                     string
	Command                   string
	WorkDir                   string
	ScriptPath                string
	Env                       []TaskEnv
	CheckpointIntervalSeconds int
	ServicePort               *int
	AutoRestart               bool
	MaxAttempts               int
	AnyMachine                bool
	NotifyInApp               bool
	NotifyMail                bool
	CreatedBy                 string
	Name                      string
	Type                      string
	StatusReason              string
	StatusParams              map[string]any
	Deleted                   bool
}

// TaskRun loads the spec of a task, deleted or not.
func (q *Queries) TaskRun(ctx context.Context, id string) (*TaskRunSpec, error) {
	var s TaskRunSpec
	var env []byte
	err := q.db.QueryRow(ctx, `SELECT id, tenant_id, machine_id, status, attempt, first_attempt, gpu_count, image, command, work_dir, script_path,
		env, checkpoint_interval_s, service_port, auto_restart, max_attempts, any_machine, notify_in_app, notify_mail,
		coalesce(created_by::text, ''), name, type, status_reason, status_params, deleted_at IS NOT NULL FROM tasks WHERE id = $1`, id).
		Scan(&s.TaskID, &s.TenantID, &s.MachineID, &s.Status, &s.Attempt, &s.FirstAttempt, &s.GPUCount, &s.Image, &s.Command, &s.WorkDir,
			&s.ScriptPath, &env, &s.CheckpointIntervalSeconds, &s.ServicePort, &s.AutoRestart, &s.MaxAttempts, &s.AnyMachine, &s.NotifyInApp,
			&s.NotifyMail, &s.CreatedBy, &s.Name, &s.Type, &s.StatusReason, &s.StatusParams, &s.Deleted)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(env, &s.Env); err != nil {
		return nil, fmt.Errorf("unable to read the task's environment: %w", err)
	}
	return &s, nil
}

// AttemptHost is where an attempt runs and on which GPUs.
type AttemptHost struct {
	MachineID string
	GPUs      []int
}

// TaskAttemptHost is the machine and GPUs of one attempt.
func (q *Queries) TaskAttemptHost(ctx context.Context, taskID string, attempt int) (*AttemptHost, error) {
	var h AttemptHost
	err := q.db.QueryRow(ctx, `SELECT machine_id, gpus FROM task_attempts WHERE task_id = $1 AND attempt = $2`, taskID, attempt).Scan(&h.MachineID, &h.GPUs)
	return &h, notFound(err)
}

// RestartTask queues a finished task again as a new attempt (and a new run)
// on machineID; ErrNotFound when it is not finished (any more).
func (q *Queries) RestartTask(ctx context.Context, id, machineID string) (int, error) {
	var attempt int
	err := q.db.QueryRow(ctx, `UPDATE tasks SET status = 'queued', status_reason = '', status_params = '{}', attempt = attempt + 1,
			first_attempt = attempt + 1, machine_id = $2, exit_code = NULL, queued_at = now(), not_before = NULL, started_at = NULL,
			finished_at = NULL, updated_at = now()
		WHERE id = $1 AND status IN ('succeeded', 'failed', 'stopped') AND deleted_at IS NULL RETURNING attempt`, id, machineID).Scan(&attempt)
	if err != nil {
		return 0, notFound(err)
	}
	_, err = q.db.Exec(ctx, `INSERT INTO task_attempts (task_id, attempt, machine_id) VALUES ($1, $2, $3)`, id, attempt, machineID)
	return attempt, err
}

// TaskState is what a task's row said before a change, to undo it.
type TaskState struct {
	Status, Reason string
	Params         map[string]any
	Attempt        int
	FirstAttempt   int
	MachineID      string
	ExitCode       *int
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

// LockTaskState reads (and locks) the fields a re-run changes.
func (q *Queries) LockTaskState(ctx context.Context, id string) (*TaskState, error) {
	var s TaskState
	err := q.db.QueryRow(ctx, `SELECT status, status_reason, status_params, attempt, first_attempt, machine_id, exit_code, started_at, finished_at
		FROM tasks WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&s.Status, &s.Reason, &s.Params, &s.Attempt, &s.FirstAttempt, &s.MachineID, &s.ExitCode,
		&s.StartedAt, &s.FinishedAt)
	return &s, notFound(err)
}

// UndoRestart puts a task back as it was before a re-run whose workflow could not start.
func (q *Queries) UndoRestart(ctx context.Context, id string, s *TaskState) error {
	return q.InTx(ctx, func(tx pgx.Tx) error {
		var attempt int
		if err := tx.QueryRow(ctx, `SELECT attempt FROM tasks WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&attempt); err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM task_gpu_grants WHERE task_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM task_attempts WHERE task_id = $1 AND attempt > $2`, id, s.Attempt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE tasks SET status = $2, status_reason = $3, status_params = $4, attempt = $5, first_attempt = $6, machine_id = $7,
			exit_code = $8, started_at = $9, finished_at = $10, updated_at = now() WHERE id = $1`,
			id, s.Status, s.Reason, s.Params, s.Attempt, s.FirstAttempt, s.MachineID, s.ExitCode, s.StartedAt, s.FinishedAt)
		return err
	})
}

// MarkTaskDeleted hides a finished task (its rows go once the host cleaned
// up); ErrNotFound when it is not finished or already deleted.
func (q *Queries) MarkTaskDeleted(ctx context.Context, id string, deleted bool) error {
	cond := `deleted_at IS NULL AND status IN ('succeeded', 'failed', 'stopped')`
	set := `now()`
	if !deleted {
		cond, set = `deleted_at IS NOT NULL`, `NULL`
	}
	tag, err := q.db.Exec(ctx, `UPDATE tasks SET deleted_at = `+set+`, updated_at = now() WHERE id = $1 AND `+cond, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// PurgeTask deletes a deleted task's rows: its attempts and logs go with it.
// DeletedTaskTenant is the tenant of a task deleted but not purged yet.
func (q *Queries) DeletedTaskTenant(ctx context.Context, id string) (string, error) {
	var tenantID string
	err := q.db.QueryRow(ctx, `SELECT tenant_id::text FROM tasks WHERE id = $1 AND deleted_at IS NOT NULL`, id).Scan(&tenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return tenantID, err
}

func (q *Queries) PurgeTask(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM tasks WHERE id = $1 AND deleted_at IS NOT NULL`, id)
	return err
}

// TaskMachines are the machines a task ran on, for its host cleanup.
func (q *Queries) TaskMachines(ctx context.Context, taskID string) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT DISTINCT machine_id::text FROM task_attempts WHERE task_id = $1 ORDER BY 1`, taskID)
	return rowsTo[string](rows, err)
}

// MarkTaskRunning records that an attempt's container started.
func (q *Queries) MarkTaskRunning(ctx context.Context, taskID string, attempt int, container string, startedAt time.Time, gpuDevices bool) error {
	return q.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE task_attempts SET container = $3, started_at = coalesce(started_at, $4), gpu_devices = $5
			WHERE task_id = $1 AND attempt = $2`, taskID, attempt, container, startedAt, gpuDevices); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE tasks SET started_at = coalesce(started_at, $3), updated_at = now()
			WHERE id = $1 AND attempt = $2 AND status = 'running'`, taskID, attempt, startedAt); err != nil {
			return err
		}
		return notifyTask(ctx, tx, taskID)
	})
}

func notifyTask(ctx context.Context, db DBTX, taskID string) error {
	_, err := db.Exec(ctx, `SELECT pg_notify($1, $2)`, ChannelTaskLogs, taskID)
	return err
}

// TaskStatus is a task's status and its current attempt.
func (q *Queries) TaskStatus(ctx context.Context, taskID string) (string, int, error) {
	var status string
	var attempt int
	err := q.db.QueryRow(ctx, `SELECT status, attempt FROM tasks WHERE id = $1`, taskID).Scan(&status, &attempt)
	return status, attempt, notFound(err)
}

// TaskCounts counts live tasks (admin home, customer cards).
type TaskCounts struct {
	Running int `json:"running"`
	Queued  int `json:"queued"`
	Total   int `json:"total"`
}

// CountTasks counts the tasks of one tenant, or of all when tenantID is empty.
func (q *Queries) CountTasks(ctx context.Context, tenantID string) (TaskCounts, error) {
	var c TaskCounts
	err := q.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'queued'), count(*)
		FROM tasks WHERE deleted_at IS NULL AND ($1 = '' OR tenant_id = nullif($1, '')::uuid)`, tenantID).Scan(&c.Running, &c.Queued, &c.Total)
	return c, err
}

// EndLeaseTasks stops the live tasks of a tenant on a machine whose lease
// ended, freeing their GPUs, in the caller's transaction (the lease end's);
// it returns their IDs so their workflows can be told.
func (q *Queries) EndLeaseTasks(ctx context.Context, tenantID, machineID string) ([]string, error) {
	rows, err := q.db.Query(ctx, `UPDATE tasks SET status = 'stopped', status_reason = 'tasks.reason.leaseEnded', status_params = '{}',
			finished_at = now(), not_before = NULL, updated_at = now()
		WHERE tenant_id = $1 AND machine_id = $2 AND status IN ('queued', 'running') RETURNING id::text`, tenantID, machineID)
	ids, err := rowsTo[string](rows, err)
	if err != nil || len(ids) == 0 {
		return ids, err
	}
	if _, err := q.db.Exec(ctx, `UPDATE task_attempts a SET finished_at = now(), reason = 'tasks.reason.leaseEnded'
		FROM tasks t WHERE t.id = a.task_id AND a.attempt = t.attempt AND a.finished_at IS NULL AND t.id = ANY($1::uuid[])`, ids); err != nil {
		return nil, err
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM task_gpu_grants WHERE machine_id = $1 AND task_id = ANY($2::uuid[])`, machineID, ids); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := notifyTask(ctx, q.db, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ServicePortInUse tells whether a live task of the machine publishes the port.
func (q *Queries) ServicePortInUse(ctx context.Context, machineID string, port int) (bool, error) {
	var used bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE machine_id = $1 AND service_port = $2 AND status IN ('queued', 'running'))`,
		machineID, port).Scan(&used)
	return used, err
}

// AvailableMachine is a machine leased to the tenant, as the create form offers it.
type AvailableMachine struct {
	ID          string `json:"id" format:"uuid"`
	Name        string `json:"name"`
	Status      string `json:"status" enum:"online,offline,maintenance"`
	GPUModel    string `json:"gpuModel"`
	GPUCount    int    `json:"gpuCount"`
	FreeGPUs    int    `json:"freeGpus" doc:"GPUs no task holds now, and not set aside after a fault"`
	QueuedTasks int    `json:"queuedTasks"`
	GPUSource   string `json:"gpuSource" enum:"nvml,simulated," doc:"simulated: no device is given to the containers"`
}

// AvailableMachines are the machines actively leased to the tenant, by name.
func (q *Queries) AvailableMachines(ctx context.Context, tenantID string) ([]AvailableMachine, error) {
	rows, err := q.db.Query(ctx, `SELECT m.id, m.name, m.status, m.gpu_model, m.gpu_count,
			greatest(m.gpu_count - (SELECT count(*) FROM (SELECT gpu_index FROM task_gpu_grants g WHERE g.machine_id = m.id
				UNION SELECT f.gpu_index FROM gpu_faults f WHERE f.machine_id = m.id AND f.cleared_at IS NULL
				AND f.at > now() - interval '24 hours') busy), 0),
			(SELECT count(*) FROM tasks t WHERE t.machine_id = m.id AND t.status = 'queued'), coalesce(m.gpu_source, '')
		FROM machines m JOIN allocations a ON a.id = m.live_allocation_id
		WHERE m.deleted_at IS NULL AND a.tenant_id = $1 AND a.status = 'active' ORDER BY m.name`, tenantID)
	return collect(rows, err, func(row pgx.Row) (*AvailableMachine, error) {
		var m AvailableMachine
		err := row.Scan(&m.ID, &m.Name, &m.Status, &m.GPUModel, &m.GPUCount, &m.FreeGPUs, &m.QueuedTasks, &m.GPUSource)
		return &m, err
	})
}

// PickTaskMachine is the machine leased to the task's tenant, other than
// exclude, with at least its GPU count and the most free GPUs; "" when none.
func (q *Queries) PickTaskMachine(ctx context.Context, taskID, exclude string) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, `SELECT m.id FROM tasks t
		JOIN allocations a ON a.tenant_id = t.tenant_id AND a.status = 'active'
		JOIN machines m ON m.live_allocation_id = a.id AND m.deleted_at IS NULL
		WHERE t.id = $1 AND m.id <> $2 AND m.gpu_count >= t.gpu_count AND m.status = 'online'
		ORDER BY m.gpu_count - (SELECT count(*) FROM task_gpu_grants g WHERE g.machine_id = m.id) DESC,
			(SELECT count(*) FROM tasks q WHERE q.machine_id = m.id AND q.status = 'queued'), m.name
		LIMIT 1`, taskID, exclude).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// validStatuses checks a list of statuses from a filter.
func ValidTaskStatuses(list []string) bool {
	for _, s := range list {
		switch strings.TrimSpace(s) {
		case TaskQueued, TaskRunning, TaskSucceeded, TaskFailed, TaskStopped:
		default:
			return false
		}
	}
	return true
}

// rowsTo reads a one-column query; err is the query's own error.
func rowsTo[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[T])
}

// ReconcileTask is a live task, for the reconciler to give it a workflow.
type ReconcileTask struct {
	ID, MachineID                      string
	Attempt, FirstAttempt, MaxAttempts int
	AutoRestart, AnyMachine            bool
}

// LiveTasksBefore are the queued and running tasks last changed before cutoff.
func (q *Queries) LiveTasksBefore(ctx context.Context, cutoff time.Time) ([]ReconcileTask, error) {
	rows, err := q.db.Query(ctx, `SELECT id, machine_id, attempt, first_attempt, max_attempts, auto_restart, any_machine FROM tasks
		WHERE status IN ('queued', 'running') AND updated_at < $1 ORDER BY updated_at LIMIT 1000`, cutoff)
	return collect(rows, err, func(row pgx.Row) (*ReconcileTask, error) {
		var t ReconcileTask
		err := row.Scan(&t.ID, &t.MachineID, &t.Attempt, &t.FirstAttempt, &t.MaxAttempts, &t.AutoRestart, &t.AnyMachine)
		return &t, err
	})
}

// DeletedTasksBefore are the tasks deleted before cutoff whose rows are still there.
func (q *Queries) DeletedTasksBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT id::text FROM tasks WHERE deleted_at < $1 ORDER BY deleted_at LIMIT 1000`, cutoff)
	return rowsTo[string](rows, err)
}
