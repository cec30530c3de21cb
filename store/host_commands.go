package store

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChannelHostCommands is notified with a machine ID whenever that machine
// has a new command (or one it should get again), so that the api replica
// holding the agent's long poll answers at once.
const ChannelHostCommands = "host_commands"

// ChannelAgentKeys is notified (by a trigger) with a machine ID whenever its
// agent keys change, so every api replica forgets the keys it cached.
const ChannelAgentKeys = "agent_keys"

// HostCommand is one piece of work for a host (see internal/hostchan).
type HostCommand struct {
	ID              string
	MachineID       string
	Kind            string
	Args            json.RawMessage
	Serial          string
	HasSecret       bool
	SecretFetchedAt *time.Time
	WorkflowID      string
	RunID           string
	ActivityID      string
	Attempt         int
	TaskToken       []byte
	HeartbeatS      int
	Status          string
	Progress        json.RawMessage
	Result          json.RawMessage
	Error           string
	ErrorType       string
	ErrorPermanent  bool
	Settled         bool
	CreatedAt       time.Time
	DeliveredAt     *time.Time
	HeartbeatAt     *time.Time
	FinishedAt      *time.Time
}

// Open reports whether the command still waits for the host.
func (c *HostCommand) Open() bool { return c.Status == "pending" || c.Status == "running" }

const hostCommandCols = `id, machine_id, kind, args, serial, secret_enc IS NOT NULL, secret_fetched_at, workflow_id, run_id, activity_id,
	attempt, task_token, heartbeat_s, status, progress, result, error, error_type, error_permanent, settled, created_at, delivered_at, heartbeat_at, finished_at`

