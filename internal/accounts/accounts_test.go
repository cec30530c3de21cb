package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/testldap"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// outbox is a mail.Sender that keeps what it was given.
type outbox struct {
	mu     sync.Mutex
	sent   []mail.Message
	mailed chan struct{} // a value per message sent
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	o.sent = append(o.sent, m)
	o.mu.Unlock()
	select {
	case o.mailed <- struct{}{}:
	default: // nobody waits for that many
	}
	return nil
}

// wait waits for the next message sent.
func (o *outbox) wait(t *testing.T) {
	t.Helper()
	select {
	case <-o.mailed:
	case <-time.After(10 * time.Second):
		t.Fatal("no mail within 10 s")
	}
}

func (o *outbox) messages() []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]mail.Message(nil), o.sent...)
}

type fixture struct {
	svc    *accounts.Service
	st     *store.Store
	mail   *outbox
	tenant *store.Tenant
	owner  *store.User
}

const ownerPassword = "Owner-Passw0rd"

func newService(t *testing.T, ldap *ldapauth.Config) *fixture {
	t.Helper()
	st, _ := storetest.New(t)
	cfg := config.Config{JWTSecret: []byte("0123456789abcdef0123456789abcdef"), AccessTokenTTL: 15 * time.Minute,
		RefreshTokenTTL: 24 * time.Hour}
	cfg.Security.LoginConcurrency = 2
	d := accounts.Deps{Store: st, Mail: &outbox{mailed: make(chan struct{}, 16)}, Config: cfg}
	if ldap != nil {
		d.LDAP = ldapauth.New(*ldap)
		d.Config.LDAP.PasswordResetURL = ldap.PasswordResetURL
	}
	f := &fixture{svc: accounts.New(d), st: st, mail: d.Mail.(*outbox)}
	c, err := f.svc.CreateCustomer(asAdmin(), accounts.CreateCustomerInput{
		CustomerFields: accounts.CustomerFields{Name: "Zhao", Company: "Initech"},
		Owner:          accounts.NewUser{Username: "initech-owner", Email: "owner@initech.test", Password: ownerPassword}})
	if err != nil {
		t.Fatal(err)
	}
	f.tenant, f.owner = c.Customer, c.Owner.User
	return f
}

// from is a request from an address, with no one signed in.
func from(ip string) context.Context {
	return caller.WithRequest(context.Background(), caller.Request{IP: ip, UserAgent: "test"})
}

func asAdmin() context.Context {
	return caller.WithPrincipal(from("10.0.0.1"), &caller.Principal{Username: "admin", Role: "admin"})
}

// code is the code of a domain error, "" for anything else.
func code(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

func TestLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := from("10.0.0.2")
	if _, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: "wrong"}); code(err) != "accounts.badCredentials" {
		t.Fatalf("wrong password: %v", err)
	}
	tok, err := f.svc.Login(ctx, accounts.LoginInput{Login: " owner@initech.test ", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Account.User.ID != f.owner.ID || tok.Account.Company != "Initech" || tok.ExpiresIn != 900 {
		t.Fatalf("tokens %+v", tok)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil || p.UserID != f.owner.ID || p.TenantID != f.tenant.ID || p.Role != "owner" {
		t.Fatalf("principal %+v %v", p, err)
	}
	next, err := f.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	// the spent token again: someone holds a copy, the session ends
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); code(err) != "accounts.refreshReused" {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+tok.AccessToken); code(err) != "accounts.sessionEnded" {
		t.Fatalf("access token of an ended session: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer nonsense"); code(err) != "accounts.tokenExpired" {
		t.Fatalf("bad token: %v", err)
	}
	tok, err = f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("logging out twice: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); code(err) != "accounts.sessionExpired" {
		t.Fatalf("refresh after logout: %v", err)
	}
}

func TestLoginThrottleSaysWhenToComeBack(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := from("10.0.0.3")
	var err error
	for range 5 {
		_, err = f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: "wrong"})
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != "accounts.tooManyFailedLogins" || e.Kind != apperr.TooManyRequests || e.Params["minutes"] != 15 ||
		e.Params["retryAfter"].(int) < 890 || !strings.Contains(e.Message, "15 min") {
		t.Fatalf("fifth wrong password: %#v", err)
	}
	// the lock holds for the right password too
	if _, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: ownerPassword}); code(err) != "accounts.tooManyFailedLogins" {
		t.Fatalf("while locked: %v", err)
	}
}

