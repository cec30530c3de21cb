-- One-time tickets for WebSocket handshakes, so no token travels in a URL:
-- POST /api/auth/ws-ticket issues one (30 s), the handshake redeems it once
-- on any api replica. Bound to the session, so logout or disabling applies.
CREATE TABLE ws_tickets (
    ticket_hash bytea PRIMARY KEY,             -- SHA-256 of the ticket
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX ws_tickets_expires_idx ON ws_tickets (expires_at);
