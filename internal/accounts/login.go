package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/store"
)

// Login throttling: per account and per client IP.
const (
	accountMaxFailures = 5
	ipMaxFailures      = 30
	throttleWindow     = 15 * time.Minute
	throttleLock       = 15 * time.Minute
)

// Account is a user with the name of its customer (empty for admins).
type Account struct {
	User    *store.User
	Company string
}

// Tokens are what a login or a refresh gives: an access token, the next
// refresh token and the account they belong to.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
	Account      Account
}

type LoginInput struct {
	Login    string // username, e-mail or employee ID
	Password string
}

// Login checks the credentials (local or directory), that the account and
// its customer may sign in, and opens a session. Every attempt is counted
// against the account and the caller's address first.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Tokens, error) {
	login := strings.TrimSpace(in.Login)
	user, err := s.checkLogin(ctx, login, in.Password)
	if err != nil {
		return nil, err
	}
	account, err := s.usableAccount(ctx, s.Store.Queries, user)
	if err != nil {
		if _, ok := apperr.As(err); ok {
			_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "auth.login", TargetType: "user", TargetID: user.ID, Success: false,
				Detail: map[string]any{"reason": err.Error()}, Actor: user})
		}
		return nil, err
	}
	return s.startSession(ctx, account)
}

// checkLogin counts the attempt against the client's address and the
// account before the password is checked (so parallel guesses cannot pass
// the limits), then checks it. A right password forgets the account's
// count and takes back the address's attempt.
func (s *Service) checkLogin(ctx context.Context, login, password string) (*store.User, error) {
	ipKey := "ip:" + caller.RequestOf(ctx).IP
	allowed, until, err := s.Store.ThrottleAttempt(ctx, ipKey, ipMaxFailures, throttleWindow, throttleLock)
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, errTooManyAttempts(until, s.now())
	}
	known, err := s.Store.FindUserByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// Keyed by the account, not by what was typed: username, e-mail and
	// employee ID share one count.
	accountKey := "login:" + strings.ToLower(login)
	if known != nil {
		accountKey = "user:" + known.ID
	}
	allowed, until, err = s.Store.ThrottleAttempt(ctx, accountKey, accountMaxFailures, throttleWindow, throttleLock)
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, errTooManyAttempts(until, s.now())
	}

	user, err := s.verifyCredentials(ctx, known, login, password)
	de, ok := apperr.As(err)
	if ok && de.Kind == apperr.Unauthorized {
		actor := user
		if actor == nil {
			actor = known
		}
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "auth.login", TargetType: "user", TargetID: login, Success: false,
			Detail: map[string]any{"reason": "bad credentials", "login": login}, Actor: actor})
		if !until.IsZero() {
			return nil, errTooManyAttempts(until, s.now()) // that was the last try
		}
		return nil, err
	}
	if (ok && de.Kind == apperr.Unavailable) || errors.Is(err, ErrBusy) {
		// The directory is down, or no password slot was free: not a guess.
		_ = s.Store.ThrottleForgive(ctx, accountKey, accountMaxFailures)
		_ = s.Store.ThrottleForgive(ctx, ipKey, ipMaxFailures)
		return nil, err
	}
	if err != nil && (!ok || (de.Kind != apperr.Forbidden && de.Kind != apperr.Conflict)) {
		return nil, err // internal: the attempt stays counted
	}
	// The password was right (the directory may still refuse the account).
	if rerr := s.Store.ThrottleReset(ctx, accountKey); rerr != nil {
		slog.WarnContext(ctx, "unable to reset the login throttle", "err", rerr)
	}
	if ferr := s.Store.ThrottleForgive(ctx, ipKey, ipMaxFailures); ferr != nil {
		slog.WarnContext(ctx, "unable to reset the login throttle", "err", ferr)
	}
	return user, err
}

// verifyCredentials checks the password of known (the local record the
// login names, or nil) locally or against the directory. It returns the
// user when known (also on a wrong password, for the audit log). A
// directory user gets the role and customer the directory says now.
func (s *Service) verifyCredentials(ctx context.Context, user *store.User, login, password string) (*store.User, error) {
	if user != nil && user.AuthSource == "local" {
		right, err := s.slots.check(ctx, password, user.PasswordHash)
		if err != nil {
			return user, err
		}
		if !right {
			return user, ErrBadCredentials
		}
		return user, nil
	}
	if !s.LDAP.Enabled() {
		// As long as a real check, so the time does not tell whether the account exists.
		if err := s.slots.do(ctx, func() { auth.BurnPasswordCheck(password) }); err != nil {
			return user, err
		}
		return user, ErrBadCredentials
	}
	dirLogin := login
	if user != nil {
		dirLogin = user.Username
	}
	id, err := s.LDAP.Authenticate(ctx, dirLogin, password)
	switch {
	case errors.Is(err, ldapauth.ErrUnavailable):
		slog.WarnContext(ctx, "ldap unavailable at login", "err", err)
		return user, errDirectoryUnavailable()
	case errors.Is(err, ldapauth.ErrInvalidCredentials), errors.Is(err, ldapauth.ErrUserNotFound):
		return user, ErrBadCredentials
	case err != nil:
		return user, err
	}
	if user != nil {
		return s.syncLDAPUser(ctx, user, id)
	}
	return s.provisionLDAPUser(ctx, id)
}