func TestBusyPasswordSlotsAreNotGuesses(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	release := f.svc.HoldPasswordSlots(2)
	for range 6 {
		_, err := f.svc.Login(from("10.0.0.4"), accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
		if !errors.Is(err, accounts.ErrBusy) {
			release()
			t.Fatalf("every slot taken: %v", err)
		}
	}
	release()
	if _, err := f.svc.Login(from("10.0.0.4"), accounts.LoginInput{Login: "initech-owner", Password: ownerPassword}); err != nil {
		t.Fatalf("the busy answers counted as guesses: %v", err)
	}
}

var mailedCode = regexp.MustCompile(`\b\d{6}\b`)

// New passwords are hashed in the password slots, as checks are: with
// every slot taken a new account and a reset are refused as busy (and the
// code stays usable), and a password change costs a check and a hash.
func TestNewPasswordsAreHashedInTheSlots(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := from("10.0.0.14")
	f.svc.SendResetCode(ctx, "initech-owner")
	mailed := mailedCode.FindString(f.mail.messages()[0].Text)
	release := f.svc.HoldPasswordSlots(2)
	_, err := f.svc.CreateCustomerUser(asAdmin(), f.tenant.ID, accounts.NewUser{Username: "dev", Role: "member"})
	busyCreate := errors.Is(err, accounts.ErrBusy)
	err = f.svc.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: "initech-owner", Code: mailed, NewPassword: "Brand-New-Passw0rd"})
	busyReset := errors.Is(err, accounts.ErrBusy)
	release()
	if !busyCreate || !busyReset {
		t.Fatalf("with every slot taken: new account busy %v, reset busy %v", busyCreate, busyReset)
	}
	var computed atomic.Int64
	f.svc.OnPasswordWork(func(compute func()) { computed.Add(1); compute() })
	if err := f.svc.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: "initech-owner", Code: mailed, NewPassword: "Brand-New-Passw0rd"}); err != nil {
		t.Fatalf("the code after a busy answer: %v", err)
	}
	tok, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: "Brand-New-Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	computed.Store(0)
	if _, err := f.svc.ChangePassword(caller.WithPrincipal(ctx, p), accounts.ChangePasswordInput{OldPassword: "Brand-New-Passw0rd",
		NewPassword: "Other-New-Passw0rd"}); err != nil {
		t.Fatal(err)
	}
	if n := computed.Load(); n != 2 {
		t.Fatalf("a password change computed %d argon2 in the slots, want 2 (the check and the hash)", n)
	}
}

