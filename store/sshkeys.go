package store

import (
	"context"
	"time"
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

func (s *Store) ListSSHKeys(ctx context.Context, tenantID, userID string) ([]SSHKey, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, key_type, fingerprint, comment, public_key, created_at FROM ssh_keys
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC`, tenantID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []SSHKey{}
	for rows.Next() {
		var k SSHKey
		if err := rows.Scan(&k.ID, &k.Name, &k.KeyType, &k.Fingerprint, &k.Comment, &k.PublicKey, &k.CreatedAt); err != nil {
			return nil, err
		}
		list = append(list, k)
	}
	return list, rows.Err()
}

func (s *Store) CreateSSHKey(ctx context.Context, tenantID, userID string, k *SSHKey) error {
	return s.Pool.QueryRow(ctx, `INSERT INTO ssh_keys (tenant_id, user_id, name, key_type, public_key, comment, fingerprint)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`,
		tenantID, userID, k.Name, k.KeyType, k.PublicKey, k.Comment, k.Fingerprint).Scan(&k.ID, &k.CreatedAt)
}

// DeleteSSHKey removes a key of the caller; another tenant's or user's key is ErrNotFound.
func (s *Store) DeleteSSHKey(ctx context.Context, tenantID, userID, id string) (*SSHKey, error) {
	var k SSHKey
	err := s.Pool.QueryRow(ctx, `DELETE FROM ssh_keys WHERE id = $1 AND tenant_id = $2 AND user_id = $3
		RETURNING id, name, key_type, fingerprint, comment, public_key, created_at`, id, tenantID, userID).
		Scan(&k.ID, &k.Name, &k.KeyType, &k.Fingerprint, &k.Comment, &k.PublicKey, &k.CreatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &k, nil
}
