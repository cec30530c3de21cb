package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// profileHandler is the customer's own settings (requirements 3.1.10.1).
type profileHandler struct{ s *Server }

type UpdateProfileInput struct {
	Body struct {
		Name  string `json:"name" minLength:"1" maxLength:"100"`
		Email string `json:"email" required:"false" maxLength:"254" pattern:"^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" patternDescription:"email"`
		Phone string `json:"phone" required:"false" maxLength:"32" pattern:"^[0-9+\\-() ]*$"`
		// The e-mail receives password reset codes: changing it takes the password.
		CurrentPassword string `json:"currentPassword,omitempty" required:"false" maxLength:"256" doc:"The current password; required when the e-mail changes"`
	}
}

type ChangePasswordInput struct {
	Body struct {
		OldPassword string `json:"oldPassword" minLength:"1" maxLength:"256"`
		NewPassword string `json:"newPassword" minLength:"1" maxLength:"128"`
	}
}

type PasswordChanged struct {
	RevokedSessions int `json:"revokedSessions" doc:"Other sessions that were ended"`
}

type AvatarInput struct {
	RawBody huma.MultipartFormFiles[struct {
		File huma.FormFile `form:"file" contentType:"image/png,image/jpeg,image/webp" required:"true" doc:"PNG, JPEG or WebP, at most 2 MB"`
	}]
}

type AvatarOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

const maxAvatarBytes = 2 << 20

var avatarTypes = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

func (h *profileHandler) register(api huma.API) {
	const tag = "profile"
	huma.Register(api, operation(http.MethodGet, "/api/customer/profile", "get-profile", tag, "The caller's profile", roleCustomer), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/customer/profile", "update-profile", tag, "Edit the caller's profile", roleCustomer,
		http.StatusConflict, http.StatusUnprocessableEntity), h.update)
	huma.Register(api, operation(http.MethodPost, "/api/customer/profile/change-password", "change-password", tag,
		"Change the password; ends the caller's other sessions", roleCustomer, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity), h.changePassword)
	op := operation(http.MethodPost, "/api/customer/profile/avatar", "upload-avatar", tag, "Upload the avatar (PNG, JPEG or WebP, ≤ 2 MB)",
		roleCustomer, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
	op.MaxBodyBytes = maxAvatarBytes + 64<<10
	huma.Register(api, op, h.uploadAvatar)
	get := operation(http.MethodGet, "/api/customer/profile/avatar", "get-avatar", tag, "The avatar image", roleCustomer, http.StatusNotFound)
	get.Responses = map[string]*huma.Response{"200": {Description: "The image", Content: map[string]*huma.MediaType{
		"image/png": {}, "image/jpeg": {}, "image/webp": {}}}}
	huma.Register(api, get, h.getAvatar)
}

func (h *profileHandler) get(ctx context.Context, _ *struct{}) (*Resp[Me], error) {
	return h.current(ctx)
}

func (h *profileHandler) current(ctx context.Context) (*Resp[Me], error) {
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

func (h *profileHandler) update(ctx context.Context, in *UpdateProfileInput) (*Resp[Me], error) {
	p := principal(ctx)
	before, err := h.s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	after := *before
	after.Name, after.Email, after.Phone = strings.TrimSpace(in.Body.Name), strings.TrimSpace(in.Body.Email), in.Body.Phone
	if !strings.EqualFold(after.Email, before.Email) {
		if before.AuthSource != "local" {
			return nil, apperr.Newf(apperr.Unprocessable, "邮箱由企业统一认证（LDAP/AD）管理，请在目录中修改 / the e-mail comes from the corporate directory; change it there").
				AtField("body.email")
		}
		if in.Body.CurrentPassword == "" {
			return nil, apperr.Newf(apperr.Unprocessable, "修改邮箱需要输入当前密码 / enter your current password to change the e-mail").
				AtField("body.currentPassword")
		}
		if err := h.s.checkCurrentPassword(ctx, before, in.Body.CurrentPassword, "body.currentPassword", "profile.update"); err != nil {
			return nil, err
		}
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpdateUser(ctx, tx, &after); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "profile.update", TargetType: "user", TargetID: p.UserID, Success: true,
			Detail: map[string]any{"before": userFields(before), "after": userFields(&after)}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return h.current(ctx)
}

func (h *profileHandler) changePassword(ctx context.Context, in *ChangePasswordInput) (*Resp[PasswordChanged], error) {
	p := principal(ctx)
	u, err := h.s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	if u.AuthSource != "local" {
		return nil, ldapResetRefusal(h.s.Config.LDAP.PasswordResetURL)
	}
	if err := h.s.checkCurrentPassword(ctx, u, in.Body.OldPassword, "body.oldPassword", "profile.change_password"); err != nil {
		return nil, err
	}
	if in.Body.OldPassword == in.Body.NewPassword {
		return nil, apperr.Newf(apperr.Unprocessable, "新密码不能与当前密码相同 / the new password must differ").AtField("body.newPassword")
	}
	if err := auth.CheckPolicy(in.Body.NewPassword, u.Username); err != nil {
		return nil, apperr.Newf(apperr.Unprocessable, "%s", err.Error()).AtField("body.newPassword")
	}
	hash, err := auth.HashPassword(in.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	var revoked int
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.SetPassword(ctx, tx, u.ID, hash); err != nil {
			return err
		}
		if revoked, err = store.RevokeUserSessions(ctx, tx, u.ID, p.SessionID, "password changed"); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "profile.change_password", TargetType: "user", TargetID: u.ID, Success: true,
			Detail: map[string]any{"revokedSessions": revoked}})
	})
	if err != nil {
		return nil, err
	}
	return ok(ctx, PasswordChanged{RevokedSessions: revoked})
}

