package accounts

import (
	"errors"
	"math"
	"time"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/store"
)

// The messages of this capability: a code ("accounts.<key>", translated by
// the console's codes/accounts.ts) and the English text.

// ErrBadCredentials: the username or the password is wrong (the same answer for an unknown account).
var ErrBadCredentials = apperr.New(apperr.Unauthorized, "accounts.badCredentials", "wrong username or password")

// DirectoryUnavailableMessage is the English text of a directory outage
// (the public status says it too); DirectoryUnavailableCode is its code.
const (
	DirectoryUnavailableCode    = "accounts.directoryUnavailable"
	DirectoryUnavailableMessage = "The directory service is unavailable; login is under maintenance. Try again later or contact your administrator."
)

func errDirectoryUnavailable() error {
	return apperr.New(apperr.Unavailable, DirectoryUnavailableCode, DirectoryUnavailableMessage, apperr.P{"maintenance": true})
}

func errDirectoryConflict() error {
	return apperr.New(apperr.Conflict, "accounts.directoryConflict", "the directory account collides with an existing account")
}

func errBadCode() error {
	return apperr.New(apperr.Invalid, "accounts.badResetCode", "the code is wrong or expired")
}

// errLDAPManaged refuses a password change or reset of a directory account,
// with the directory's own reset page.
func errLDAPManaged(url string) error {
	return apperr.New(apperr.Conflict, "accounts.passwordInDirectory",
		"this account is managed by the corporate directory; reset the password there", apperr.P{"resetUrl": url})
}

// ErrForbiddenRole: the caller's role may not use the operation.
var ErrForbiddenRole = apperr.New(apperr.Forbidden, apperr.CodeForbidden, "forbidden")

// errTooManyAttempts refuses an attempt until the lock on its account or
// address ends; retryAfter is in seconds (the api sends it as Retry-After too).
func errTooManyAttempts(until, now time.Time) error {
	secs := int(math.Ceil(until.Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	mins := (secs + 59) / 60
	return apperr.New(apperr.TooManyRequests, "accounts.tooManyFailedLogins", "too many failed logins; try again in {minutes} min",
		apperr.P{"minutes": mins, "retryAfter": secs})
}

// policyError is a password the rules refuse, at its input field.
func policyError(err error, field string) error {
	var pe *auth.PolicyError
	if errors.As(err, &pe) {
		return apperr.New(apperr.Invalid, pe.Code, pe.Message, pe.Params).AtField(field)
	}
	return err
}

// CustomerNotFound names a missing customer (other capabilities look customers up too).
func CustomerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "accounts.customerNotFound", "customer not found")
	}
	return err
}

// conflictOnDuplicate turns unique violations into a 409 that names the field.
func conflictOnDuplicate(err error) error {
	for _, c := range []struct{ constraint, code, message, field string }{
		{"tenants_company_key", "accounts.companyTaken", "a customer with this company name already exists", "body.company"},
		{"tenants_code_key", "accounts.customerCodeTaken", "this customer code is taken", "body.code"},
		{"users_username_key", "accounts.usernameTaken", "this username is taken", "body.username"},
		{"users_email_key", "accounts.emailTaken", "this email is already used by another account", "body.email"},
		{"users_employee_id_key", "accounts.employeeIdTaken", "this employee ID is already used", "body.employeeId"},
	} {
		if store.IsUniqueViolation(err, c.constraint) {
			return apperr.New(apperr.Conflict, c.code, c.message).AtField(c.field)
		}
	}
	return err
}
