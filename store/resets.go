package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

type PasswordReset struct {
	ID        string
	UserID    string
	CodeHash  string
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LatestPasswordReset returns the user's newest unconsumed reset request.
func LatestPasswordReset(ctx context.Context, db DBTX, userID string, lock bool) (*PasswordReset, error) {
	q := `SELECT id, user_id, code_hash, attempts, created_at, expires_at FROM password_resets
		WHERE user_id = $1 AND consumed_at IS NULL ORDER BY created_at DESC LIMIT 1`
	if lock {
		q += " FOR UPDATE"
	}
	var r PasswordReset
	err := db.QueryRow(ctx, q, userID).Scan(&r.ID, &r.UserID, &r.CodeHash, &r.Attempts, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// LastPasswordResetAt is when the user last asked for a code (any state), for the resend limit.
func (s *Store) LastPasswordResetAt(ctx context.Context, userID string) (time.Time, error) {
	var t time.Time
	err := s.Pool.QueryRow(ctx, `SELECT created_at FROM password_resets WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, userID).Scan(&t)
	if err == pgx.ErrNoRows {
		return time.Time{}, nil
	}
	return t, err
}

// CreatePasswordReset replaces any open request of the user with a new one.
func CreatePasswordReset(ctx context.Context, db DBTX, userID, codeHash string, expires time.Time) error {
	if _, err := db.Exec(ctx, `UPDATE password_resets SET consumed_at = now() WHERE user_id = $1 AND consumed_at IS NULL`, userID); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO password_resets (user_id, code_hash, expires_at) VALUES ($1, $2, $3)`, userID, codeHash, expires)
	return err
}

func IncrementResetAttempts(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE password_resets SET attempts = attempts + 1 WHERE id = $1`, id)
	return err
}

func ConsumePasswordReset(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE password_resets SET consumed_at = now() WHERE id = $1`, id)
	return err
}