// ldapAccess is the role and customer the directory gives a user now:
// admins by group, everyone else in the customer named by the tenant
// attribute (a customer's code). A user the directory gives no access
// gets a Forbidden error that says why.
func (s *Service) ldapAccess(ctx context.Context, id *ldapauth.Identity) (role string, tenantID *string, err error) {
	if id.Role == ldapauth.RoleAdmin {
		return id.Role, nil, nil
	}
	if id.TenantCode == "" {
		return "", nil, apperr.New(apperr.Forbidden, "accounts.noDirectoryAccess",
			"this directory account has no RemoteGPU access; ask your administrator")
	}
	t, err := s.Store.GetTenantByCode(ctx, id.TenantCode)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, apperr.New(apperr.Forbidden, "accounts.directoryCustomerMissing",
			`customer "{code}" is not set up; ask your administrator`, apperr.P{"code": id.TenantCode})
	}
	if err != nil {
		return "", nil, err
	}
	return id.Role, &t.ID, nil
}

// syncLDAPUser writes what the directory says at this login. When the role
// or the customer changed (a group or the tenant attribute was edited), or
// the user lost access, the user's other sessions end: they carry the old
// rights.
func (s *Service) syncLDAPUser(ctx context.Context, u *store.User, id *ldapauth.Identity) (*store.User, error) {
	role, tenantID, accessErr := s.ldapAccess(ctx, id)
	if accessErr != nil {
		if _, ok := apperr.As(accessErr); !ok {
			return nil, accessErr
		}
		err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
			n, err := store.New(tx).RevokeUserSessions(ctx, u.ID, "", "directory access removed")
			if err != nil {
				return err
			}
			return audit.Record(ctx, tx, audit.Entry{Action: "user.ldap_sync", TargetType: "user", TargetID: u.ID, Success: false,
				Detail: map[string]any{"reason": accessErr.Error(), "revokedSessions": n, "dn": id.DN}, Actor: u})
		})
		if err != nil {
			return nil, err
		}
		return nil, accessErr
	}
	changed := role != u.Role || deref(tenantID) != deref(u.TenantID)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		err := store.New(tx).SyncLDAPUser(ctx, u.ID, store.LDAPSync{Name: id.Name, Email: id.Email, Phone: id.Phone,
			EmployeeID: id.EmployeeID, Role: role, TenantID: tenantID})
		if err != nil || !changed {
			return err
		}
		n, err := store.New(tx).RevokeUserSessions(ctx, u.ID, "", "directory role changed")
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "user.ldap_sync", TargetType: "user", TargetID: u.ID, Success: true,
			TenantID: deref(tenantID), Actor: u, Detail: map[string]any{"dn": id.DN, "revokedSessions": n,
				"before": map[string]any{"role": u.Role, "tenantId": deref(u.TenantID)},
				"after":  map[string]any{"role": role, "tenantId": deref(tenantID)}}})
	})
	if err != nil {
		if store.IsUniqueViolation(err, "") {
			return nil, errDirectoryConflict()
		}
		return nil, fmt.Errorf("unable to sync ldap user: %w", err)
	}
	return s.Store.GetUser(ctx, u.ID)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// provisionLDAPUser creates the local record of a directory user on first login.
func (s *Service) provisionLDAPUser(ctx context.Context, id *ldapauth.Identity) (*store.User, error) {
	role, tenantID, err := s.ldapAccess(ctx, id)
	if err != nil {
		return nil, err
	}
	u := &store.User{Username: id.Username, Email: id.Email, Name: id.Name, Phone: id.Phone, EmployeeID: id.EmployeeID,
		Role: role, TenantID: tenantID, AuthSource: "ldap"}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateUser(ctx, u); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "user.provision", TargetType: "user", TargetID: u.ID, Success: true,
			Detail: map[string]any{"source": "ldap", "role": u.Role, "dn": id.DN}, Actor: u})
	})
	if err != nil {
		if store.IsUniqueViolation(err, "") {
			return nil, errDirectoryConflict()
		}
		return nil, fmt.Errorf("unable to provision ldap user: %w", err)
	}
	return u, nil
}

