package api

import (
	"net/http"
	"net/netip"
)

// OnPasswordWork makes every argon2 computation of s run through wrap.
func OnPasswordWork(s *Server, wrap func(compute func())) { s.accounts.OnPasswordWork(wrap) }

// HoldPasswordSlots takes n password slots of s, as n long checks would;
// release gives them back.
func HoldPasswordSlots(s *Server, n int) (release func()) { return s.accounts.HoldPasswordSlots(n) }

// ClientIP is clientIP.
func ClientIP(r *http.Request, trusted []netip.Prefix) (string, bool) { return clientIP(r, trusted) }
