package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

func unauthorized(code, message string) error { return apperr.New(apperr.Unauthorized, code, message) }

// Authenticate checks an Authorization header's bearer access token and
// that its session is still live (logout, a password change and disabling
// end it at once).
func (s *Service) Authenticate(ctx context.Context, header string) (*caller.Principal, error) {
	token, found := strings.CutPrefix(header, "Bearer ")
	if !found || token == "" {
		return nil, unauthorized("accounts.loginRequired", "login required")
	}
	claims, err := s.issuer.Parse(token)
	if err != nil {
		return nil, unauthorized("accounts.tokenExpired", "token invalid or expired")
	}
	return s.sessionPrincipal(ctx, claims.SessionID, claims.Subject)
}

// sessionPrincipal is the caller of a live session: the session not ended,
// the account active and its customer not disabled. subject, when set, is
// the user the token was issued to.
func (s *Service) sessionPrincipal(ctx context.Context, sessionID, subject string) (*caller.Principal, error) {
	sp, err := s.Store.LoadPrincipal(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && subject != "" && sp.UserID != subject) {
		return nil, unauthorized("accounts.sessionEnded", "session ended, please log in again")
	}
	if err != nil {
		return nil, err
	}
	if !SessionLive(sp) {
		return nil, unauthorized("accounts.sessionDisabled", "account disabled")
	}
	return &caller.Principal{UserID: sp.UserID, SessionID: sp.SessionID, Username: sp.Username, Name: sp.Name,
		Role: sp.Role, TenantID: sp.TenantID}, nil
}

// SessionLive is the rule for a session that was not ended (sp was
// loaded): it stays usable while its account is active and its customer
// not disabled. The operations and the open WebSockets both follow it.
func SessionLive(sp *store.SessionPrincipal) bool {
	return sp.UserStatus == "active" && sp.TenantStatus != "disabled"
}

// wsTicketTTL is how long a WebSocket ticket can be redeemed: long enough
// for a handshake, short enough that one found in a log is worthless.
const wsTicketTTL = 30 * time.Second

// WSTicket opens one WebSocket handshake, once, within ExpiresIn.
type WSTicket struct {
	Ticket    string
	ExpiresIn time.Duration
}

// CreateWSTicket issues a one-time ticket for the caller's session. Browsers
// cannot set headers on a WebSocket, and an access token in the URL would
// end up in proxy and server logs; the ticket is spent by its handshake.
// It is stored (hashed) in Postgres, so any replica redeems it.
func (s *Service) CreateWSTicket(ctx context.Context) (*WSTicket, error) {
	ticket, hash := auth.NewRefreshToken()
	if err := s.Store.CreateWSTicket(ctx, caller.From(ctx).SessionID, hash, s.now().Add(wsTicketTTL)); err != nil {
		return nil, err
	}
	return &WSTicket{Ticket: ticket, ExpiresIn: wsTicketTTL}, nil
}

// AuthenticateSocket authenticates a WebSocket handshake: a ticket
// (browsers), or else the Authorization header (other clients). Either way
// the session must still be live, as for the operations.
func (s *Service) AuthenticateSocket(ctx context.Context, ticket, header string) (*caller.Principal, error) {
	if ticket == "" {
		return s.Authenticate(ctx, header)
	}
	sessionID, err := s.Store.RedeemWSTicket(ctx, auth.HashToken(ticket), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("accounts.wsTicketInvalid", "the connection ticket is invalid, spent or expired")
	}
	if err != nil {
		return nil, err
	}
	return s.sessionPrincipal(ctx, sessionID, "")
}

// The Temporal UI's codec cookie: a token of its own (never an access
// token), signed with a key derived from JWT_SECRET, tied to the admin's
// login session.
const (
	codecTTL    = time.Hour
	codecIssuer = "remotegpu-temporal-codec"
)

type codecClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

func (s *Service) codecKey() []byte {
	mac := hmac.New(sha256.New, s.Config.JWTSecret)
	mac.Write([]byte("remotegpu temporal codec cookie"))
	return mac.Sum(nil)
}

// CodecSession is the token of the codec cookie and when it stops working.
type CodecSession struct {
	Token     string
	ExpiresAt time.Time
	TTL       time.Duration
}

// CreateCodecSession lets the calling admin's browser decode workflow
// payloads for an hour (audited).
func (s *Service) CreateCodecSession(ctx context.Context) (*CodecSession, error) {
	p := caller.From(ctx)
	now := s.now()
	exp := now.Add(codecTTL)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, codecClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: codecIssuer, Subject: p.UserID,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)},
		SessionID: p.SessionID,
	}).SignedString(s.codecKey())
	if err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "temporal_codec.session", TargetType: "user", TargetID: p.UserID,
		Success: true, Detail: map[string]any{"expiresAt": exp}}); err != nil {
		return nil, err
	}
	return &CodecSession{Token: token, ExpiresAt: exp, TTL: codecTTL}, nil
}

// AuthenticateCodec is the caller of a codec request: the bearer access
// token when there is one, else the codec cookie (empty: none), with the
// same session checks as every API call.
func (s *Service) AuthenticateCodec(ctx context.Context, header, cookie string) (*caller.Principal, error) {
	if header != "" {
		return s.Authenticate(ctx, header)
	}
	if cookie == "" {
		return nil, unauthorized("accounts.codecLoginRequired", "log in to the console as an admin and open the Temporal UI from it")
	}
	var c codecClaims
	_, err := jwt.ParseWithClaims(cookie, &c, func(*jwt.Token) (any, error) { return s.codecKey(), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(codecIssuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.Now))
	if err != nil {
		return nil, unauthorized("accounts.codecExpired", "expired: open the Temporal UI from the console again")
	}
	return s.sessionPrincipal(ctx, c.SessionID, c.Subject)
}
