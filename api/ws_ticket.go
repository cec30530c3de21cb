package api

import (
	"context"
	"net/http"

	"github.com/remotegpu/remotegpu/internal/caller"
)

// WSTicket opens one WebSocket: /ws/...?ticket=<ticket>, once, within expiresIn.
type WSTicket struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expiresIn" doc:"Seconds the ticket can be redeemed"`
}

// wsTicket issues a one-time ticket for the caller's session (see accounts.CreateWSTicket).
func (h *authHandler) wsTicket(ctx context.Context, _ *struct{}) (*Resp[WSTicket], error) {
	t, err := h.s.accounts.CreateWSTicket(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, WSTicket{Ticket: t.Ticket, ExpiresIn: int(t.ExpiresIn.Seconds())})
}

// wsPrincipal authenticates a WebSocket handshake: a ticket in ?ticket=
// (browsers), or an access token in the Authorization header (other clients).
func (s *Server) wsPrincipal(r *http.Request) (*caller.Principal, error) {
	return s.accounts.AuthenticateSocket(r.Context(), r.URL.Query().Get("ticket"), r.Header.Get("Authorization"))
}
