package api_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

func TestLoginMeAndEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	s := e.login("owner-a")
	var me api.Me
	s.must(200, "GET", "/api/auth/me", nil).decode(t, &me)
	if me.Username != "owner-a" || me.Role != "owner" || me.TenantID == nil || *me.TenantID != e.fx.tenantA.ID || me.Company != "Company tenant-a" {
		t.Fatalf("me = %+v", me)
	}
	// login by email works too
	e.loginWith("member-a@example.test", testPassword)

	r := e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "owner-a", "password": "nope"})
	var reason api.ErrorData
	r.decode(t, &reason)
	if !strings.Contains(r.Message, "wrong username or password") || reason.Reason != "accounts.badCredentials" {
		t.Fatalf("message %q, data %s", r.Message, r.Data)
	}
	e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "ghost", "password": "nope"})
	r = e.anon().must(400, "POST", "/api/auth/login", map[string]any{"username": ""})
	var fe api.ErrorData
	r.decode(t, &fe)
	if len(fe.Errors) == 0 {
		t.Fatalf("400 without field errors: %s", r.Data)
	}
	e.anon().must(401, "GET", "/api/auth/me", nil)
	e.anon().must(404, "GET", "/api/nothing-here", nil)
	s.access = "garbage"
	s.must(401, "GET", "/api/auth/me", nil)
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for i := 0; i < 4; i++ {
		e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": "wrong"})
	}
	r := e.anon().must(429, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": "wrong"})
	if !regexp.MustCompile(`"reason":"accounts.tooManyFailedLogins","params":\{"minutes":15,"retryAfter":\d+\}`).Match(r.Data) ||
		r.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without retryAfter: %s (Retry-After %q)", r.Data, r.Header.Get("Retry-After"))
	}
	// locked even with the right password; other accounts are not
	e.anon().must(429, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": testPassword})
	e.login("owner-a")
	// failed and successful logins are audited
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = 'auth.login' AND NOT success`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("failed login audit rows = %d, %v", n, err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	s := e.login("owner-a")
	first := s.refresh
	var tp api.TokenPair
	s.must(200, "POST", "/api/auth/refresh", map[string]any{"refreshToken": first}).decode(t, &tp)
	if tp.RefreshToken == first || tp.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	s.access = tp.AccessToken
	s.must(200, "GET", "/api/auth/me", nil)

	// the spent token comes back: the whole family ends, the new token and the access token too
	e.anon().must(401, "POST", "/api/auth/refresh", map[string]any{"refreshToken": first})
	e.anon().must(401, "POST", "/api/auth/refresh", map[string]any{"refreshToken": tp.RefreshToken})
	s.must(401, "GET", "/api/auth/me", nil)

	// logout ends a session at once
	s2 := e.login("owner-a")
	s2.must(200, "POST", "/api/auth/logout", map[string]any{"refreshToken": s2.refresh})
	s2.must(401, "GET", "/api/auth/me", nil)
	e.anon().must(401, "POST", "/api/auth/refresh", map[string]any{"refreshToken": s2.refresh})
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	other := e.login("member-a")
	code := resetCode(t, e, "member-a@example.test", "member-a@example.test")
	// a second request within 60 s gets the same answer, but no second code
	known := e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "member-a"})
	e.waitAudit("auth.password_reset_request", "resend too soon", 1)
	if n := e.mailsTo("member-a@example.test"); n != 1 {
		t.Fatalf("%d mails after a resend within 60 s, want 1", n)
	}
	// an unknown account gets the same answer as a real one
	unknown := e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "nobody@example.test"})
	if string(known.Data) != string(unknown.Data) {
		t.Fatalf("known %s, unknown %s", known.Data, unknown.Data)
	}

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r := e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-a", "code": wrong, "newPassword": "New-Passw0rd"})
	if !strings.Contains(r.Message, "4") {
		t.Fatalf("tries left not said: %q", r.Message)
	}
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-a", "code": code, "newPassword": "weak"})
	e.anon().must(200, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-a", "code": code, "newPassword": "New-Passw0rd"})
	// the code is spent, every old session ended, the new password works
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-a", "code": code, "newPassword": "Other-Passw0rd"})
	other.must(401, "GET", "/api/auth/me", nil)
	e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": testPassword})
	e.loginWith("member-a", "New-Passw0rd")
}

func TestPasswordResetCodeExpiresAndLocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	code := resetCode(t, e, "owner-b", "owner-b@example.test")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "owner-b", "code": wrong, "newPassword": "New-Passw0rd"})
	}
	// five wrong tries spend the code, even the right one fails now
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "owner-b", "code": code, "newPassword": "New-Passw0rd"})

	// a fresh code expires after 10 minutes
	e.offset = 61 * time.Second
	code = resetCode(t, e, "owner-b", "owner-b@example.test")
	e.offset += 11 * time.Minute
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "owner-b", "code": code, "newPassword": "New-Passw0rd"})
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a, b := e.login("owner-a"), e.login("owner-a")
	a.must(400, "POST", "/api/customer/profile/change-password", map[string]any{"oldPassword": "wrong", "newPassword": "New-Passw0rd"})
	a.must(400, "POST", "/api/customer/profile/change-password", map[string]any{"oldPassword": testPassword, "newPassword": "short"})
	var out api.PasswordChanged
	a.must(200, "POST", "/api/customer/profile/change-password", map[string]any{"oldPassword": testPassword, "newPassword": "New-Passw0rd"}).decode(t, &out)
	if out.RevokedSessions != 1 {
		t.Fatalf("revoked %d sessions, want 1", out.RevokedSessions)
	}
	a.must(200, "GET", "/api/customer/profile", nil)
	b.must(401, "GET", "/api/customer/profile", nil)
	e.loginWith("owner-a", "New-Passw0rd")
}

func TestDisabledAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	admin.must(200, "POST", "/api/admin/customers/"+e.fx.tenantA.ID+"/disable", nil)
	// the tenant's sessions end at once and login is refused
	owner.must(401, "GET", "/api/customer/profile", nil)
	e.anon().must(403, "POST", "/api/auth/login", map[string]any{"username": "owner-a", "password": testPassword})
	e.login("owner-b") // other tenants are not touched
	admin.must(200, "POST", "/api/admin/customers/"+e.fx.tenantA.ID+"/enable", nil)
	e.login("owner-a")

	// one user disabled
	member := e.login("member-a")
	admin.must(200, "PUT", "/api/admin/customers/"+e.fx.tenantA.ID+"/users/"+e.fx.memberA.ID,
		map[string]any{"name": "M", "email": "member-a@example.test", "phone": "", "role": "member", "status": "disabled"})
	member.must(401, "GET", "/api/customer/profile", nil)
	e.anon().must(403, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": testPassword})

	var actions []string
	rows, _ := e.st.Pool.Query(context.Background(), `SELECT action FROM audit_logs WHERE tenant_id = $1 ORDER BY id`, e.fx.tenantA.ID)
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	joined := strings.Join(actions, ",")
	for _, want := range []string{"customer.disable", "customer.enable", "user.disable", "user.update"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %s: %s", want, joined)
		}
	}
	_ = store.ErrNotFound
}

// waitAudit waits until n audit rows of action with detail.reason (any when empty) exist.
func (e *env) waitAudit(action, reason string, n int) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("%d %s audit rows (%s)", n, action, reason), func() bool {
		var got int
		_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = $1 AND ($2 = '' OR detail->>'reason' = $2)`,
			action, reason).Scan(&got)
		return got >= n
	})
}

