package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/store"
)

// Login throttling: per account and per client IP.
const (
	accountMaxFailures = 5
	ipMaxFailures      = 30
	throttleWindow     = 15 * time.Minute
	throttleLock       = 15 * time.Minute

	resetResendAfter = 60 * time.Second
	resetCodeTTL     = 10 * time.Minute
	resetMaxAttempts = 5
	// resetMaxPerDay caps the codes mailed to one account in 24 hours
	// (README: password reset).
	resetMaxPerDay = 5
)

const maintenanceMessage = "统一认证服务（LDAP/AD）暂不可用，系统维护中，请稍后再试或联系管理员 / The directory service is unavailable; login is under maintenance. Try again later or contact your administrator."

type authHandler struct{ s *Server }

// Me is the caller's own account.
type Me struct {
	ID         string  `json:"id" format:"uuid"`
	Username   string  `json:"username"`
	Name       string  `json:"name"`
	Email      string  `json:"email"`
	Phone      string  `json:"phone"`
	EmployeeID string  `json:"employeeId"`
	Role       string  `json:"role" enum:"admin,owner,member"`
	TenantID   *string `json:"tenantId,omitempty" format:"uuid"`
	TenantName string  `json:"tenantName,omitempty"`
	Company    string  `json:"company,omitempty"`
	AuthSource string  `json:"authSource" enum:"local,ldap"`
	HasAvatar  bool    `json:"hasAvatar"`
}

type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn" doc:"Access token lifetime in seconds"`
	User         Me     `json:"user"`
}

type LoginInput struct {
	Body struct {
		Username string `json:"username" minLength:"1" maxLength:"128" doc:"Username, enterprise email or employee ID"`
		Password string `json:"password" minLength:"1" maxLength:"256"`
	}
}

type RefreshInput struct {
	Body struct {
		RefreshToken string `json:"refreshToken" minLength:"1" maxLength:"256"`
	}
}

type ResetRequestInput struct {
	Body struct {
		Account string `json:"account" minLength:"1" maxLength:"128" doc:"Enterprise email or employee ID (or username)"`
	}
}

// ResetRequestOutput is the same for every account, known or not.
type ResetRequestOutput struct {
	ResendAfter int `json:"resendAfter" doc:"Seconds before another code can be requested"`
	ExpiresIn   int `json:"expiresIn" doc:"Seconds the code stays valid"`
	// DirectoryResetURL is where directory (LDAP/AD) accounts reset their
	// password; present whenever LDAP is configured, for every account.
	DirectoryResetURL string `json:"directoryResetUrl,omitempty" doc:"The directory's own reset page (LDAP/AD accounts reset there); set whenever LDAP is configured"`
}

type ResetConfirmInput struct {
	Body struct {
		Account     string `json:"account" minLength:"1" maxLength:"128"`
		Code        string `json:"code" pattern:"^[0-9]{6}$" doc:"The 6-digit code from the mail"`
		NewPassword string `json:"newPassword" minLength:"1" maxLength:"128"`
	}
}

