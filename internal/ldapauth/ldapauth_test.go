package ldapauth_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/testldap"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	client := ldapauth.New(srv.Config())

	tests := []struct {
		name  string
		login string
		user  testldap.User
	}{
		{"admin by uid", "ldapadmin", testldap.Admin},
		{"owner by uid", "alice", testldap.Alice},
		{"owner by mail", "alice@acme.test", testldap.Alice},
		{"owner by employee number", "E1001", testldap.Alice},
		{"login is trimmed", "  alice  ", testldap.Alice},
		{"member by mail, non-ASCII name", "bob@acme.test", testldap.Bob},
		{"member by employee number", "E1002", testldap.Bob},
		{"member of a groupOfUniqueNames", "carol", testldap.Carol},
		{"owner through memberOf", "dave@globex.test", testldap.Dave},
		{"member without groups", "erin", testldap.Erin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := client.Authenticate(t.Context(), tt.login, tt.user.Password)
			if err != nil {
				t.Fatalf("Authenticate(%q): %v", tt.login, err)
			}
			checkIdentity(t, id, tt.user)
		})
	}
}

func checkIdentity(t *testing.T, id *ldapauth.Identity, u testldap.User) {
	t.Helper()
	type fields struct{ DN, Username, Email, Name, Phone, EmployeeID, TenantCode, Role string }
	want := fields{u.DN(), u.UID, u.Email, u.Name, u.Phone, u.EmployeeID, u.Tenant, u.Role}
	got := fields{id.DN, id.Username, id.Email, id.Name, id.Phone, id.EmployeeID, id.TenantCode, id.Role}
	if got != want {
		t.Errorf("identity\n got %+v\nwant %+v", got, want)
	}
	gotGroups := slices.Clone(id.Groups)
	slices.Sort(gotGroups)
	wantGroups := slices.Clone(u.Groups)
	slices.Sort(wantGroups)
	if !slices.Equal(gotGroups, wantGroups) {
		t.Errorf("groups = %q, want %q", gotGroups, wantGroups)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	client := ldapauth.New(srv.Config())

	tests := []struct {
		name         string
		login, pass  string
		wantNotFound bool
	}{
		{name: "wrong password", login: "alice", pass: "wrong-password"},
		{name: "another user's password", login: "alice", pass: testldap.BobPassword},
		{name: "empty password", login: "alice", pass: ""},
		{name: "empty login", login: "", pass: testldap.AlicePassword},
		{name: "unknown user", login: "nobody", pass: "whatever-1", wantNotFound: true},
		{name: "unknown mail", login: "nobody@acme.test", pass: testldap.AlicePassword, wantNotFound: true},
		{name: "login matching two entries", login: testldap.AmbiguousMail, pass: testldap.ErinPassword},
		{name: "wildcard is escaped", login: "*", pass: testldap.AlicePassword, wantNotFound: true},
		{name: "filter injection is escaped", login: "alice)(uid=*", pass: testldap.AlicePassword, wantNotFound: true},
		{name: "service account is not a user", login: "remotegpu-svc", pass: testldap.ServicePassword, wantNotFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := client.Authenticate(t.Context(), tt.login, tt.pass)
			if !errors.Is(err, ldapauth.ErrInvalidCredentials) {
				t.Fatalf("Authenticate = %+v, %v; want ErrInvalidCredentials", id, err)
			}
			if got := errors.Is(err, ldapauth.ErrUserNotFound); got != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrUserNotFound) = %v, want %v (err %v)", got, tt.wantNotFound, err)
			}
			if errors.Is(err, ldapauth.ErrUnavailable) {
				t.Errorf("err %v also matches ErrUnavailable", err)
			}
			if tt.pass != "" && strings.Contains(err.Error(), tt.pass) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// An empty password must be refused without talking to the directory: the
// URL here leads nowhere, so any network use would answer ErrUnavailable.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	t.Parallel()
	client := ldapauth.New(ldapauth.Config{URL: "ldap://127.0.0.1:1/", BaseDN: "dc=x", Timeout: time.Second})
	_, err := client.Authenticate(t.Context(), "alice", "")
	if !errors.Is(err, ldapauth.ErrInvalidCredentials) || errors.Is(err, ldapauth.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrInvalidCredentials only", err)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	client := ldapauth.New(srv.Config())

	for _, tt := range []struct {
		login string
		user  testldap.User
	}{
		{"alice@acme.test", testldap.Alice},
		{"E1000", testldap.Admin},
		{"dave", testldap.Dave},
	} {
		t.Run(tt.login, func(t *testing.T) {
			id, err := client.Lookup(t.Context(), tt.login)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.login, err)
			}
			checkIdentity(t, id, tt.user)
		})
	}
	for _, login := range []string{"nobody", "", testldap.AmbiguousMail, "*"} {
		t.Run("not found "+login, func(t *testing.T) {
			_, err := client.Lookup(t.Context(), login)
			if !errors.Is(err, ldapauth.ErrUserNotFound) {
				t.Fatalf("Lookup(%q) err = %v, want ErrUserNotFound", login, err)
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)

	t.Run("ping", func(t *testing.T) {
		if err := ldapauth.New(srv.Config()).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("wrong service password is unavailable, not invalid credentials", func(t *testing.T) {
		cfg := srv.Config()
		cfg.BindPassword = "wrong"
		client := ldapauth.New(cfg)
		if err := client.Ping(t.Context()); !errors.Is(err, ldapauth.ErrUnavailable) {
			t.Errorf("Ping err = %v, want ErrUnavailable", err)
		}
		_, err := client.Authenticate(t.Context(), "alice", testldap.AlicePassword)
		if !errors.Is(err, ldapauth.ErrUnavailable) || errors.Is(err, ldapauth.ErrInvalidCredentials) {
			t.Errorf("Authenticate err = %v, want ErrUnavailable only", err)
		}
	})
	t.Run("anonymous search", func(t *testing.T) {
		cfg := srv.Config()
		cfg.BindDN, cfg.BindPassword = "", ""
		id, err := ldapauth.New(cfg).Authenticate(t.Context(), "alice", testldap.AlicePassword)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		checkIdentity(t, id, testldap.Alice)
	})
	t.Run("custom attributes and filter", func(t *testing.T) {
		cfg := srv.Config()
		cfg.UserFilter = "(&(objectClass=inetOrgPerson)(telephoneNumber=%s))"
		cfg.AttrUsername = "employeeNumber"
		cfg.AttrTenant = "sn"
		cfg.GroupOwner = "cn=Customer-Owners, ou=Groups, dc=remotegpu, dc=test"
		id, err := ldapauth.New(cfg).Authenticate(t.Context(), testldap.Alice.Phone, testldap.AlicePassword)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if id.Username != "E1001" || id.TenantCode != "Zhang" || id.Role != ldapauth.RoleOwner {
			t.Errorf("identity = %+v", id)
		}
	})
	t.Run("wrong base DN", func(t *testing.T) {
		cfg := srv.Config()
		cfg.BaseDN = "dc=elsewhere,dc=test"
		_, err := ldapauth.New(cfg).Authenticate(t.Context(), "alice", testldap.AlicePassword)
		if !errors.Is(err, ldapauth.ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Parallel()

	t.Run("server stopped", func(t *testing.T) {
		t.Parallel()
		srv := testldap.Start(t)
		client := ldapauth.New(srv.Config())
		if err := client.Ping(t.Context()); err != nil {
			t.Fatalf("Ping before stop: %v", err)
		}
		srv.Stop()
		for name, call := range map[string]func(context.Context) error{
			"ping": client.Ping,
			"authenticate": func(ctx context.Context) error {
				_, err := client.Authenticate(ctx, "alice", testldap.AlicePassword)
				return err
			},
			"lookup": func(ctx context.Context) error { _, err := client.Lookup(ctx, "alice"); return err },
		} {
			start := time.Now()
			err := call(t.Context())
			if !errors.Is(err, ldapauth.ErrUnavailable) || errors.Is(err, ldapauth.ErrInvalidCredentials) {
				t.Errorf("%s err = %v, want ErrUnavailable", name, err)
			}
			if d := time.Since(start); d > srv.Config().Timeout {
				t.Errorf("%s took %s, more than the timeout", name, d)
			}
		}
	})

	// A server that accepts connections and never answers must not hold a
	// login longer than the timeout.
	t.Run("server silent", func(t *testing.T) {
		t.Parallel()
		addr := silentServer(t)
		client := ldapauth.New(ldapauth.Config{URL: "ldap://" + addr, BaseDN: "dc=x", BindDN: "cn=svc,dc=x", BindPassword: "x", Timeout: 300 * time.Millisecond})
		start := time.Now()
		_, err := client.Authenticate(t.Context(), "alice", "secret-1")
		if !errors.Is(err, ldapauth.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s with a 300ms timeout", d)
		}
	})

	t.Run("context cancelled", func(t *testing.T) {
		t.Parallel()
		addr := silentServer(t)
		client := ldapauth.New(ldapauth.Config{URL: "ldap://" + addr, BaseDN: "dc=x", Timeout: time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := client.Lookup(ctx, "alice")
		if !errors.Is(err, ldapauth.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want ErrUnavailable and context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s after cancel", d)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		err = ldapauth.New(ldapauth.Config{URL: "ldap://" + addr}).Ping(t.Context())
		if !errors.Is(err, ldapauth.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
	})
}

// silentServer accepts connections and reads without ever answering.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	c := ldapauth.New(ldapauth.Config{})
	if c.Enabled() {
		t.Fatal("Enabled() with no URL")
	}
	if _, err := c.Authenticate(t.Context(), "alice", "x"); !errors.Is(err, ldapauth.ErrDisabled) {
		t.Errorf("Authenticate err = %v, want ErrDisabled", err)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, ldapauth.ErrDisabled) {
		t.Errorf("Ping err = %v, want ErrDisabled", err)
	}
	if !ldapauth.New(ldapauth.Config{URL: "ldap://x"}).Enabled() {
		t.Error("Enabled() false with a URL")
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	err := ldapauth.New(ldapauth.Config{URL: "http://127.0.0.1:389"}).Ping(t.Context())
	if err == nil || errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("err = %v, want a configuration error", err)
	}
}

func TestPingAnonymous(t *testing.T) {
	t.Parallel()
	srv := testldap.Start(t)
	cfg := srv.Config()
	cfg.BindDN, cfg.BindPassword = "", ""
	if err := ldapauth.New(cfg).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// Something that accepts TCP but does not speak LDAP is not a directory.
	addr := silentServer(t)
	err := ldapauth.New(ldapauth.Config{URL: "ldap://" + addr, Timeout: 200 * time.Millisecond}).Ping(t.Context())
	if !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("Ping on a silent server = %v, want ErrUnavailable", err)
	}
}
