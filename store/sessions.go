package store

import (
	"context"
	"time"
)

// SessionPrincipal is what a request needs to know about its caller; one
// query per request checks that the session, the user and the tenant are still live.
type SessionPrincipal struct {
	SessionID    string
	UserID       string
	Username     string
	Name         string
	Role         string
	TenantID     string
	UserStatus   string
	TenantStatus string
}

func (q *Queries) CreateSession(ctx context.Context, userID, ip, userAgent string, expires time.Time) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, `INSERT INTO sessions (user_id, ip, user_agent, expires_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		userID, ip, userAgent, expires).Scan(&id)
	return id, err
}

func (q *Queries) InsertRefreshToken(ctx context.Context, sessionID string, hash []byte, expires time.Time) error {
	_, err := q.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)`, hash, sessionID, expires)
	return err
}

// RefreshToken is a stored token with its session's state.
type RefreshToken struct {
	SessionID        string
	UserID           string
	ExpiresAt        time.Time
	UsedAt           *time.Time
	SessionRevokedAt *time.Time
}

// ClaimRefreshToken locks the token row for the rotation.
func (q *Queries) ClaimRefreshToken(ctx context.Context, hash []byte) (*RefreshToken, error) {
	var t RefreshToken
	err := q.db.QueryRow(ctx, `SELECT r.session_id, s.user_id, r.expires_at, r.used_at, s.revoked_at
		FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1 FOR UPDATE OF r`, hash).
		Scan(&t.SessionID, &t.UserID, &t.ExpiresAt, &t.UsedAt, &t.SessionRevokedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &t, nil
}

func (q *Queries) MarkRefreshTokenUsed(ctx context.Context, hash []byte) error {
	_, err := q.db.Exec(ctx, `UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1`, hash)
	return err
}

func (q *Queries) TouchSession(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE id = $1`, id)
	return err
}

// RevokeSession ends one login (logout, or reuse of a spent refresh token).
func (q *Queries) RevokeSession(ctx context.Context, id, reason string) error {
	_, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE id = $1 AND revoked_at IS NULL`, id, reason)
	return err
}

// RevokeUserSessions ends every session of a user except keep (may be empty); it returns how many ended.
func (q *Queries) RevokeUserSessions(ctx context.Context, userID, keep, reason string) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND ($2 = '' OR id::text <> $2)`, userID, keep, reason)
	return int(tag.RowsAffected()), err
}

// RevokeTenantSessions ends every session of a tenant's users.
func (q *Queries) RevokeTenantSessions(ctx context.Context, tenantID, reason string) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $2
		WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE tenant_id = $1)`, tenantID, reason)
	return int(tag.RowsAffected()), err
}

// LoadPrincipal returns the live session's caller, or ErrNotFound when the session has ended.
func (q *Queries) LoadPrincipal(ctx context.Context, sessionID string) (*SessionPrincipal, error) {
	var p SessionPrincipal
	err := q.db.QueryRow(ctx, `SELECT s.id, u.id, u.username, u.name, u.role, coalesce(u.tenant_id::text, ''), u.status, coalesce(t.status, '')
		FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tenants t ON t.id = u.tenant_id
		WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`, sessionID).
		Scan(&p.SessionID, &p.UserID, &p.Username, &p.Name, &p.Role, &p.TenantID, &p.UserStatus, &p.TenantStatus)
	if err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}
