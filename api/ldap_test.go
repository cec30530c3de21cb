package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/testldap"
	"github.com/remotegpu/remotegpu/store"
)

func TestLDAPLogin(t *testing.T) {
	t.Parallel()
	dir := testldap.Start(t)
	cfg := dir.Config()
	cfg.PasswordResetURL = testldap.PasswordResetURL
	e := newEnv(t, options{ldap: &cfg})
	acme := &store.Tenant{Name: "Alice", Company: "Acme", Code: "acme", Status: "active"}
	if err := e.st.CreateTenant(context.Background(), acme); err != nil {
		t.Fatal(err)
	}

	// first login provisions the account: admin by group, owner of the tenant named by the o attribute
	var me api.Me
	e.loginWith("ldapadmin", testldap.AdminPassword).must(200, "GET", "/api/auth/me", nil).decode(t, &me)
	if me.Role != "admin" || me.AuthSource != "ldap" {
		t.Fatalf("ldap admin %+v", me)
	}
	alice := e.loginWith(testldap.Alice.Email, testldap.AlicePassword)
	alice.must(200, "GET", "/api/customer/profile", nil).decode(t, &me)
	if me.Role != "owner" || me.TenantID == nil || *me.TenantID != acme.ID || me.Username != "alice" {
		t.Fatalf("alice %+v", me)
	}
	// second login finds the record
	e.loginWith("alice", testldap.AlicePassword)
	e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "alice", "password": "wrong"})
	// a directory user whose customer is not set up is refused with a reason
	r := e.anon().must(403, "POST", "/api/auth/login", map[string]any{"username": "carol", "password": testldap.CarolPassword})
	if !strings.Contains(r.Message, "globex") {
		t.Fatalf("carol: %q", r.Message)
	}
	// directory users reset their password in the directory: every answer
	// names it (the same for every account), and no code is mailed
	r = e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "alice"})
	ghost := e.anon().must(200, "POST", "/api/auth/password-reset/request", map[string]any{"account": "nobody"})
	if !strings.Contains(string(r.Data), testldap.PasswordResetURL) || string(r.Data) != string(ghost.Data) {
		t.Fatalf("reset answer for alice %s, for nobody %s", r.Data, ghost.Data)
	}
	e.anon().must(400, "POST", "/api/auth/password-reset/confirm", map[string]any{"account": "alice", "code": "123456", "newPassword": "New-Passw0rd"})
	// the e-mail comes from the directory
	alice.must(400, "PUT", "/api/customer/profile", map[string]any{"name": "Alice", "email": "other@acme.test", "phone": "",
		"currentPassword": testldap.AlicePassword})
	alice.must(409, "POST", "/api/customer/profile/change-password", map[string]any{"oldPassword": testldap.AlicePassword, "newPassword": "New-Passw0rd"})

	var st api.PublicStatus
	e.anon().must(200, "GET", "/api/public/status", nil).decode(t, &st)
	if !st.LDAP.Enabled || !st.LDAP.Available || st.Maintenance {
		t.Fatalf("status up: %+v", st)
	}

	// the directory goes away: directory logins answer 503 with the maintenance
	// message, local accounts and the public announcements keep working
	dir.Stop()
	r = e.anon().must(503, "POST", "/api/auth/login", map[string]any{"username": "alice", "password": testldap.AlicePassword})
	if !strings.Contains(r.Message, "maintenance") {
		t.Fatalf("503 message %q", r.Message)
	}
	e.login("owner-a")
	e.anon().must(200, "GET", "/api/public/announcements", nil)
	var down api.PublicStatus
	// the probe is cached for 10 s; a fresh server sees the outage at once
	e2 := newEnv(t, options{ldap: &cfg})
	e2.anon().must(200, "GET", "/api/public/status", nil).decode(t, &down)
	if !down.Maintenance || down.LDAP.Available || down.Message == "" {
		t.Fatalf("status down: %+v", down)
	}
}

