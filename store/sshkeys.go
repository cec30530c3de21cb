package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

type SSHKey struct {
	ID          string    `json:"id" format:"uuid"`
	Name        string    `json:"name"`
	KeyType     string    `json:"keyType" doc:"e.g. ssh-ed25519"`
	Fingerprint string    `json:"fingerprint" doc:"SHA256:… as ssh-keygen -l prints it"`
	Comment     string    `json:"comment"`
	PublicKey   string    `json:"publicKey"`
	CreatedAt   time.Time `json:"createdAt"`
}

const sshKeyColumns = `id, name, key_type, fingerprint, comment, public_key, created_at`

func scanSSHKey(row pgx.Row) (*SSHKey, error) {
	var k SSHKey
	if err := row.Scan(&k.ID, &k.Name, &k.KeyType, &k.Fingerprint, &k.Comment, &k.PublicKey, &k.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	return &k, nil
}

// ListSSHKeys is a page of a user's keys, newest first, and their number.
func (q *Queries) ListSSHKeys(ctx context.Context, tenantID, userID string, p Page) ([]SSHKey, int, error) {
	total, err := q.CountSSHKeys(ctx, tenantID, userID)
	if err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT `+sshKeyColumns+` FROM ssh_keys
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id`+p.limitOffset(), tenantID, userID)
	list, err := collect(rows, err, scanSSHKey)
	return list, total, err
}

// CountSSHKeys counts a user's keys.
func (q *Queries) CountSSHKeys(ctx context.Context, tenantID, userID string) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM ssh_keys WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&n)
	return n, err
}

func (q *Queries) CreateSSHKey(ctx context.Context, tenantID, userID string, k *SSHKey) error {
	return q.db.QueryRow(ctx, `INSERT INTO ssh_keys (tenant_id, user_id, name, key_type, public_key, comment, fingerprint)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
		tenantID, userID, k.Name, k.KeyType, k.PublicKey, k.Comment, k.Fingerprint).Scan(&k.ID, &k.CreatedAt)
}

// DeleteSSHKey removes a key of the caller; another tenant's or user's key is ErrNotFound.
func (q *Queries) DeleteSSHKey(ctx context.Context, tenantID, userID, id string) (*SSHKey, error) {
	return scanSSHKey(q.db.QueryRow(ctx, `DELETE FROM ssh_keys WHERE id = $1 AND tenant_id = $2 AND user_id = $3
		RETURNING `+sshKeyColumns, id, tenantID, userID))
}

// MachineSSHKeys are the authorized_keys lines a leased machine should hold:
// the keys of the active users of the tenant while the lease is active, none
// otherwise; with the tenant's keys version they reflect.
type MachineSSHKeys struct {
	Active  bool
	Lines   []string
	Version int64
}

func (q *Queries) MachineSSHKeys(ctx context.Context, allocationID string) (*MachineSSHKeys, error) {
	var k MachineSSHKeys
	var tenantID string
	err := q.db.QueryRow(ctx, `SELECT a.tenant_id, a.status = 'active', t.ssh_keys_version FROM allocations a
		JOIN tenants t ON t.id = a.tenant_id WHERE a.id = $1`, allocationID).Scan(&tenantID, &k.Active, &k.Version)
	if err != nil {
		return nil, notFound(err)
	}
	k.Lines = []string{}
	if !k.Active {
		return &k, nil
	}
	// The comment names who the key belongs to, so the customer can tell
	// the lines apart; it is built from names the platform checked.
	rows, err := q.db.Query(ctx, `SELECT k.public_key || ' rgpu:' || regexp_replace(u.username, '[^A-Za-z0-9._@-]', '_', 'g')
		FROM ssh_keys k JOIN users u ON u.id = k.user_id
		WHERE k.tenant_id = $1 AND u.status = 'active' ORDER BY k.created_at, k.id`, tenantID)
	if err != nil {
		return nil, err
	}
	if k.Lines, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	return &k, nil
}

// SetAllocationKeysVersion records the keys version the lease's machine
// holds; an older version never overwrites a newer one.
func (q *Queries) SetAllocationKeysVersion(ctx context.Context, allocationID string, version int64) error {
	_, err := q.db.Exec(ctx, `UPDATE allocations SET ssh_keys_version = greatest(ssh_keys_version, $2) WHERE id = $1`, allocationID, version)
	return err
}
