package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
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

// maxAvatarBytes is the largest avatar (the upload limit of its path adds the form's overhead).
const maxAvatarBytes = accounts.MaxAvatarBytes

func (h *profileHandler) register(api huma.API) {
	const tag = "profile"
	huma.Register(api, operation(http.MethodGet, "/api/customer/profile", "get-profile", tag, "The caller's profile", roleCustomer), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/customer/profile", "update-profile", tag, "Edit the caller's profile", roleCustomer,
		http.StatusConflict, http.StatusBadRequest), h.update)
	huma.Register(api, operation(http.MethodPost, "/api/customer/profile/change-password", "change-password", tag,
		"Change the password; ends the caller's other sessions", roleCustomer, http.StatusBadRequest, http.StatusConflict, http.StatusBadRequest), h.changePassword)
	op := operation(http.MethodPost, "/api/customer/profile/avatar", "upload-avatar", tag, "Upload the avatar (PNG, JPEG or WebP, ≤ 2 MB)",
		roleCustomer, http.StatusRequestEntityTooLarge, http.StatusBadRequest)
	op.MaxBodyBytes = maxAvatarBytes + 64<<10
	huma.Register(api, op, h.uploadAvatar)
	get := operation(http.MethodGet, "/api/customer/profile/avatar", "get-avatar", tag, "The avatar image", roleCustomer, http.StatusNotFound)
	get.Responses = map[string]*huma.Response{"200": {Description: "The image", Content: map[string]*huma.MediaType{
		"image/png": {}, "image/jpeg": {}, "image/webp": {}}}}
	huma.Register(api, get, h.getAvatar)
}

func (h *profileHandler) get(ctx context.Context, _ *struct{}) (*Resp[Me], error) {
	a, err := h.s.accounts.Me(ctx)
	return account(ctx, a, err)
}

func (h *profileHandler) update(ctx context.Context, in *UpdateProfileInput) (*Resp[Me], error) {
	a, err := h.s.accounts.UpdateProfile(ctx, accounts.UpdateProfileInput{Name: in.Body.Name, Email: in.Body.Email, Phone: in.Body.Phone,
		CurrentPassword: in.Body.CurrentPassword})
	return account(ctx, a, err)
}

func (h *profileHandler) changePassword(ctx context.Context, in *ChangePasswordInput) (*Resp[PasswordChanged], error) {
	n, err := h.s.accounts.ChangePassword(ctx, accounts.ChangePasswordInput{OldPassword: in.Body.OldPassword, NewPassword: in.Body.NewPassword})
	if err != nil {
		return nil, err
	}
	return ok(ctx, PasswordChanged{RevokedSessions: n})
}

func (h *profileHandler) uploadAvatar(ctx context.Context, in *AvatarInput) (*Resp[Me], error) {
	f := in.RawBody.Data().File
	a, err := h.s.accounts.SetAvatar(ctx, f, f.Size)
	return account(ctx, a, err)
}

func (h *profileHandler) getAvatar(ctx context.Context, _ *struct{}) (*AvatarOutput, error) {
	data, ct, err := h.s.accounts.Avatar(ctx)
	if err != nil {
		return nil, err
	}
	return &AvatarOutput{ContentType: ct, CacheControl: "private, max-age=300", Body: data}, nil
}
