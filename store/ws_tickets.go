package store

import (
	"context"
	"time"
)

// CreateWSTicket stores a WebSocket ticket (its hash) for a session, and
// drops the tickets that expired unused.
func (q *Queries) CreateWSTicket(ctx context.Context, sessionID string, hash []byte, expires time.Time) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM ws_tickets WHERE expires_at < now() - interval '1 minute'`); err != nil {
		return err
	}
	_, err := q.db.Exec(ctx, `INSERT INTO ws_tickets (ticket_hash, session_id, expires_at) VALUES ($1, $2, $3)`, hash, sessionID, expires)
	return err
}

// RedeemWSTicket spends a ticket: it returns its session once, and
// ErrNotFound for an unknown, spent or expired (at now) ticket.
func (q *Queries) RedeemWSTicket(ctx context.Context, hash []byte, now time.Time) (string, error) {
	var (
		sessionID string
		live      bool
	)
	err := q.db.QueryRow(ctx, `DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING session_id::text, expires_at > $2`, hash, now).
		Scan(&sessionID, &live)
	if err != nil {
		return "", notFound(err)
	}
	if !live {
		return "", ErrNotFound
	}
	return sessionID, nil
}
