package accounts

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

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

type UpdateProfileInput struct {
	Name, Email, Phone string
	// CurrentPassword is required when the e-mail changes: the e-mail
	// receives password reset codes.
	CurrentPassword string
}

// UpdateProfile edits the caller's name, e-mail and phone.
func (s *Service) UpdateProfile(ctx context.Context, in UpdateProfileInput) (*Account, error) {
	p := caller.From(ctx)
	before, err := s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	after := *before
	after.Name, after.Email, after.Phone = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email), in.Phone
	if !strings.EqualFold(after.Email, before.Email) {
		if before.AuthSource != "local" {
			return nil, apperr.New(apperr.Invalid, "accounts.emailInDirectory",
				"the e-mail comes from the corporate directory; change it there").AtField("body.email")
		}
		if in.CurrentPassword == "" {
			return nil, apperr.New(apperr.Invalid, "accounts.currentPasswordRequired",
				"enter your current password to change the e-mail").AtField("body.currentPassword")
		}
		if err := s.checkCurrentPassword(ctx, before, in.CurrentPassword, "body.currentPassword", "profile.update"); err != nil {
			return nil, err
		}
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).UpdateUser(ctx, &after); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "profile.update", TargetType: "user", TargetID: p.UserID, Success: true,
			Detail: map[string]any{"before": userFields(before), "after": userFields(&after)}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return s.Me(ctx)
}

type ChangePasswordInput struct {
	OldPassword, NewPassword string
}

// ChangePassword sets the caller's new password and ends its other
// sessions; it returns how many ended.
func (s *Service) ChangePassword(ctx context.Context, in ChangePasswordInput) (revoked int, err error) {
	p := caller.From(ctx)
	u, err := s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return 0, err
	}
	if u.AuthSource != "local" {
		return 0, errLDAPManaged(s.Config.LDAP.PasswordResetURL)
	}
	if err := s.checkCurrentPassword(ctx, u, in.OldPassword, "body.oldPassword", "profile.change_password"); err != nil {
		return 0, err
	}
	if in.OldPassword == in.NewPassword {
		return 0, apperr.New(apperr.Invalid, "accounts.samePassword", "the new password must differ").AtField("body.newPassword")
	}
	if err := auth.CheckPolicy(in.NewPassword, u.Username); err != nil {
		return 0, policyError(err, "body.newPassword")
	}
	hash, err := s.slots.hash(ctx, in.NewPassword)
	if err != nil {
		return 0, err
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if revoked, err = store.New(tx).RevokeUserSessions(ctx, u.ID, p.SessionID, "password changed"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "profile.change_password", TargetType: "user", TargetID: u.ID, Success: true,
			Detail: map[string]any{"revokedSessions": revoked}})
	})
	return revoked, err
}

// checkCurrentPassword confirms a signed-in user's password (changing the
// password or the e-mail). Like a login it is counted against the account
// before the check, runs in a password slot, and a wrong one is audited as
// action; so a stolen session cannot guess the password at full speed.
func (s *Service) checkCurrentPassword(ctx context.Context, u *store.User, password, field, action string) error {
	key := "user:" + u.ID
	allowed, until, err := s.Store.ThrottleAttempt(ctx, key, accountMaxFailures, throttleWindow, throttleLock)
	if err != nil {
		return err
	}
	if !allowed {
		return errTooManyAttempts(until, s.now())
	}
	right, err := s.slots.check(ctx, password, u.PasswordHash)
	if err != nil {
		_ = s.Store.ThrottleForgive(ctx, key, accountMaxFailures) // not a guess: no slot was free
		return err
	}
	if right {
		return s.Store.ThrottleReset(ctx, key)
	}
	_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: action, TargetType: "user", TargetID: u.ID, Success: false,
		Detail: map[string]any{"reason": "wrong current password"}})
	if !until.IsZero() {
		return errTooManyAttempts(until, s.now())
	}
	return apperr.New(apperr.Invalid, "accounts.wrongCurrentPassword", "the current password is wrong").AtField(field)
}

// MaxAvatarBytes is the largest avatar accepted.
const MaxAvatarBytes = 2 << 20

var avatarTypes = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

func errAvatarTooLarge() error {
	return apperr.New(apperr.Invalid, "accounts.avatarTooLarge", "the avatar must be at most {mb} MB",
		apperr.P{"mb": MaxAvatarBytes >> 20}).AtField("body.file")
}

func errNoAvatar() error { return apperr.New(apperr.NotFound, "accounts.noAvatar", "no avatar") }

// SetAvatar stores the caller's new avatar (PNG, JPEG or WebP, by its
// bytes, at most MaxAvatarBytes) and removes the old one.
func (s *Service) SetAvatar(ctx context.Context, file io.Reader, size int64) (*Account, error) {
	p := caller.From(ctx)
	if size > MaxAvatarBytes {
		return nil, errAvatarTooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxAvatarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unable to read upload: %w", err)
	}
	if len(data) > MaxAvatarBytes {
		return nil, errAvatarTooLarge()
	}
	// Trust the bytes, not the declared type.
	ct := http.DetectContentType(data)
	ext, allowed := avatarTypes[ct]
	if !allowed {
		return nil, apperr.New(apperr.Invalid, "accounts.avatarType", "only PNG, JPEG or WebP images").AtField("body.file")
	}
	if s.Objects == nil {
		return nil, apperr.New(apperr.Unavailable, "accounts.noObjectStore", "the object store is not configured")
	}
	u, err := s.Store.GetUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	key := fmt.Sprintf("%s/%s/%s.%s", p.TenantID, p.UserID, hex.EncodeToString(rnd), ext)
	if err := s.Objects.Put(ctx, objstore.BucketAvatars, key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).SetAvatar(ctx, p.UserID, key); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "profile.avatar", TargetType: "user", TargetID: p.UserID, Success: true,
			Detail: map[string]any{"bytes": len(data), "type": ct}})
	})
	if err != nil {
		_ = s.Objects.Remove(ctx, objstore.BucketAvatars, key) // undo: the new image is not used
		return nil, err
	}
	if u.AvatarKey != "" {
		_ = s.Objects.Remove(ctx, objstore.BucketAvatars, u.AvatarKey)
	}
	return s.Me(ctx)
}

// Avatar is the caller's avatar image and its content type.
func (s *Service) Avatar(ctx context.Context) (data []byte, contentType string, err error) {
	p := caller.From(ctx)
	u, err := s.Store.GetTenantUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, "", err
	}
	if u.AvatarKey == "" || s.Objects == nil {
		return nil, "", errNoAvatar()
	}
	r, _, ct, err := s.Objects.Get(ctx, objstore.BucketAvatars, u.AvatarKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, "", errNoAvatar()
	}
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	data, err = io.ReadAll(io.LimitReader(r, MaxAvatarBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("unable to read avatar: %w", err)
	}
	return data, ct, nil
}

func userFields(u *store.User) map[string]any {
	return map[string]any{"name": u.Name, "email": u.Email, "phone": u.Phone, "employeeId": u.EmployeeID, "role": u.Role, "status": u.Status}
}