func (h *authHandler) register(api huma.API) {
	op := operation(http.MethodPost, "/api/auth/login", "login", "auth", "Log in with a local or LDAP/AD account", nil,
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	huma.Register(api, op, h.login)
	huma.Register(api, operation(http.MethodPost, "/api/auth/refresh", "refresh-token", "auth",
		"Rotate the refresh token and get a new access token", nil, http.StatusUnauthorized, http.StatusUnprocessableEntity), h.refresh)
	huma.Register(api, operation(http.MethodPost, "/api/auth/logout", "logout", "auth", "End the session of a refresh token", nil,
		http.StatusUnprocessableEntity), h.logout)
	huma.Register(api, operation(http.MethodGet, "/api/auth/me", "get-me", "auth", "The caller's account", roleAny), h.me)
	huma.Register(api, operation(http.MethodPost, "/api/auth/password-reset/request", "request-password-reset", "auth",
		"Mail a 6-digit reset code (answers the same for every account; the mail goes out in the background)", nil,
		http.StatusUnprocessableEntity), h.resetRequest)
	huma.Register(api, operation(http.MethodPost, "/api/auth/password-reset/confirm", "confirm-password-reset", "auth",
		"Set a new password with the mailed code; ends every session", nil, http.StatusBadRequest, http.StatusUnprocessableEntity), h.resetConfirm)
	huma.Register(api, operation(http.MethodPost, "/api/auth/ws-ticket", "create-ws-ticket", "auth",
		"A one-time ticket for a WebSocket handshake (/ws/**?ticket=), valid 30 s", roleAny), h.wsTicket)
}

func (h *authHandler) login(ctx context.Context, in *LoginInput) (*Resp[TokenPair], error) {
	s := h.s
	login := strings.TrimSpace(in.Body.Username)
	user, err := s.checkLogin(ctx, login, in.Body.Password)
	if err != nil {
		return nil, err
	}
	if err := s.checkAccountUsable(ctx, user); err != nil {
		s.audit(ctx, nil, auditEntry{Action: "auth.login", TargetType: "user", TargetID: user.ID, Success: false,
			Detail: map[string]any{"reason": err.Error()}, Actor: user})
		return nil, err
	}
	pair, err := s.startSession(ctx, user)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, nil, auditEntry{Action: "auth.login", TargetType: "user", TargetID: user.ID, Success: true,
		Detail: map[string]any{"authSource": user.AuthSource}, Actor: user})
	return ok(ctx, *pair)
}

// checkLogin counts the attempt against the client's address and the
// account before the password is checked (so parallel guesses cannot pass
// the limits), then checks it. A right password forgets the account's
// count and takes back the address's attempt.
func (s *Server) checkLogin(ctx context.Context, login, password string) (*store.User, error) {
	ipKey := "ip:" + reqInfo(ctx).IP
	allowed, until, err := s.Store.ThrottleAttempt(ctx, ipKey, ipMaxFailures, throttleWindow, throttleLock)
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, tooManyAttempts(until, s.now())
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
		return nil, tooManyAttempts(until, s.now())
	}

	user, err := s.verifyCredentials(ctx, known, login, password)
	de, ok := apperr.As(err)
	if ok && de.Kind == apperr.Unauthorized {
		actor := user
		if actor == nil {
			actor = known
		}
		s.audit(ctx, nil, auditEntry{Action: "auth.login", TargetType: "user", TargetID: login, Success: false,
			Detail: map[string]any{"reason": "bad credentials", "login": login}, Actor: actor})
		if !until.IsZero() {
			return nil, tooManyAttempts(until, s.now()) // that was the last try
		}
		return nil, err
	}
	if (ok && de.Kind == apperr.Unavailable) || errors.Is(err, errBusy) {
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

var errBadCredentials = apperr.Newf(apperr.Unauthorized, "用户名或密码错误 / wrong username or password")

// verifyCredentials checks the password of known (the local record the
// login names, or nil) locally or against the directory. It returns the
// user when known (also on a wrong password, for the audit log). A
// directory user gets the role and customer the directory says now.
func (s *Server) verifyCredentials(ctx context.Context, user *store.User, login, password string) (*store.User, error) {
	if user != nil && user.AuthSource == "local" {
		right, err := s.logins.check(ctx, password, user.PasswordHash)
		if err != nil {
			return user, err
		}
		if !right {
			return user, errBadCredentials
		}
		return user, nil
	}
	if !s.LDAP.Enabled() {
		// As long as a real check, so the time does not tell whether the account exists.
		if err := s.logins.do(ctx, func() { auth.BurnPasswordCheck(password) }); err != nil {
			return user, err
		}
		return user, errBadCredentials
	}
	dirLogin := login
	if user != nil {
		dirLogin = user.Username
	}
	id, err := s.LDAP.Authenticate(ctx, dirLogin, password)
	switch {
	case errors.Is(err, ldapauth.ErrUnavailable):
		slog.WarnContext(ctx, "ldap unavailable at login", "err", err)
		return user, apperr.Newf(apperr.Unavailable, "%s", maintenanceMessage).WithData(map[string]any{"maintenance": true})
	case errors.Is(err, ldapauth.ErrInvalidCredentials), errors.Is(err, ldapauth.ErrUserNotFound):
		return user, errBadCredentials
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
func (s *Server) ldapAccess(ctx context.Context, id *ldapauth.Identity) (role string, tenantID *string, err error) {
	if id.Role == ldapauth.RoleAdmin {
		return id.Role, nil, nil
	}
	if id.TenantCode == "" {
		return "", nil, apperr.Forbiddenf("该目录账号未开通 RemoteGPU，请联系管理员 / this directory account has no RemoteGPU access; ask your administrator")
	}
	t, err := s.Store.GetTenantByCode(ctx, id.TenantCode)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, apperr.Forbiddenf("目录中的客户 %q 不存在，请联系管理员 / customer %q is not set up; ask your administrator", id.TenantCode, id.TenantCode)
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
func (s *Server) syncLDAPUser(ctx context.Context, u *store.User, id *ldapauth.Identity) (*store.User, error) {
	role, tenantID, accessErr := s.ldapAccess(ctx, id)
	if accessErr != nil {
		if _, ok := apperr.As(accessErr); !ok {
			return nil, accessErr
		}
		err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
			n, err := store.RevokeUserSessions(ctx, tx, u.ID, "", "directory access removed")
			if err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{Action: "user.ldap_sync", TargetType: "user", TargetID: u.ID, Success: false,
				Detail: map[string]any{"reason": accessErr.Error(), "revokedSessions": n, "dn": id.DN}, Actor: u})
		})
		if err != nil {
			return nil, err
		}
		return nil, accessErr
	}
	changed := role != u.Role || derefOr(tenantID) != derefOr(u.TenantID)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		err := store.SyncLDAPUser(ctx, tx, u.ID, store.LDAPSync{Name: id.Name, Email: id.Email, Phone: id.Phone,
			EmployeeID: id.EmployeeID, Role: role, TenantID: tenantID})
		if err != nil || !changed {
			return err
		}
		n, err := store.RevokeUserSessions(ctx, tx, u.ID, "", "directory role changed")
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{Action: "user.ldap_sync", TargetType: "user", TargetID: u.ID, Success: true,
			TenantID: derefOr(tenantID), Actor: u, Detail: map[string]any{"dn": id.DN, "revokedSessions": n,
				"before": map[string]any{"role": u.Role, "tenantId": derefOr(u.TenantID)},
				"after":  map[string]any{"role": role, "tenantId": derefOr(tenantID)}}})
	})
	if err != nil {
		if store.IsUniqueViolation(err, "") {
			return nil, apperr.Conflictf("目录账号与已有账号冲突（用户名/邮箱/工号），请联系管理员 / the directory account collides with an existing account")
		}
		return nil, fmt.Errorf("unable to sync ldap user: %w", err)
	}
	return s.Store.GetUser(ctx, u.ID)
}

func derefOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// provisionLDAPUser creates the local record of a directory user on first login.
func (s *Server) provisionLDAPUser(ctx context.Context, id *ldapauth.Identity) (*store.User, error) {
	role, tenantID, err := s.ldapAccess(ctx, id)
	if err != nil {
		return nil, err
	}
	u := &store.User{Username: id.Username, Email: id.Email, Name: id.Name, Phone: id.Phone, EmployeeID: id.EmployeeID,
		Role: role, TenantID: tenantID, AuthSource: "ldap"}
	if err := store.CreateUser(ctx, s.Store.Pool, u); err != nil {
		if store.IsUniqueViolation(err, "") {
			return nil, apperr.Conflictf("目录账号与已有账号冲突（用户名/邮箱/工号），请联系管理员 / the directory account collides with an existing account")
		}
		return nil, fmt.Errorf("unable to provision ldap user: %w", err)
	}
	s.audit(ctx, nil, auditEntry{Action: "user.provision", TargetType: "user", TargetID: u.ID, Success: true,
		Detail: map[string]any{"source": "ldap", "role": u.Role, "dn": id.DN}, Actor: u})
	return u, nil
}

func (s *Server) checkAccountUsable(ctx context.Context, u *store.User) error {
	if u.Status != "active" {
		return apperr.Forbiddenf("账号已禁用，请联系管理员 / account disabled; contact your administrator")
	}
	if u.TenantID == nil {
		return nil
	}
	t, err := s.Store.GetTenant(ctx, *u.TenantID)
	if err != nil {
		return err
	}
	switch t.Status {
	case "disabled":
		return apperr.Forbiddenf("客户账号已禁用，请联系管理员 / your company's account is disabled; contact the platform")
	case "pending":
		return apperr.Forbiddenf("客户账号待审核 / your company's account is pending review")
	}
	return nil
}

