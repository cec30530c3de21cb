// Package auth holds the credential primitives: password hashing and policy,
// access tokens (JWT), refresh tokens and one-time codes.
package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"

	"github.com/alexedwards/argon2id"
)

// hashParams are OWASP's minimum argon2id settings (19 MiB, 2 passes): a
// login costs tens of milliseconds, which keeps 50 concurrent logins in memory.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func HashPassword(pw string) (string, error) {
	return argon2id.CreateHash(pw, hashParams)
}

// CheckPassword compares in constant time; an empty or malformed hash never matches.
func CheckPassword(pw, hash string) bool {
	if hash == "" {
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// dummyHash lets a login for an unknown user cost as much as a real one.
var dummyHash, _ = HashPassword("remotegpu-timing-equaliser")

func BurnPasswordCheck(pw string) { CheckPassword(pw, dummyHash) }

// ErrWeakPassword carries the rule that failed, for the user.
var ErrWeakPassword = errors.New("weak password")

// PolicyError names the rule a password breaks: a stable code (the
// console's text for it, "accounts.<rule>") and an English message.
type PolicyError struct {
	Code    string
	Message string
	Params  map[string]any
}

func (e *PolicyError) Error() string { return e.Message }
func (e *PolicyError) Unwrap() error { return ErrWeakPassword }

const (
	minPasswordLen = 8
	maxPasswordLen = 128
)

// CheckPolicy: at least 8 characters (at most 128), at least three of upper,
// lower, digit and symbol, and not containing the username.
func CheckPolicy(pw, username string) error {
	n := len([]rune(pw))
	if n < minPasswordLen {
		return &PolicyError{"accounts.passwordTooShort", fmt.Sprintf("at least %d characters", minPasswordLen), map[string]any{"min": minPasswordLen}}
	}
	if n > maxPasswordLen {
		return &PolicyError{"accounts.passwordTooLong", fmt.Sprintf("at most %d characters", maxPasswordLen), map[string]any{"max": maxPasswordLen}}
	}
	var upper, lower, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsDigit(r):
			digit = 1
		case unicode.IsSpace(r):
			return &PolicyError{Code: "accounts.passwordHasSpace", Message: "no spaces"}
		default:
			symbol = 1
		}
	}
	if upper+lower+digit+symbol < 3 {
		return &PolicyError{Code: "accounts.passwordTooSimple", Message: "use at least three of upper case, lower case, digits and symbols"}
	}
	if username != "" && len(username) >= 3 && strings.Contains(strings.ToLower(pw), strings.ToLower(username)) {
		return &PolicyError{Code: "accounts.passwordHasUsername", Message: "must not contain the username"}
	}
	return nil
}

// GeneratePassword makes a random password that satisfies CheckPolicy.
func GeneratePassword() string {
	const (
		up  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lo  = "abcdefghijkmnpqrstuvwxyz"
		dg  = "23456789"
		sy  = "!@#%^*-_=+"
		all = up + lo + dg + sy
	)
	b := []byte{pick(up), pick(lo), pick(dg), pick(sy)}
	for len(b) < 16 {
		b = append(b, pick(all))
	}
	// shuffle so the classes are not in fixed positions
	for i := len(b) - 1; i > 0; i-- {
		j := randInt(i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// GenerateCode returns a 6-digit numeric one-time code.
func GenerateCode() string {
	n := randInt(1000000)
	s := []byte("000000")
	for i := 5; i >= 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

func pick(set string) byte { return set[randInt(len(set))] }

func randInt(max int) int {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(max)))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return int(n.Int64())
}
