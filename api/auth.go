package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
)

// maintenanceMessage is what the public status says while the directory is
// down (the console shows the text of accounts.directoryUnavailable).
const maintenanceMessage = accounts.DirectoryUnavailableMessage

// authHandler is login, sessions and password reset (internal/accounts has the rules).
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

func meOf(a *accounts.Account) Me {
	u := a.User
	return Me{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Phone: u.Phone, EmployeeID: u.EmployeeID,
		Role: u.Role, TenantID: u.TenantID, TenantName: a.Company, Company: a.Company, AuthSource: u.AuthSource, HasAvatar: u.AvatarKey != ""}
}

// account answers with the caller's account, or the error.
func account(ctx context.Context, a *accounts.Account, err error) (*Resp[Me], error) {
	if err != nil {
		return nil, err
	}
	return ok(ctx, meOf(a))
}

type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn" doc:"Access token lifetime in seconds"`
	User         Me     `json:"user"`
}

func tokenPair(ctx context.Context, t *accounts.Tokens, err error) (*Resp[TokenPair], error) {
	if err != nil {
		return nil, err
	}
	return ok(ctx, TokenPair{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn, User: meOf(&t.Account)})
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
		http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	huma.Register(api, op, h.login)
	huma.Register(api, operation(http.MethodPost, "/api/auth/refresh", "refresh-token", "auth",
		"Rotate the refresh token and get a new access token", nil, http.StatusUnauthorized, http.StatusBadRequest), h.refresh)
	huma.Register(api, operation(http.MethodPost, "/api/auth/logout", "logout", "auth", "End the session of a refresh token", nil,
		http.StatusBadRequest), h.logout)
	huma.Register(api, operation(http.MethodGet, "/api/auth/me", "get-me", "auth", "The caller's account", roleAny), h.me)
	huma.Register(api, operation(http.MethodPost, "/api/auth/password-reset/request", "request-password-reset", "auth",
		"Mail a 6-digit reset code (answers the same for every account; the mail goes out in the background); 429 when too many requests wait for it", nil,
		http.StatusBadRequest, http.StatusTooManyRequests), h.resetRequest)
	huma.Register(api, operation(http.MethodPost, "/api/auth/password-reset/confirm", "confirm-password-reset", "auth",
		"Set a new password with the mailed code; ends every session", nil, http.StatusBadRequest), h.resetConfirm)
	huma.Register(api, operation(http.MethodPost, "/api/auth/ws-ticket", "create-ws-ticket", "auth",
		"A one-time ticket for a WebSocket handshake (/ws/**?ticket=), valid 30 s", roleAny), h.wsTicket)
}

func (h *authHandler) login(ctx context.Context, in *LoginInput) (*Resp[TokenPair], error) {
	t, err := h.s.accounts.Login(ctx, accounts.LoginInput{Login: in.Body.Username, Password: in.Body.Password})
	return tokenPair(ctx, t, err)
}

func (h *authHandler) refresh(ctx context.Context, in *RefreshInput) (*Resp[TokenPair], error) {
	t, err := h.s.accounts.Refresh(ctx, in.Body.RefreshToken)
	return tokenPair(ctx, t, err)
}

func (h *authHandler) logout(ctx context.Context, in *RefreshInput) (*Resp[Empty], error) {
	if err := h.s.accounts.Logout(ctx, in.Body.RefreshToken); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *authHandler) me(ctx context.Context, _ *struct{}) (*Resp[Me], error) {
	a, err := h.s.accounts.Me(ctx)
	return account(ctx, a, err)
}

// resetRequest answers at once and the same for every account (see accounts.RequestReset).
func (h *authHandler) resetRequest(ctx context.Context, in *ResetRequestInput) (*Resp[ResetRequestOutput], error) {
	r, err := h.s.accounts.RequestReset(ctx, in.Body.Account)
	if err != nil {
		return nil, err
	}
	return ok(ctx, ResetRequestOutput{ResendAfter: int(r.ResendAfter.Seconds()), ExpiresIn: int(r.ExpiresIn.Seconds()),
		DirectoryResetURL: r.DirectoryResetURL})
}

func (h *authHandler) resetConfirm(ctx context.Context, in *ResetConfirmInput) (*Resp[Empty], error) {
	err := h.s.accounts.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: in.Body.Account, Code: in.Body.Code, NewPassword: in.Body.NewPassword})
	if err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
