package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// RegisterAgent exchanges a machine's one-use bootstrap token (by its hash)
// for the agent's own key (by its hash), in one statement: the bootstrap
// token is cleared, so a second use finds nothing, and an expired one
// matches nothing. The inventory is stored with it. ErrNotFound when the
// machine or the token does not match.
func (q *Queries) RegisterAgent(ctx context.Context, machineID string, bootstrapHash, keyHash []byte, inventory json.RawMessage, gpuSource string, now time.Time) (string, error) {
	var name string
	err := q.db.QueryRow(ctx, `UPDATE machines SET agent_token_hash = NULL, agent_token_expires_at = NULL, agent_key_hash = $3,
		agent_key_pending_hash = NULL, agent_registered_at = $4, inventory = $5, inventory_at = $4, gpu_source = nullif($6, '')
		WHERE id = $1 AND agent_token_hash = $2 AND deleted_at IS NULL
		  AND (agent_token_expires_at IS NULL OR agent_token_expires_at > $4) RETURNING name`,
		machineID, bootstrapHash, keyHash, now, inventory, gpuSource).Scan(&name)
	return name, notFound(err)
}

// AgentKey is the machine an agent key belongs to; Pending tells the key is
// the new one of a rotation that the agent has not confirmed yet.
type AgentKey struct {
	MachineID string
	Pending   bool
}

// AgentByKey finds the machine an agent key (current or pending) belongs to.
func (q *Queries) AgentByKey(ctx context.Context, keyHash []byte) (AgentKey, error) {
	var k AgentKey
	err := q.db.QueryRow(ctx, `SELECT id, agent_key_hash IS DISTINCT FROM $1 FROM machines
		WHERE (agent_key_hash = $1 OR agent_key_pending_hash = $1) AND deleted_at IS NULL`, keyHash).Scan(&k.MachineID, &k.Pending)
	return k, notFound(err)
}

// ForgetAgent revokes the machine's agent keys (a reinstalled host needs a
// fresh registration with a new bootstrap token).
func (q *Queries) ForgetAgent(ctx context.Context, machineID string) error {
	_, err := q.db.Exec(ctx, `UPDATE machines SET agent_key_hash = NULL, agent_key_pending_hash = NULL, agent_token_hash = NULL,
		agent_token_expires_at = NULL, updated_at = now() WHERE id = $1`, machineID)
	return err
}

// SetInventory records what the machine's agent reports it has.
func (q *Queries) SetInventory(ctx context.Context, machineID string, inventory json.RawMessage, gpuSource string, now time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE machines SET inventory = $2, inventory_at = $3, gpu_source = nullif($4, '')
		WHERE id = $1 AND deleted_at IS NULL`, machineID, inventory, now, gpuSource)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AgentState is what the machine's agent has told about it.
type AgentState struct {
	Inventory    json.RawMessage // nil until the agent registers
	InventoryAt  *time.Time
	GPUSource    string
	RegisteredAt *time.Time
	LastSeenAt   *time.Time
}

func (q *Queries) AgentState(ctx context.Context, machineID string) (*AgentState, error) {
	var a AgentState
	var src *string
	err := q.db.QueryRow(ctx, `SELECT inventory, inventory_at, gpu_source, agent_registered_at, last_seen_at
		FROM machines WHERE id = $1 AND deleted_at IS NULL`, machineID).Scan(&a.Inventory, &a.InventoryAt, &src, &a.RegisteredAt, &a.LastSeenAt)
	if err != nil {
		return nil, notFound(err)
	}
	a.GPUSource = deref(src)
	return &a, nil
}

// MarkStaleOffline turns online machines whose agent has reported before but
// not since cutoff offline, and announces each on the machine_status channel
// as "<machineID>:offline" (sent when the statement's transaction commits).
// Machines never seen by an agent keep the state the admin declared;
// maintenance is never touched.
func (q *Queries) MarkStaleOffline(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := q.db.Query(ctx, `WITH upd AS (
			UPDATE machines SET status = 'offline', updated_at = now()
			WHERE deleted_at IS NULL AND status = 'online' AND last_seen_at < $1 RETURNING id)
		SELECT id::text, pg_notify('`+ChannelMachineStatus+`', id::text || ':offline') FROM upd ORDER BY id`, cutoff)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id string
		return id, r.Scan(&id, nil)
	})
}