// usableAccount is u's account with its customer's name, read with q. It
// refuses a disabled account, and one whose customer is disabled or not
// yet approved.
func (s *Service) usableAccount(ctx context.Context, q *store.Queries, u *store.User) (*Account, error) {
	if u.Status != "active" {
		return nil, apperr.New(apperr.Forbidden, "accounts.accountDisabled", "account disabled; contact your administrator")
	}
	a := &Account{User: u}
	if u.TenantID == nil {
		return a, nil
	}
	t, err := q.GetTenant(ctx, *u.TenantID)
	if err != nil {
		return nil, err
	}
	switch t.Status {
	case "disabled":
		return nil, apperr.New(apperr.Forbidden, "accounts.customerDisabled", "your company's account is disabled; contact the platform")
	case "pending":
		return nil, apperr.New(apperr.Forbidden, "accounts.customerPending", "your company's account is pending review")
	}
	a.Company = t.Company
	return a, nil
}

// startSession opens a session with its first refresh token and an access
// token; the login's audit record is written with it.
func (s *Service) startSession(ctx context.Context, a *Account) (*Tokens, error) {
	u := a.User
	ri := caller.RequestOf(ctx)
	expires := s.now().Add(s.Config.RefreshTokenTTL)
	token, hash := auth.NewRefreshToken()
	var sessionID string
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if sessionID, err = store.New(tx).CreateSession(ctx, u.ID, ri.IP, truncate(ri.UserAgent, 400), expires); err != nil {
			return err
		}
		if err := store.New(tx).InsertRefreshToken(ctx, sessionID, hash, expires); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "auth.login", TargetType: "user", TargetID: u.ID, Success: true,
			Detail: map[string]any{"authSource": u.AuthSource}, Actor: u})
	})
	if err != nil {
		return nil, fmt.Errorf("unable to start session: %w", err)
	}
	_ = s.Store.TouchLogin(ctx, u.ID)
	return s.tokens(a, sessionID, token)
}

func (s *Service) tokens(a *Account, sessionID, refresh string) (*Tokens, error) {
	u := a.User
	access, err := s.issuer.Issue(u.ID, sessionID, u.Role, deref(u.TenantID), s.now())
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.issuer.TTL().Seconds()), Account: *a}, nil
}

func (s *Service) account(ctx context.Context, u *store.User) (*Account, error) {
	a := &Account{User: u}
	if u.TenantID != nil {
		t, err := s.Store.GetTenant(ctx, *u.TenantID)
		if err != nil {
			return nil, err
		}
		a.Company = t.Company
	}
	return a, nil
}

// Me is the caller's own account.
func (s *Service) Me(ctx context.Context) (*Account, error) {
	u, err := s.Store.GetUser(ctx, caller.From(ctx).UserID)
	if err != nil {
		return nil, err
	}
	return s.account(ctx, u)
}

// Refresh spends a refresh token for the next one and a new access token.
// A spent token that comes back ends its whole session: someone holds a
// copy. A token of an account that may no longer sign in is refused and
// stays unspent.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	hash := auth.HashToken(refreshToken)
	var (
		account   *Account
		sessionID string
		next      string
		reused    bool
		refused   error
	)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		t, err := q.ClaimRefreshToken(ctx, hash)
		if err != nil {
			return err
		}
		sessionID = t.SessionID
		if t.UsedAt != nil {
			reused = true
			if err := q.RevokeSession(ctx, t.SessionID, "refresh token reuse"); err != nil {
				return err
			}
			return audit.Record(ctx, tx, audit.Entry{Action: "auth.refresh_reuse", TargetType: "session", TargetID: t.SessionID,
				Success: false, Detail: map[string]any{"result": "session revoked"}})
		}
		if t.SessionRevokedAt != nil || s.now().After(t.ExpiresAt) {
			return store.ErrNotFound
		}
		u, err := q.GetUser(ctx, t.UserID)
		if err != nil {
			return err
		}
		if account, err = s.usableAccount(ctx, q, u); err != nil {
			if _, ok := apperr.As(err); ok {
				refused = err // nothing changed: the token stays unspent
				return nil
			}
			return err
		}
		if err := q.MarkRefreshTokenUsed(ctx, hash); err != nil {
			return err
		}
		var nextHash []byte
		next, nextHash = auth.NewRefreshToken()
		if err := q.InsertRefreshToken(ctx, t.SessionID, nextHash, t.ExpiresAt); err != nil {
			return err
		}
		return q.TouchSession(ctx, t.SessionID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.New(apperr.Unauthorized, "accounts.sessionExpired", "session expired, please log in again")
	}
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, apperr.New(apperr.Unauthorized, "accounts.refreshReused", "refresh token reused; the session was ended, please log in again")
	}
	if de, ok := apperr.As(refused); ok {
		return nil, apperr.New(apperr.Unauthorized, de.Code, de.Message, de.Params)
	}
	return s.tokens(account, sessionID, next)
}

// Logout ends the session of a refresh token; an unknown token is no error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		t, err := store.New(tx).ClaimRefreshToken(ctx, auth.HashToken(refreshToken))
		if err != nil {
			return err
		}
		if err := store.New(tx).RevokeSession(ctx, t.SessionID, "logout"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "auth.logout", TargetType: "session", TargetID: t.SessionID, Success: true})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