func scanHostCommand(row pgx.Row) (*HostCommand, error) {
	var c HostCommand
	err := row.Scan(&c.ID, &c.MachineID, &c.Kind, &c.Args, &c.Serial, &c.HasSecret, &c.SecretFetchedAt, &c.WorkflowID, &c.RunID, &c.ActivityID,
		&c.Attempt, &c.TaskToken, &c.HeartbeatS, &c.Status, &c.Progress, &c.Result, &c.Error, &c.ErrorType, &c.ErrorPermanent, &c.Settled, &c.CreatedAt,
		&c.DeliveredAt, &c.HeartbeatAt, &c.FinishedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// HostCommandIssue is what an activity attempt records.
type HostCommandIssue struct {
	MachineID  string
	Kind       string
	Args       json.RawMessage
	Serial     string
	WorkflowID string
	RunID      string
	ActivityID string
	Attempt    int
	TaskToken  []byte
	HeartbeatS int
	// NewSecret is sealed; it is stored only when the command gets a fresh
	// secret (a new command, or one whose last try failed): a command still
	// open keeps the secret the host may already hold.
	NewSecret []byte
}

// IssueHostCommand records the command of an activity attempt, in the
// caller's transaction. A new activity gets a new pending command. A retried
// one (same workflow run and activity ID) takes its row over: an open
// command keeps its state and secret (the host may be working on it) and
// only gets the new task token; a failed or cancelled one is issued again,
// pending, with the new arguments and secret; a succeeded one stays as it
// is, so the attempt completes with the answer the host already gave.
// fresh tells that the row now holds in.NewSecret.
func (q *Queries) IssueHostCommand(ctx context.Context, in HostCommandIssue) (c *HostCommand, fresh bool, err error) {
	args := in.Args
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	old, err := scanHostCommand(q.db.QueryRow(ctx, `SELECT `+hostCommandCols+` FROM host_commands
		WHERE workflow_id = $1 AND run_id = $2 AND activity_id = $3 FOR UPDATE`, in.WorkflowID, in.RunID, in.ActivityID))
	switch {
	case errors.Is(err, ErrNotFound):
		c, err = scanHostCommand(q.db.QueryRow(ctx, `INSERT INTO host_commands (machine_id, kind, args, serial, secret_enc, workflow_id, run_id,
				activity_id, attempt, task_token, heartbeat_s)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+hostCommandCols,
			in.MachineID, in.Kind, args, in.Serial, in.NewSecret, in.WorkflowID, in.RunID, in.ActivityID, in.Attempt, in.TaskToken, in.HeartbeatS))
		fresh = true
	case err != nil:
		return nil, false, err
	case old.Status == "failed" || old.Status == "cancelled":
		c, err = scanHostCommand(q.db.QueryRow(ctx, `UPDATE host_commands SET task_token = $2, attempt = $3, heartbeat_s = $4, args = $5,
				secret_enc = $6, secret_fetched_at = NULL, status = 'pending', progress = NULL, result = NULL, error = '', error_type = '',
				error_permanent = false,
				settled = false, delivered_at = NULL, heartbeat_at = NULL, finished_at = NULL, updated_at = now()
			WHERE id = $1 RETURNING `+hostCommandCols, old.ID, in.TaskToken, in.Attempt, in.HeartbeatS, args, in.NewSecret))
		fresh = true
	default: // open, or succeeded
		c, err = scanHostCommand(q.db.QueryRow(ctx, `UPDATE host_commands SET task_token = $2, attempt = $3, heartbeat_s = $4, updated_at = now()
			WHERE id = $1 RETURNING `+hostCommandCols, old.ID, in.TaskToken, in.Attempt, in.HeartbeatS))
	}
	if err != nil {
		return nil, false, err
	}
	if c.Open() {
		if _, err := q.db.Exec(ctx, `SELECT pg_notify($1, $2)`, ChannelHostCommands, c.MachineID); err != nil {
			return nil, false, err
		}
	}
	return c, fresh, nil
}

// DeliverHostCommands returns the machine's open commands except those the
// agent says it is running, oldest first, and marks them delivered.
func (q *Queries) DeliverHostCommands(ctx context.Context, machineID string, running []string) ([]HostCommand, error) {
	if running == nil {
		running = []string{}
	}
	rows, err := q.db.Query(ctx, `UPDATE host_commands SET status = 'running', delivered_at = coalesce(delivered_at, now()), updated_at = now()
		WHERE machine_id = $1 AND status IN ('pending', 'running') AND NOT (id::text = ANY($2::text[]))
		RETURNING `+hostCommandCols, machineID, running)
	list, err := collect(rows, err, scanHostCommand)
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	return list, nil
}

// GetHostCommand loads a command of the machine; another machine's command is ErrNotFound.
func (q *Queries) GetHostCommand(ctx context.Context, machineID, id string, forUpdate bool) (*HostCommand, error) {
	query := `SELECT ` + hostCommandCols + ` FROM host_commands WHERE id = $1 AND machine_id = $2`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	return scanHostCommand(q.db.QueryRow(ctx, query, id, machineID))
}

// ErrSecretUnavailable: the command has no secret, or it was handed out already, or the command ended.
var ErrSecretUnavailable = errors.New("secret unavailable")

// TakeHostCommandSecret hands out an open command's secret, once.
func (q *Queries) TakeHostCommandSecret(ctx context.Context, machineID, id string) ([]byte, error) {
	var enc []byte
	err := q.db.QueryRow(ctx, `UPDATE host_commands SET secret_fetched_at = now(), updated_at = now()
		WHERE id = $1 AND machine_id = $2 AND status IN ('pending', 'running') AND secret_enc IS NOT NULL AND secret_fetched_at IS NULL
		RETURNING secret_enc`, id, machineID).Scan(&enc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrSecretUnavailable
	}
	return enc, err
}

// HostCommandSecret is the sealed secret of a command (nil when none), for the result's effects.
func (q *Queries) HostCommandSecret(ctx context.Context, id string) ([]byte, error) {
	var enc []byte
	err := q.db.QueryRow(ctx, `SELECT secret_enc FROM host_commands WHERE id = $1`, id).Scan(&enc)
	return enc, notFound(err)
}

// HeartbeatHostCommand records progress on an open command.
func (q *Queries) HeartbeatHostCommand(ctx context.Context, id string, progress json.RawMessage) error {
	if len(progress) == 0 {
		progress = nil
	}
	_, err := q.db.Exec(ctx, `UPDATE host_commands SET heartbeat_at = now(), progress = coalesce($2, progress), updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'running')`, id, progress)
	return err
}

// FinishHostCommand records the host's answer and drops the secret.
func (q *Queries) FinishHostCommand(ctx context.Context, id, status string, result json.RawMessage, errMsg, errType string, permanent bool) error {
	if len(result) == 0 {
		result = nil
	}
	_, err := q.db.Exec(ctx, `UPDATE host_commands SET status = $2, result = $3, error = $4, error_type = $5, error_permanent = $6,
		finished_at = now(), secret_enc = NULL, updated_at = now() WHERE id = $1`, id, status, result, errMsg, errType, permanent)
	return err
}

// SettleHostCommand marks the command's answer as delivered to Temporal
// (or its activity as gone), and, when still open, cancelled.
func (q *Queries) SettleHostCommand(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE host_commands SET settled = true, updated_at = now(),
		status = CASE WHEN status IN ('pending', 'running') THEN 'cancelled' ELSE status END,
		error = CASE WHEN status IN ('pending', 'running') THEN 'no longer awaited by its workflow' ELSE error END,
		finished_at = coalesce(finished_at, now()), secret_enc = NULL WHERE id = $1`, id)
	return err
}

// SetPendingAgentKey records a new agent key (by its hash) that the agent
// may use beside its current one until it confirms the switch.
func (q *Queries) SetPendingAgentKey(ctx context.Context, machineID string, keyHash []byte) error {
	tag, err := q.db.Exec(ctx, `UPDATE machines SET agent_key_pending_hash = $2 WHERE id = $1 AND deleted_at IS NULL`, machineID, keyHash)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// PromotePendingAgentKey makes the pending key the agent key; the old one stops working.
func (q *Queries) PromotePendingAgentKey(ctx context.Context, machineID string) error {
	_, err := q.db.Exec(ctx, `UPDATE machines SET agent_key_hash = agent_key_pending_hash, agent_key_pending_hash = NULL
		WHERE id = $1 AND agent_key_pending_hash IS NOT NULL`, machineID)
	return err
}

// DropPendingAgentKey forgets a key the agent never switched to.
func (q *Queries) DropPendingAgentKey(ctx context.Context, machineID string) error {
	_, err := q.db.Exec(ctx, `UPDATE machines SET agent_key_pending_hash = NULL WHERE id = $1`, machineID)
	return err
}

// RunHostCommand is the newest command of one workflow run (ErrNotFound before its activity started).
func (q *Queries) RunHostCommand(ctx context.Context, workflowID, runID string) (*HostCommand, error) {
	return scanHostCommand(q.db.QueryRow(ctx, `SELECT `+hostCommandCols+` FROM host_commands WHERE workflow_id = $1 AND run_id = $2
		ORDER BY created_at DESC LIMIT 1`, workflowID, runID))
}

// ClaimHostCommandUpload marks an open command of the machine of the given
// kind as having its upload under way, once: a second claim, a finished
// command, another kind or another machine's command is ErrNotFound.
func (q *Queries) ClaimHostCommandUpload(ctx context.Context, machineID, id, kind string) (*HostCommand, error) {
	return scanHostCommand(q.db.QueryRow(ctx, `UPDATE host_commands SET progress = '{"uploading":true}', updated_at = now()
		WHERE id = $1 AND machine_id = $2 AND kind = $3 AND status IN ('pending', 'running')
		  AND NOT coalesce(progress ? 'uploading', false)
		RETURNING `+hostCommandCols, id, machineID, kind))
}
