package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/store"
)

const (
	resetResendAfter = 60 * time.Second
	resetCodeTTL     = 10 * time.Minute
	resetMaxAttempts = 5
	// resetMaxPerDay caps the codes mailed to one account in 24 hours
	// (README: password reset).
	resetMaxPerDay = 5
)

// ResetRequested is the same for every account, known or not.
type ResetRequested struct {
	ResendAfter time.Duration
	ExpiresIn   time.Duration
	// DirectoryResetURL is where directory accounts reset their password;
	// set whenever LDAP is configured, for every account.
	DirectoryResetURL string
}

// RequestReset answers at once and the same for every account, known or
// not, local or directory: the lookup, the limits and the mail happen in
// the service's workers after the answer, so neither its status, its body
// nor its time tells whether the account exists.
// When the workers are overwhelmed it refuses, also the same for every account.
func (s *Service) RequestReset(ctx context.Context, account string) (ResetRequested, error) {
	out := ResetRequested{ResendAfter: resetResendAfter, ExpiresIn: resetCodeTTL}
	if s.LDAP.Enabled() {
		out.DirectoryResetURL = s.Config.LDAP.PasswordResetURL
	}
	if err := s.enqueueReset(ctx, strings.TrimSpace(account)); err != nil {
		return ResetRequested{}, err
	}
	return out, nil
}

// sendResetCode mails a code to a local, active account with an e-mail,
// at most one per resetResendAfter and resetMaxPerDay a day. A code whose
// mail fails is recorded, and its failure too.
func (s *Service) sendResetCode(ctx context.Context, account string) {
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
	issued := false
	// The code and its audit record are written together: a code whose
	// record cannot be written is not issued (nor mailed).
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		last, today, err := q.PasswordResetsSince(ctx, user.ID, s.now().Add(-24*time.Hour))
		if err != nil {
			return err
		}
		entry := audit.Entry{Action: "auth.password_reset_request", TargetType: "user", TargetID: user.ID, Actor: user}
		switch {
		case !last.IsZero() && s.now().Sub(last) < resetResendAfter:
			entry.Detail = map[string]any{"reason": "resend too soon"}
		case today >= resetMaxPerDay:
			entry.Detail = map[string]any{"reason": "daily limit"}
		default:
			if err := q.CreatePasswordReset(ctx, user.ID, s.codeHash(user.ID, code), s.now().Add(resetCodeTTL)); err != nil {
				return err
			}
			issued, entry.Success = true, true
		}
		return audit.Record(ctx, tx, entry)
	})
	if err != nil {
		slog.ErrorContext(ctx, "unable to create a password reset", "user", user.ID, "err", err)
		return
	}
	if !issued {
		return
	}
	subject, text, html, err := mail.Render("password_reset", map[string]any{"Name": user.Name, "Username": user.Username,
		"Code": code, "Minutes": int(resetCodeTTL.Minutes())})
	if err == nil {
		err = s.Mail.Send(ctx, mail.Message{To: []string{user.Email}, Subject: subject, Text: text, HTML: html})
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to send reset mail", "user", user.ID, "err", err)
		// The code was issued (and audited); this records that its mail failed.
		if aerr := audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "auth.password_reset_request", TargetType: "user", TargetID: user.ID,
			Success: false, Actor: user, Detail: map[string]any{"reason": "mail failed"}}); aerr != nil {
			slog.ErrorContext(ctx, "unable to record a failed reset mail", "user", user.ID, "err", aerr)
		}
	}
}

type ConfirmResetInput struct {
	Account     string
	Code        string
	NewPassword string
}

// ConfirmReset sets a new password with a mailed code and ends every
// session. It checks the code before anything costly: the new password is
// hashed (argon2) only once the code is right.
func (s *Service) ConfirmReset(ctx context.Context, in ConfirmResetInput) error {
	account := strings.TrimSpace(in.Account)
	// The same rules for every account first, so a weak password says nothing about the account.
	if err := auth.CheckPolicy(in.NewPassword, account); err != nil {
		return policyError(err, "body.newPassword")
	}
	user, err := s.Store.FindUserByLogin(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return errBadCode()
	}
	if err != nil {
		return err
	}
	if user.AuthSource != "local" || user.Status != "active" {
		return errBadCode() // no code was ever sent to it, or the account is disabled
	}
	var verdict error
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		r, err := store.New(tx).LatestPasswordReset(ctx, user.ID, true)
		if errors.Is(err, store.ErrNotFound) {
			verdict = errBadCode()
			return nil
		}
		if err != nil {
			return err
		}
		if s.now().After(r.ExpiresAt) || r.Attempts >= resetMaxAttempts {
			verdict = apperr.New(apperr.Invalid, "accounts.resetCodeSpent", "the code has expired or was tried too often; request a new one")
			return store.New(tx).ConsumePasswordReset(ctx, r.ID)
		}
		if !hmac.Equal([]byte(r.CodeHash), []byte(s.codeHash(user.ID, in.Code))) {
			left := resetMaxAttempts - r.Attempts - 1
			verdict = apperr.New(apperr.Invalid, "accounts.wrongResetCode", "wrong code, {left} tries left", apperr.P{"left": left})
			if left == 0 {
				return store.New(tx).ConsumePasswordReset(ctx, r.ID)
			}
			return store.New(tx).IncrementResetAttempts(ctx, r.ID)
		}
		// The code is right: now the rules that need the username, then the hash.
		if err := auth.CheckPolicy(in.NewPassword, user.Username); err != nil {
			verdict = policyError(err, "body.newPassword")
			return nil // the code stays usable
		}
		hash, err := s.slots.hash(ctx, in.NewPassword)
		if err != nil {
			return err
		}
		if err := store.New(tx).ConsumePasswordReset(ctx, r.ID); err != nil {
			return err
		}
		if err := store.New(tx).SetPassword(ctx, user.ID, hash); err != nil {
			return err
		}
		if _, err := store.New(tx).RevokeUserSessions(ctx, user.ID, "", "password reset"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "auth.password_reset", TargetType: "user", TargetID: user.ID, Success: true, Actor: user})
	})
	if err != nil {
		return err
	}
	return verdict
}

// codeHash keys the stored reset code with the server secret, so a database
// dump alone does not reveal codes by brute force over a million values.
func (s *Service) codeHash(userID, code string) string {
	m := hmac.New(sha256.New, s.Config.JWTSecret)
	m.Write([]byte(userID + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}
