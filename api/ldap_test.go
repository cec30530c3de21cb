package api_test

import (
	"context"
	"strings"
	"testing"

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
	if err := store.CreateTenant(context.Background(), e.st.Pool, acme); err != nil {
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
	// directory users reset their password in the directory
	r = e.anon().must(409, "POST", "/api/auth/password-reset/request", map[string]any{"account": "alice"})
	if !strings.Contains(string(r.Data), testldap.PasswordResetURL) {
		t.Fatalf("reset refusal without URL: %s", r.Data)
	}
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