func (h *profileHandler) uploadAvatar(ctx context.Context, in *AvatarInput) (*Resp[Me], error) {
	p := principal(ctx)
	f := in.RawBody.Data().File
	if f.Size > maxAvatarBytes {
		return nil, apperr.Newf(apperr.Unprocessable, "头像不能超过 2 MB / the avatar must be at most 2 MB").AtField("body.file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAvatarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unable to read upload: %w", err)
	}
	if len(data) > maxAvatarBytes {
		return nil, apperr.Newf(apperr.Unprocessable, "头像不能超过 2 MB / the avatar must be at most 2 MB").AtField("body.file")
	}
	// Trust the bytes, not the declared type.
	ct := http.DetectContentType(data)
	ext, allowed := avatarTypes[ct]
	if !allowed {
		return nil, apperr.Newf(apperr.Unprocessable, "仅支持 PNG、JPEG、WebP 图片 / only PNG, JPEG or WebP images").AtField("body.file")
	}
	if h.s.Objects == nil {
		return nil, apperr.Newf(apperr.Unavailable, "对象存储未配置 / the object store is not configured")
	}
	u, err := h.s.Store.GetUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	key := fmt.Sprintf("%s/%s/%s.%s", p.TenantID, p.UserID, hex.EncodeToString(rnd), ext)
	if err := h.s.Objects.Put(ctx, objstore.BucketAvatars, key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		return nil, err
	}
	if err := h.s.Store.SetAvatar(ctx, p.UserID, key); err != nil {
		return nil, err
	}
	if u.AvatarKey != "" {
		_ = h.s.Objects.Remove(ctx, objstore.BucketAvatars, u.AvatarKey)
	}
	h.s.audit(ctx, nil, auditEntry{Action: "profile.avatar", TargetType: "user", TargetID: p.UserID, Success: true,
		Detail: map[string]any{"bytes": len(data), "type": ct}})
	return h.current(ctx)
}

func (h *profileHandler) getAvatar(ctx context.Context, _ *struct{}) (*AvatarOutput, error) {
	p := principal(ctx)
	u, err := h.s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	if u.AvatarKey == "" || h.s.Objects == nil {
		return nil, apperr.NotFoundf("未设置头像 / no avatar")
	}
	r, _, ct, err := h.s.Objects.Get(ctx, objstore.BucketAvatars, u.AvatarKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, apperr.NotFoundf("未设置头像 / no avatar")
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxAvatarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unable to read avatar: %w", err)
	}
	return &AvatarOutput{ContentType: ct, CacheControl: "private, max-age=300", Body: data}, nil
}

// checkCurrentPassword confirms a signed-in user's password (changing the
// password or the e-mail). Like a login it is counted against the account
// before the check, runs in a password slot, and a wrong one is audited as
// action; so a stolen session cannot guess the password at full speed.
func (s *Server) checkCurrentPassword(ctx context.Context, u *store.User, password, field, action string) error {
	key := "user:" + u.ID
	allowed, until, err := s.Store.ThrottleAttempt(ctx, key, accountMaxFailures, throttleWindow, throttleLock)
	if err != nil {
		return err
	}
	if !allowed {
		return tooManyAttempts(until, s.now())
	}
	right, err := s.logins.check(ctx, password, u.PasswordHash)
	if err != nil {
		_ = s.Store.ThrottleForgive(ctx, key, accountMaxFailures) // not a guess: no slot was free
		return err
	}
	if right {
		return s.Store.ThrottleReset(ctx, key)
	}
	s.audit(ctx, nil, auditEntry{Action: action, TargetType: "user", TargetID: u.ID, Success: false,
		Detail: map[string]any{"reason": "wrong current password"}})
	if !until.IsZero() {
		return tooManyAttempts(until, s.now())
	}
	return apperr.Invalidf("当前密码错误 / the current password is wrong").AtField(field)
}