func TestPasswordResetByTheWorkers(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	f.svc.Start()
	t.Cleanup(f.svc.Close)
	ctx := from("10.0.0.5")
	session, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.RequestReset(ctx, "initech-owner")
	if err != nil {
		t.Fatal(err)
	}
	if r.ResendAfter != time.Minute || r.DirectoryResetURL != "" {
		t.Fatalf("answer %+v", r)
	}
	if _, err := f.svc.RequestReset(ctx, "nobody"); err != nil { // the same answer; nothing is mailed
		t.Fatal(err)
	}
	f.mail.wait(t)
	got := f.mail.messages()
	if len(got) != 1 || got[0].To[0] != "owner@initech.test" {
		t.Fatalf("mailed %+v", got)
	}
	mailed := mailedCode.FindString(got[0].Text)
	wrong := "000000"
	if mailed == wrong {
		wrong = "111111"
	}
	err = f.svc.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: "initech-owner", Code: wrong, NewPassword: "Brand-New-Passw0rd"})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.wrongResetCode" || e.Params["left"] != 4 {
		t.Fatalf("wrong code: %#v", err)
	}
	err = f.svc.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: "initech-owner", Code: mailed, NewPassword: "short"})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.passwordTooShort" || e.Fields[0].Location != "body.newPassword" {
		t.Fatalf("weak password: %#v", err)
	}
	if err := f.svc.ConfirmReset(ctx, accounts.ConfirmResetInput{Account: "initech-owner", Code: mailed, NewPassword: "Brand-New-Passw0rd"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+session.AccessToken); code(err) != "accounts.sessionEnded" {
		t.Fatalf("a session outlived the reset: %v", err)
	}
	if _, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: "Brand-New-Passw0rd"}); err != nil {
		t.Fatal(err)
	}
}

