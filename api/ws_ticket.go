package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/store"
)

// wsTicketTTL is how long a WebSocket ticket can be redeemed: long enough
// for a handshake, short enough that one found in a log is worthless.
const wsTicketTTL = 30 * time.Second

// WSTicket opens one WebSocket: /ws/...?ticket=<ticket>, once, within expiresIn.
type WSTicket struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expiresIn" doc:"Seconds the ticket can be redeemed"`
}

// wsTicket issues a one-time ticket for the caller's session. Browsers
// cannot set headers on a WebSocket, and an access token in the URL would
// end up in proxy and server logs; the ticket is spent by its handshake.
// It is stored (hashed) in Postgres, so any replica redeems it.
func (h *authHandler) wsTicket(ctx context.Context, _ *struct{}) (*Resp[WSTicket], error) {
	p := principal(ctx)
	ticket, hash := auth.NewRefreshToken()
	if err := h.s.Store.CreateWSTicket(ctx, p.SessionID, hash, h.s.now().Add(wsTicketTTL)); err != nil {
		return nil, err
	}
	return ok(ctx, WSTicket{Ticket: ticket, ExpiresIn: int(wsTicketTTL.Seconds())})
}

// wsPrincipal authenticates a WebSocket handshake: a ticket in ?ticket=
// (browsers), or an access token in the Authorization header (other
// clients). Either way the session must still be live, as for the operations.
func (s *Server) wsPrincipal(r *http.Request) (*Principal, error) {
	ticket := r.URL.Query().Get("ticket")
	if ticket == "" {
		return s.authenticate(r.Context(), r.Header.Get("Authorization"))
	}
	sessionID, err := s.Store.RedeemWSTicket(r.Context(), auth.HashToken(ticket), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("连接凭证无效或已过期 / the connection ticket is invalid, spent or expired")
	}
	if err != nil {
		return nil, err
	}
	sp, err := s.Store.LoadPrincipal(r.Context(), sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("会话已结束 / session ended, please log in again")
	}
	if err != nil {
		return nil, err
	}
	if sp.UserStatus != "active" || sp.TenantStatus == "disabled" {
		return nil, unauthorized("账号已禁用 / account disabled")
	}
	return &Principal{UserID: sp.UserID, SessionID: sp.SessionID, Username: sp.Username, Name: sp.Name,
		Role: sp.Role, TenantID: sp.TenantID}, nil
}