// startSession opens a session with its first refresh token and an access token.
func (s *Server) startSession(ctx context.Context, u *store.User) (*TokenPair, error) {
	ri := reqInfo(ctx)
	now := s.now()
	expires := now.Add(s.Config.RefreshTokenTTL)
	token, hash := auth.NewRefreshToken()
	var sessionID string
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if sessionID, err = store.CreateSession(ctx, tx, u.ID, ri.IP, truncate(ri.UserAgent, 400), expires); err != nil {
			return err
		}
		return store.InsertRefreshToken(ctx, tx, sessionID, hash, expires)
	})
	if err != nil {
		return nil, fmt.Errorf("unable to start session: %w", err)
	}
	_ = s.Store.TouchLogin(ctx, u.ID)
	return s.tokenPair(ctx, u, sessionID, token)
}

func (s *Server) tokenPair(ctx context.Context, u *store.User, sessionID, refresh string) (*TokenPair, error) {
	tenantID := ""
	if u.TenantID != nil {
		tenantID = *u.TenantID
	}
	access, err := s.issuer.Issue(u.ID, sessionID, u.Role, tenantID, s.now())
	if err != nil {
		return nil, err
	}
	me, err := s.me(ctx, u)
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.issuer.TTL().Seconds()), User: *me}, nil
}

func (s *Server) me(ctx context.Context, u *store.User) (*Me, error) {
	m := &Me{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Phone: u.Phone, EmployeeID: u.EmployeeID,
		Role: u.Role, TenantID: u.TenantID, AuthSource: u.AuthSource, HasAvatar: u.AvatarKey != ""}
	if u.TenantID != nil {
		t, err := s.Store.GetTenant(ctx, *u.TenantID)
		if err != nil {
			return nil, err
		}
		m.TenantName, m.Company = t.Company, t.Company
	}
	return m, nil
}

func (h *authHandler) refresh(ctx context.Context, in *RefreshInput) (*Resp[TokenPair], error) {
	s := h.s
	hash := auth.HashToken(in.Body.RefreshToken)
	var (
		user      *store.User
		sessionID string
		next      string
		reused    bool
	)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		t, err := store.ClaimRefreshToken(ctx, tx, hash)
		if err != nil {
			return err
		}
		sessionID = t.SessionID
		if t.UsedAt != nil {
			// A spent token came back: someone holds a copy. End the whole family.
			reused = true
			return store.RevokeSession(ctx, tx, t.SessionID, "refresh token reuse")
		}
		if t.SessionRevokedAt != nil || s.now().After(t.ExpiresAt) {
			return store.ErrNotFound
		}
		if err := store.MarkRefreshTokenUsed(ctx, tx, hash); err != nil {
			return err
		}
		var nextHash []byte
		next, nextHash = auth.NewRefreshToken()
		if err := store.InsertRefreshToken(ctx, tx, t.SessionID, nextHash, t.ExpiresAt); err != nil {
			return err
		}
		if err := store.TouchSession(ctx, tx, t.SessionID); err != nil {
			return err
		}
		u, err := s.Store.GetUser(ctx, t.UserID)
		user = u
		return err
	})
	if reused {
		s.audit(ctx, nil, auditEntry{Action: "auth.refresh_reuse", TargetType: "session", TargetID: sessionID, Success: false,
			Detail: map[string]any{"result": "session revoked"}})
		return nil, unauthorized("登录凭证已失效，请重新登录 / refresh token reused; the session was ended, please log in again")
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("登录已过期，请重新登录 / session expired, please log in again")
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkAccountUsable(ctx, user); err != nil {
		return nil, unauthorized(err.Error())
	}
	pair, err := s.tokenPair(ctx, user, sessionID, next)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *pair)
}