// A request no worker would take is refused, the same for every account,
// instead of being answered as if a code were on its way.
func TestResetRequestsRefusedWhenNoWorkerTakesThem(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	// not started: nothing drains the queue, which takes resetQueue requests
	for i := range 32 {
		if _, err := f.svc.RequestReset(from("10.0.0.6"), fmt.Sprintf("nobody-%d", i)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, err := f.svc.RequestReset(from("10.0.0.6"), "initech-owner"); code(err) != "accounts.resetBusy" {
		t.Fatalf("a full queue answered %v", err)
	}
	f.svc.Close()
	if _, err := f.svc.RequestReset(from("10.0.0.6"), "initech-owner"); code(err) != "accounts.resetBusy" {
		t.Fatalf("a closed service answered %v", err)
	}
}

// An audited change does not happen when its record cannot be written.
func TestCustomerChangesNeedTheirAudit(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := context.Background()
	auditDown(t, f.st)
	if _, err := f.svc.CreateCustomer(asAdmin(), accounts.CreateCustomerInput{CustomerFields: accounts.CustomerFields{Name: "A", Company: "Acme"},
		Owner: accounts.NewUser{Username: "acme-owner"}}); err == nil {
		t.Fatal("created without its audit record")
	}
	if _, err := f.svc.SetCustomerStatus(asAdmin(), f.tenant.ID, false); err == nil {
		t.Fatal("disabled without its audit record")
	}
	_, n, err := f.st.ListTenants(ctx, store.TenantFilter{}, store.Page{})
	if err != nil || n != 1 {
		t.Fatalf("%d customers (%v)", n, err)
	}
	if t2, _ := f.st.GetTenant(ctx, f.tenant.ID); t2.Status != "active" {
		t.Fatalf("status %s", t2.Status)
	}
}

// auditDown makes every audit record fail to be written from now on.
func auditDown(t *testing.T, st *store.Store) {
	t.Helper()
	_, err := st.Pool.Exec(context.Background(), `CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
		CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_down();`)
	if err != nil {
		t.Fatal(err)
	}
}

// A reused refresh token ends its session only together with its audit
// record, and a reset code is issued (and mailed) only with its record.
func TestRefreshReuseAndResetCodeNeedTheirAudit(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := from("10.0.0.12")
	tok, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	auditDown(t, f.st)
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); err == nil || code(err) == "accounts.refreshReused" {
		t.Fatalf("reuse without its audit record: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+next.AccessToken); err != nil {
		t.Fatalf("the session ended without its audit record: %v", err)
	}
	f.svc.SendResetCode(ctx, "initech-owner")
	if got := f.mail.messages(); len(got) != 0 {
		t.Fatalf("mailed a code without its audit record: %+v", got)
	}
	var n int
	if err := f.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM password_resets`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d reset codes stored without their audit record (%v)", n, err)
	}
}

// Refreshing for an account that may not sign in is refused before the
// token is spent: once the customer is usable again the token still works.
func TestRefreshChecksTheAccountBeforeSpendingTheToken(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	ctx := from("10.0.0.13")
	tok, err := f.svc.Login(ctx, accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if err := f.st.SetTenantStatus(bg, f.tenant.ID, "disabled"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Refresh(ctx, tok.RefreshToken)
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.customerDisabled" || e.Kind != apperr.Unauthorized {
		t.Fatalf("refresh of a disabled customer: %#v", err)
	}
	if err := f.st.SetTenantStatus(bg, f.tenant.ID, "active"); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("the refused refresh spent the token: %v", err)
	}
	if next.Account.Company != "Initech" || next.Account.User.ID != f.owner.ID {
		t.Fatalf("account %+v", next.Account)
	}
}

func TestCustomerRules(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	admin := asAdmin()
	_, err := f.svc.CreateCustomer(admin, accounts.CreateCustomerInput{CustomerFields: accounts.CustomerFields{Name: "B", Company: "Initech"},
		Owner: accounts.NewUser{Username: "other-owner"}})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.companyTaken" || e.Fields[0].Location != "body.company" {
		t.Fatalf("same company: %#v", err)
	}
	_, err = f.svc.CreateCustomerUser(admin, f.tenant.ID, accounts.NewUser{Username: "dev", Password: "alllowercase", Role: "member"})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.passwordTooSimple" || e.Fields[0].Location != "body.password" {
		t.Fatalf("weak password: %#v", err)
	}
	created, err := f.svc.CreateCustomerUser(admin, f.tenant.ID, accounts.NewUser{Username: "dev", Role: "member"})
	if err != nil || created.InitialPassword == "" {
		t.Fatalf("member: %+v %v", created, err)
	}
	if _, err := f.svc.Login(from("10.0.0.7"), accounts.LoginInput{Login: "dev", Password: created.InitialPassword}); err != nil {
		t.Fatalf("the generated password: %v", err)
	}
	if _, err := f.svc.UpdateCustomerUser(admin, f.tenant.ID, "00000000-0000-0000-0000-000000000000",
		accounts.UpdateCustomerUserInput{Role: "member", Status: "active"}); code(err) != "accounts.userNotFound" {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := f.svc.SetCustomerStatus(admin, f.tenant.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(from("10.0.0.7"), accounts.LoginInput{Login: "dev", Password: created.InitialPassword}); code(err) != "accounts.customerDisabled" {
		t.Fatalf("login of a disabled customer: %v", err)
	}
	if err := f.svc.DeleteCustomer(admin, "00000000-0000-0000-0000-000000000000"); code(err) != "accounts.customerNotFound" {
		t.Fatalf("unknown customer: %v", err)
	}
	if err := f.svc.DeleteCustomer(admin, f.tenant.ID); err != nil {
		t.Fatal(err)
	}
}

func TestProfileAndSSHKeys(t *testing.T) {
	t.Parallel()
	f := newService(t, nil)
	tok, err := f.svc.Login(from("10.0.0.8"), accounts.LoginInput{Login: "initech-owner", Password: ownerPassword})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(context.Background(), "Bearer "+tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx := caller.WithPrincipal(from("10.0.0.8"), p)
	_, err = f.svc.UpdateProfile(ctx, accounts.UpdateProfileInput{Name: "Zhao", Email: "new@initech.test"})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.currentPasswordRequired" || e.Fields[0].Location != "body.currentPassword" {
		t.Fatalf("e-mail without the password: %#v", err)
	}
	_, err = f.svc.UpdateProfile(ctx, accounts.UpdateProfileInput{Name: "Zhao", Email: "new@initech.test", CurrentPassword: "wrong"})
	if code(err) != "accounts.wrongCurrentPassword" {
		t.Fatalf("wrong current password: %v", err)
	}
	a, err := f.svc.UpdateProfile(ctx, accounts.UpdateProfileInput{Name: " Zhao Liu ", Email: "new@initech.test", CurrentPassword: ownerPassword})
	if err != nil || a.User.Name != "Zhao Liu" || a.User.Email != "new@initech.test" {
		t.Fatalf("profile %+v %v", a, err)
	}
	if _, err := f.svc.ChangePassword(ctx, accounts.ChangePasswordInput{OldPassword: ownerPassword, NewPassword: ownerPassword}); code(err) != "accounts.samePassword" {
		t.Fatalf("same password: %v", err)
	}

	if _, err := f.svc.AddSSHKey(ctx, accounts.AddSSHKeyInput{Name: "bad", PublicKey: "ssh-rsa not-a-key"}); code(err) != "accounts.invalidSSHKey" {
		t.Fatalf("bad key: %v", err)
	}
	const pk = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGzWgVbNGLYyf1lo9dW6v9oJ8vS7VTbQ8eNcNRv2f9qj laptop"
	k, err := f.svc.AddSSHKey(ctx, accounts.AddSSHKeyInput{Name: " laptop ", PublicKey: pk})
	if err != nil || k.Name != "laptop" || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Fatalf("key %+v %v", k, err)
	}
	_, err = f.svc.AddSSHKey(ctx, accounts.AddSSHKeyInput{Name: "again", PublicKey: pk})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.duplicateSSHKey" || e.Params["fingerprint"] != k.Fingerprint {
		t.Fatalf("duplicate: %#v", err)
	}
	if err := f.svc.DeleteSSHKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteSSHKey(ctx, k.ID); code(err) != "accounts.sshKeyNotFound" {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, _, err := f.svc.Avatar(ctx); code(err) != "accounts.noAvatar" {
		t.Fatalf("no avatar: %v", err)
	}
}

func TestDirectoryLogins(t *testing.T) {
	t.Parallel()
	dir := testldap.Start(t)
	cfg := dir.Config()
	f := newService(t, &cfg)
	acme := &store.Tenant{Name: "Alice", Company: "Acme", Code: "acme", Status: "active"}
	if err := f.st.CreateTenant(context.Background(), acme); err != nil {
		t.Fatal(err)
	}
	ctx := from("10.0.0.9")
	tok, err := f.svc.Login(ctx, accounts.LoginInput{Login: testldap.Alice.Email, Password: testldap.AlicePassword})
	if err != nil {
		t.Fatal(err)
	}
	u := tok.Account.User
	if u.AuthSource != "ldap" || u.TenantID == nil || *u.TenantID != acme.ID || tok.Account.Company != "Acme" {
		t.Fatalf("provisioned %+v", u)
	}
	_, err = f.svc.Login(ctx, accounts.LoginInput{Login: "carol", Password: testldap.CarolPassword})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.directoryCustomerMissing" || e.Params["code"] != "globex" {
		t.Fatalf("carol: %#v", err)
	}
	if _, err := f.svc.Login(ctx, accounts.LoginInput{Login: "alice", Password: "wrong"}); code(err) != "accounts.badCredentials" {
		t.Fatalf("wrong directory password: %v", err)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ChangePassword(caller.WithPrincipal(ctx, p), accounts.ChangePasswordInput{OldPassword: testldap.AlicePassword, NewPassword: "X-Passw0rd-1"})
	if e, ok := apperr.As(err); !ok || e.Code != "accounts.passwordInDirectory" || e.Params["resetUrl"] != testldap.PasswordResetURL {
		t.Fatalf("directory password change: %#v", err)
	}
	dir.Stop()
	_, err = f.svc.Login(ctx, accounts.LoginInput{Login: "alice", Password: testldap.AlicePassword})
	if e, ok := apperr.As(err); !ok || e.Code != accounts.DirectoryUnavailableCode || e.Kind != apperr.Unavailable {
		t.Fatalf("directory down: %#v", err)
	}
}
