package testldap_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/testldap"
)

func TestStartSeedsAndStops(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	client := ldapauth.New(srv.Config())
	for _, u := range testldap.Users {
		if u.Email == testldap.AmbiguousMail {
			continue
		}
		id, err := client.Authenticate(t.Context(), u.Email, u.Password)
		if err != nil {
			t.Errorf("%s: %v", u.UID, err)
			continue
		}
		if id.Role != u.Role || id.Username != u.UID || id.TenantCode != u.Tenant {
			t.Errorf("%s: identity %+v", u.UID, id)
		}
	}

	srv.Stop()
	srv.Stop() // idempotent
	select {
	case <-srv.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after Stop")
	}
	if err := client.Ping(t.Context()); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("Ping after Stop = %v, want ErrUnavailable", err)
	}
}

// StartProcess keeps the database of an existing dir, so entries added over
// LDAP survive a restart (what the dev stack needs).
func TestStartProcessKeepsData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ldap")
	srv, err := testldap.StartProcess(dir, 0)
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	t.Cleanup(srv.Stop)
	port := srv.Port

	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Bind(srv.RootDN, srv.RootPassword); err != nil {
		t.Fatalf("root bind: %v", err)
	}
	add := ldap.NewAddRequest("uid=zoe,"+testldap.PeopleDN, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{"zoe"})
	add.Attribute("cn", []string{"Zoe"})
	add.Attribute("sn", []string{"Zoe"})
	add.Attribute("o", []string{"initech"})
	add.Attribute("userPassword", []string{"Zoe-Passw0rd!"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add: %v", err)
	}
	// The memberof overlay maintains memberOf for groups changed over LDAP.
	mod := ldap.NewModifyRequest(testldap.GroupAdminDN, nil)
	mod.Add("member", []string{"uid=zoe," + testldap.PeopleDN})
	if err := conn.Modify(mod); err != nil {
		t.Fatalf("modify: %v", err)
	}
	conn.Close()
	srv.Stop()

	srv2, err := testldap.StartProcess(dir, port)
	if err != nil {
		t.Fatalf("StartProcess again: %v", err)
	}
	t.Cleanup(srv2.Stop)
	id, err := ldapauth.New(srv2.Config()).Authenticate(t.Context(), "zoe", "Zoe-Passw0rd!")
	if err != nil {
		t.Fatalf("Authenticate zoe after restart: %v", err)
	}
	if id.TenantCode != "initech" || id.Role != ldapauth.RoleAdmin {
		t.Errorf("zoe = %+v", id)
	}
}

func TestStartProcessPortInUse(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	_, err := testldap.StartProcess(filepath.Join(t.TempDir(), "ldap"), srv.Port)
	if err == nil {
		t.Fatal("StartProcess on a busy port succeeded")
	}
}