func (h *authHandler) logout(ctx context.Context, in *RefreshInput) (*Resp[Empty], error) {
	s := h.s
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		t, err := store.ClaimRefreshToken(ctx, tx, auth.HashToken(in.Body.RefreshToken))
		if err != nil {
			return err
		}
		return store.RevokeSession(ctx, tx, t.SessionID, "logout")
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		s.audit(ctx, nil, auditEntry{Action: "auth.logout", TargetType: "session", Success: true})
	}
	return ok(ctx, Empty{})
}

func (h *authHandler) me(ctx context.Context, _ *struct{}) (*Resp[Me], error) {
	u, err := h.s.Store.GetUser(ctx, principal(ctx).UserID)
	if err != nil {
		return nil, err
	}
	m, err := h.s.me(ctx, u)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *m)
}

// resetJobs bounds the reset requests being worked on in the background;
// beyond it a request is dropped (logged), never queued without end.
var resetJobs = make(chan struct{}, 32)

// resetRequest answers at once and the same for every account, known or not,
// local or directory: the lookup, the limits and the mail happen after the
// answer, so neither its status, its body nor its time tells whether the
// account exists. The console shows the directory's reset page to everyone
// when LDAP is configured.
func (h *authHandler) resetRequest(ctx context.Context, in *ResetRequestInput) (*Resp[ResetRequestOutput], error) {
	s := h.s
	account := strings.TrimSpace(in.Body.Account)
	out := ResetRequestOutput{ResendAfter: int(resetResendAfter.Seconds()), ExpiresIn: int(resetCodeTTL.Seconds())}
	if s.LDAP.Enabled() {
		out.DirectoryResetURL = s.Config.LDAP.PasswordResetURL
	}
	select {
	case resetJobs <- struct{}{}:
		bg := context.WithoutCancel(ctx) // keeps the trace ID and the caller's address for the audit
		go func() {
			defer func() { <-resetJobs }()
			s.sendResetCode(bg, account)
		}()
	default:
		slog.WarnContext(ctx, "password reset requests are piling up; one was dropped")
	}
	return ok(ctx, out)
}

// sendResetCode mails a code to a local, active account with an e-mail,
// at most one per resetResendAfter and resetMaxPerDay a day.
func (s *Server) sendResetCode(ctx context.Context, account string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	user, err := s.Store.FindUserByLogin(ctx, account)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			slog.ErrorContext(ctx, "unable to look up a password reset account", "err", err)
		}
		return
	}
	if user.AuthSource != "local" || user.Status != "active" || user.Email == "" {
		return
	}
	code := auth.GenerateCode()
	var refused string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		last, today, err := store.PasswordResetsSince(ctx, tx, user.ID, s.now().Add(-24*time.Hour))
		if err != nil {
			return err
		}
		switch {
		case !last.IsZero() && s.now().Sub(last) < resetResendAfter:
			refused = "resend too soon"
		case today >= resetMaxPerDay:
			refused = "daily limit"
		default:
			return store.CreatePasswordReset(ctx, tx, user.ID, s.codeHash(user.ID, code), s.now().Add(resetCodeTTL))
		}
		return nil
	})
	if err != nil {
		slog.ErrorContext(ctx, "unable to create a password reset", "user", user.ID, "err", err)
		return
	}
	if refused != "" {
		s.audit(ctx, nil, auditEntry{Action: "auth.password_reset_request", TargetType: "user", TargetID: user.ID, Success: false,
			Actor: user, Detail: map[string]any{"reason": refused}})
		return
	}
	subject, text, html, err := mail.Render("password_reset", map[string]any{"Name": user.Name, "Username": user.Username,
		"Code": code, "Minutes": int(resetCodeTTL.Minutes())})
	if err == nil {
		err = s.Mail.Send(ctx, mail.Message{To: []string{user.Email}, Subject: subject, Text: text, HTML: html})
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to send reset mail", "user", user.ID, "err", err)
		s.audit(ctx, nil, auditEntry{Action: "auth.password_reset_request", TargetType: "user", TargetID: user.ID, Success: false,
			Actor: user, Detail: map[string]any{"reason": "mail failed"}})
		return
	}
	s.audit(ctx, nil, auditEntry{Action: "auth.password_reset_request", TargetType: "user", TargetID: user.ID, Success: true, Actor: user})
}

