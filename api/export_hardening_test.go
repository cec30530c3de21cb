package api

import (
	"net/http"
	"net/netip"
)

// PasswordChecksPeak is the most password checks s ever ran at once.
func PasswordChecksPeak(s *Server) int64 { return s.logins.peak.Load() }

// HoldPasswordSlots takes n password slots of s, as n long checks would;
// release gives them back.
func HoldPasswordSlots(s *Server, n int) (release func()) {
	for range n {
		s.logins.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.logins.slots
		}
	}
}

// ClientIP is clientIP.
func ClientIP(r *http.Request, trusted []netip.Prefix) (string, bool) { return clientIP(r, trusted) }

// ResetHashes counts the passwords resetConfirm hashed, in this process.
func ResetHashes() int64 { return resetHashes.Load() }