// mailsTo counts the mails the sink holds for an address.
func (e *env) mailsTo(addr string) int {
	n := 0
	for _, m := range e.sink.Messages() {
		if slices.Contains(m.To, addr) {
			n++
		}
	}
	return n
}

// The reset request answers the same for every account: a local one, an
// unknown one, a disabled one and one without e-mail; at most
// resetMaxPerDay (5) codes go to one account in 24 hours.
func TestPasswordResetSameAnswerAndDailyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	ctx := context.Background()
	if _, err := e.st.Pool.Exec(ctx, `UPDATE users SET status = 'disabled' WHERE id = $1`, e.fx.memberB.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool.Exec(ctx, `UPDATE users SET email = '' WHERE id = $1`, e.fx.ownerB.ID); err != nil {
		t.Fatal(err)
	}
	var first string
	for _, account := range []string{"owner-a", "ghost@example.test", "member-b", "owner-b"} {
		r := e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": account})
		if first == "" {
			first = string(r.Data)
		}
		if string(r.Data) != first || strings.Contains(string(r.Data), "directoryResetUrl") {
			t.Fatalf("%s: %s, want %s", account, r.Data, first)
		}
	}
	if _, err := e.sink.WaitFor(ctx, "owner-a@example.test", time.Time{}); err != nil {
		t.Fatal(err)
	}

	for i := 2; i <= 6; i++ {
		e.offset += 61 * time.Second
		e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "owner-a"})
		if i <= 5 {
			waitFor(t, fmt.Sprintf("mail %d", i), func() bool { return e.mailsTo("owner-a@example.test") == i })
		}
	}
	e.waitAudit("auth.password_reset_request", "daily limit", 1)
	if n := e.mailsTo("owner-a@example.test"); n != 5 {
		t.Fatalf("%d codes in a day, want 5", n)
	}
	if n := e.mailsTo("member-b@example.test"); n != 0 {
		t.Fatalf("a disabled account got %d mails", n)
	}
	// a day later codes flow again
	e.offset += 24 * time.Hour
	e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "owner-a"})
	waitFor(t, "the next day's code", func() bool { return e.mailsTo("owner-a@example.test") == 6 })
}

