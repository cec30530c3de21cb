package api

import (
	"net/http"
	"net/netip"

	"github.com/remotegpu/remotegpu/internal/accounts"
)

// PasswordChecksPeak is the most password checks s ever ran at once.
func PasswordChecksPeak(s *Server) int64 { return s.accounts.PasswordChecksPeak() }

// HoldPasswordSlots takes n password slots of s, as n long checks would;
// release gives them back.
func HoldPasswordSlots(s *Server, n int) (release func()) { return s.accounts.HoldPasswordSlots(n) }

// ClientIP is clientIP.
func ClientIP(r *http.Request, trusted []netip.Prefix) (string, bool) { return clientIP(r, trusted) }

// ResetHashes counts the passwords resetConfirm hashed, in this process.
func ResetHashes() int64 { return accounts.ResetHashes() }
