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
func (q *Queries) LatestPasswordReset(ctx context.Context, userID string, lock bool) (*PasswordReset, error) {
	query := `SELECT id, user_id, code_hash, attempts, created_at, expires_at FROM password_resets
		WHERE user_id = $1 AND consumed_at IS NULL ORDER BY created_at DESC LIMIT 1`
	if lock {
		query += " FOR UPDATE"
	}
	var r PasswordReset
	err := q.db.QueryRow(ctx, query, userID).Scan(&r.ID, &r.UserID, &r.CodeHash, &r.Attempts, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// PasswordResetsSince locks the user's reset requests for this
// transaction (parallel requests are counted one after the other) and
// returns when the newest was made and how many were made after since: the
// resend interval and the daily cap.
func (q *Queries) PasswordResetsSince(ctx context.Context, userID string, since time.Time) (last time.Time, n int, err error) {
	if err := q.LockUser(ctx, userID); err != nil {
		return time.Time{}, 0, err
	}
	var newest *time.Time
	err = q.db.QueryRow(ctx, `SELECT max(created_at), count(*) FILTER (WHERE created_at > $2) FROM password_resets WHERE user_id = $1`,
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
func (q *Queries) CreatePasswordReset(ctx context.Context, userID, codeHash string, expires time.Time) error {
	if _, err := q.db.Exec(ctx, `UPDATE password_resets SET consumed_at = now() WHERE user_id = $1 AND consumed_at IS NULL`, userID); err != nil {
		return err
	}
	_, err := q.db.Exec(ctx, `INSERT INTO password_resets (user_id, code_hash, expires_at) VALUES ($1, $2, $3)`, userID, codeHash, expires)
	return err
}

func (q *Queries) IncrementResetAttempts(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE password_resets SET attempts = attempts + 1 WHERE id = $1`, id)
	return err
}

func (q *Queries) ConsumePasswordReset(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE password_resets SET consumed_at = now() WHERE id = $1`, id)
	return err
}