// Only a right code makes the server hash the new password (argon2); a
// weak password is refused before the account is even looked at.
func TestPasswordResetHashesOnlyWithTheRightCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	code := resetCode(t, e, "member-b", "member-b@example.test")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var computed atomic.Int64
	api.OnPasswordWork(e.api, func(compute func()) { computed.Add(1); compute() })
	for range 3 {
		e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-b", "code": wrong, "newPassword": "New-Passw0rd"})
	}
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "ghost", "code": code, "newPassword": "New-Passw0rd"})
	// weak: the same answer for a known and an unknown account
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-b", "code": wrong, "newPassword": "weak"})
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "ghost", "code": wrong, "newPassword": "weak"})
	if n := computed.Load(); n != 0 {
		t.Fatalf("%d hashes without a right code", n)
	}
	e.anon().must(200, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "member-b", "code": code, "newPassword": "New-Passw0rd"})
	if n := computed.Load(); n != 1 {
		t.Fatalf("%d hashes for one right code", n)
	}
}

// Changing the e-mail (where reset codes go) takes the current password.
func TestEmailChangeNeedsPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	s := e.login("member-a")
	body := func(email, pw string) map[string]any {
		return map[string]any{"name": "Member A", "email": email, "phone": "", "currentPassword": pw}
	}
	// name only, same e-mail (case aside): no password needed
	s.must(200, "PUT", "/api/customer/profile", body("MEMBER-A@example.test", ""))
	r := s.must(400, "PUT", "/api/customer/profile", body("new-a@example.test", ""))
	if !strings.Contains(string(r.Data), "body.currentPassword") {
		t.Fatalf("missing password not at its field: %s", r.Data)
	}
	r = s.must(400, "PUT", "/api/customer/profile", body("new-a@example.test", "wrong"))
	if !strings.Contains(string(r.Data), "body.currentPassword") {
		t.Fatalf("wrong password not at its field: %s", r.Data)
	}
	var me api.Me
	s.must(200, "PUT", "/api/customer/profile", body("new-a@example.test", testPassword)).decode(t, &me)
	if me.Email != "new-a@example.test" {
		t.Fatalf("email %q", me.Email)
	}
	var n int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = 'profile.update' AND NOT success`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d failed profile.update audit rows, want 1", n)
	}
	// guessing the password through this form locks like a login does
	for range 4 {
		s.must(400, "PUT", "/api/customer/profile", body("x@example.test", "wrong"))
	}
	s.must(429, "PUT", "/api/customer/profile", body("x@example.test", "wrong"))
	e.anon().must(429, "POST", "/api/auth/login", map[string]any{"username": "member-a", "password": testPassword})
}

// resetCode asks for a password reset of account and returns the code mailed to email.
func resetCode(t *testing.T, e *env, account, email string) string {
	t.Helper()
	since := time.Now()
	e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": account})
	msg, err := e.sink.WaitFor(context.Background(), email, since)
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`\b\d{6}\b`).FindString(msg.Text)
	if code == "" {
		t.Fatalf("no code in mail: %q", msg.Text)
	}
	return code
}