// The directory decides role and customer at every login: a user removed
// from a group, or moved to another customer, has the new rights at the
// next login and the old sessions end; one the directory gives no access
// is refused with the reason.
func TestLDAPRoleAndCustomerRecomputed(t *testing.T) {
	t.Parallel()
	dir := testldap.Start(t)
	cfg := dir.Config()
	e := newEnv(t, options{ldap: &cfg})
	ctx := context.Background()
	acme := &store.Tenant{Name: "Alice", Company: "Acme", Code: "acme", Status: "active"}
	globex := &store.Tenant{Name: "Carol", Company: "Globex", Code: "globex", Status: "active"}
	for _, tn := range []*store.Tenant{acme, globex} {
		if err := e.st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	me := func(s *session) api.Me {
		t.Helper()
		var m api.Me
		s.must(200, "GET", "/api/auth/me", nil).decode(t, &m)
		return m
	}
	tenantOf := func(m api.Me) string {
		if m.TenantID == nil {
			return ""
		}
		return *m.TenantID
	}

	// an admin taken out of the admin group (and put in acme) is a member of acme
	admin := e.loginWith("ldapadmin", testldap.AdminPassword)
	if m := me(admin); m.Role != "admin" {
		t.Fatalf("ldapadmin %+v", m)
	}
	dir.Modify(t, testldap.GroupAdminDN, func(m *ldap.ModifyRequest) { leaveGroup(m, testldap.Admin) })
	dir.Modify(t, testldap.Admin.DN(), func(m *ldap.ModifyRequest) { m.Add("o", []string{"acme"}) })
	demoted := e.loginWith("ldapadmin", testldap.AdminPassword)
	if m := me(demoted); m.Role != "member" || tenantOf(m) != acme.ID {
		t.Fatalf("ldapadmin after leaving the admin group: %+v", m)
	}
	admin.must(401, "GET", "/api/auth/me", nil) // the admin session ended with the rights
	admin.must(401, "GET", "/api/admin/customers", nil)

	// an owner taken out of the owners' group is a member
	alice := e.loginWith("alice", testldap.AlicePassword)
	if m := me(alice); m.Role != "owner" {
		t.Fatalf("alice %+v", m)
	}
	dir.Modify(t, testldap.GroupOwnerDN, func(m *ldap.ModifyRequest) { leaveGroup(m, testldap.Alice) })
	if m := me(e.loginWith("alice", testldap.AlicePassword)); m.Role != "member" || tenantOf(m) != acme.ID {
		t.Fatalf("alice after leaving the owners: %+v", m)
	}
	alice.must(401, "GET", "/api/auth/me", nil)

	// a member moved to another customer lands there; an unchanged login ends nothing
	bob := e.loginWith("bob", testldap.BobPassword)
	again := e.loginWith("bob", testldap.BobPassword)
	bob.must(200, "GET", "/api/auth/me", nil)
	dir.Modify(t, testldap.Bob.DN(), func(m *ldap.ModifyRequest) { m.Replace("o", []string{"globex"}) })
	if m := me(e.loginWith("bob", testldap.BobPassword)); m.Role != "member" || tenantOf(m) != globex.ID {
		t.Fatalf("bob after moving to globex: %+v", m)
	}
	bob.must(401, "GET", "/api/auth/me", nil)
	again.must(401, "GET", "/api/auth/me", nil)

	// no customer any more: refused with the reason, and the sessions end
	carol := e.loginWith("carol", testldap.CarolPassword)
	dir.Modify(t, testldap.Carol.DN(), func(m *ldap.ModifyRequest) { m.Delete("o", nil) })
	r := e.anon().must(403, "POST", "/api/auth/login", map[string]any{"username": "carol", "password": testldap.CarolPassword})
	if !strings.Contains(r.Message, "no RemoteGPU access") {
		t.Fatalf("carol without a customer: %q", r.Message)
	}
	carol.must(401, "GET", "/api/auth/me", nil)
	// a right password is not a failure: carol is refused, never locked
	for range 5 {
		e.anon().must(403, "POST", "/api/auth/login", map[string]any{"username": "carol", "password": testldap.CarolPassword})
	}

	var synced, refused int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success)
		FROM audit_logs WHERE action = 'user.ldap_sync'`).Scan(&synced, &refused)
	if synced != 3 || refused != 6 {
		t.Fatalf("user.ldap_sync audit rows: %d changes, %d refusals; want 3 and 6", synced, refused)
	}
}

// leaveGroup takes u out of a groupOfNames, which must keep a member.
func leaveGroup(m *ldap.ModifyRequest, u testldap.User) {
	m.Add("member", []string{"cn=placeholder," + testldap.GroupsDN})
	m.Delete("member", []string{u.DN()})
}