func ldapResetRefusal(url string) error {
	msg := "该账号由企业统一认证（LDAP/AD）管理，请在统一认证平台找回密码 / this account is managed by the corporate directory; reset the password there"
	return apperr.Newf(apperr.Conflict, "%s", msg).WithData(map[string]any{"resetUrl": url})
}

// resetHashes counts the new passwords hashed by resetConfirm (tests: only
// a right code costs an argon2 hash).
var resetHashes atomic.Int64

var errBadCode = apperr.Invalidf("验证码错误或已过期 / the code is wrong or expired")

// resetConfirm checks the code before anything costly: the new password is
// hashed (argon2) only once the code is right.
func (h *authHandler) resetConfirm(ctx context.Context, in *ResetConfirmInput) (*Resp[Empty], error) {
	s := h.s
	account := strings.TrimSpace(in.Body.Account)
	// The same rules for every account first, so a weak password says nothing about the account.
	if err := auth.CheckPolicy(in.Body.NewPassword, account); err != nil {
		return nil, apperr.Newf(apperr.Unprocessable, "%s", err.Error()).AtField("body.newPassword")
	}
	user, err := s.Store.FindUserByLogin(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadCode
	}
	if err != nil {
		return nil, err
	}
	if user.AuthSource != "local" {
		return nil, errBadCode // no code was ever sent to it
	}
	var verdict error
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		r, err := store.LatestPasswordReset(ctx, tx, user.ID, true)
		if errors.Is(err, store.ErrNotFound) {
			verdict = errBadCode
			return nil
		}
		if err != nil {
			return err
		}
		if s.now().After(r.ExpiresAt) || r.Attempts >= resetMaxAttempts {
			verdict = apperr.Invalidf("验证码已失效，请重新获取 / the code has expired or was tried too often; request a new one")
			return store.ConsumePasswordReset(ctx, tx, r.ID)
		}
		if !hmac.Equal([]byte(r.CodeHash), []byte(s.codeHash(user.ID, in.Body.Code))) {
			left := resetMaxAttempts - r.Attempts - 1
			verdict = apperr.Invalidf("验证码错误，还可尝试 %d 次 / wrong code, %d tries left", left, left)
			if left == 0 {
				return store.ConsumePasswordReset(ctx, tx, r.ID)
			}
			return store.IncrementResetAttempts(ctx, tx, r.ID)
		}
		// The code is right: now the rules that need the username, then the hash.
		if err := auth.CheckPolicy(in.Body.NewPassword, user.Username); err != nil {
			verdict = apperr.Newf(apperr.Unprocessable, "%s", err.Error()).AtField("body.newPassword")
			return nil // the code stays usable
		}
		resetHashes.Add(1)
		hash, err := auth.HashPassword(in.Body.NewPassword)
		if err != nil {
			return err
		}
		if err := store.ConsumePasswordReset(ctx, tx, r.ID); err != nil {
			return err
		}
		if err := store.SetPassword(ctx, tx, user.ID, hash); err != nil {
			return err
		}
		if _, err := store.RevokeUserSessions(ctx, tx, user.ID, "", "password reset"); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{Action: "auth.password_reset", TargetType: "user", TargetID: user.ID, Success: true, Actor: user})
	})
	if err != nil {
		return nil, err
	}
	if verdict != nil {
		return nil, verdict
	}
	return ok(ctx, Empty{})
}

// codeHash keys the stored reset code with the server secret, so a database
// dump alone does not reveal codes by brute force over a million values.
func (s *Server) codeHash(userID, code string) string {
	m := hmac.New(sha256.New, s.Config.JWTSecret)
	m.Write([]byte(userID + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}

func tooManyAttempts(until, now time.Time) error {
	secs := int(math.Ceil(until.Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	mins := (secs + 59) / 60
	return retryLater(apperr.Newf(apperr.TooManyRequests, "登录失败次数过多，请 %d 分钟后再试 / too many failed logins; try again in %d min", mins, mins).
		WithData(map[string]any{"retryAfter": secs}), time.Duration(secs)*time.Second)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
