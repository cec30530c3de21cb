package store

import (
	"context"
	"time"
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

// PasswordResetsSince locks the user's reset requests for this
// transaction (parallel requests are counted one after the other) and
// returns when the newest was made and how many were made after since: the
// resend interval and the daily cap.
func PasswordResetsSince(ctx context.Context, db DBTX, userID string, since time.Time) (last time.Time, n int, err error) {
	if _, err := db.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID); err != nil {
		return time.Time{}, 0, err
	}
	var newest *time.Time
	err = db.QueryRow(ctx, `SELECT max(created_at), count(*) FILTER (WHERE created_at > $2) FROM password_resets WHERE user_id = $1`,
		userID, since).Scan(&newest, &n)
	if err != nil {
		return time.Time{}, 0, err
	}
	if newest != nil {
		last = *newest
	}
	return last, n, nil
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
