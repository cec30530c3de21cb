// Package testldap runs a real OpenLDAP slapd with a small seeded directory,
// for tests (Start) and for the dev stack (StartProcess).
//
// The directory (base dc=remotegpu,dc=test):
//
//	ou=people   ldapadmin (platform admin), alice (acme, owner), bob (acme,
//	            member, non-ASCII name), carol (globex, member of a
//	            groupOfUniqueNames), dave (globex, owner through a memberOf
//	            attribute only, like Active Directory), erin and frank (acme,
//	            both with mail AmbiguousMail)
//	ou=groups   platform-admins, customer-owners, acme-staff (groupOfNames),
//	            globex-staff (groupOfUniqueNames)
//	ou=services the read-only service account ServiceDN
//
// slapd needs the Debian packages slapd and ldap-utils.
package testldap

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
)

// Directory constants.
const (
	BaseDN       = "dc=remotegpu,dc=test"
	RootDN       = "cn=admin," + BaseDN
	RootPassword = "root-Secret-1"

	ServiceDN       = "cn=remotegpu-svc,ou=services," + BaseDN
	ServicePassword = "svc-Secret-1"

	PeopleDN = "ou=people," + BaseDN
	GroupsDN = "ou=groups," + BaseDN

	GroupAdminDN = "cn=platform-admins," + GroupsDN
	GroupOwnerDN = "cn=customer-owners," + GroupsDN
	// GroupOwnerCN is how Config names the owner group (by cn, to exercise
	// that form).
	GroupOwnerCN = "customer-owners"

	// PasswordResetURL is what Config puts in ldapauth.Config.
	PasswordResetURL = "https://directory.remotegpu.test/reset-password"

	// AmbiguousMail is the mail of both erin and frank: logging in with it
	// must fail.
	AmbiguousMail = "ops@acme.test"
)

// Passwords of the seeded users.
const (
	AdminPassword = "Admin-Passw0rd!"
	AlicePassword = "Alice-Passw0rd!"
	BobPassword   = "Bob-Passw0rd!"
	CarolPassword = "Carol-Passw0rd!"
	DavePassword  = "Dave-Passw0rd!"
	ErinPassword  = "Erin-Passw0rd!"
	FrankPassword = "Frank-Passw0rd!"
)

// NotInstalledMessage is the error when slapd is missing.
const NotInstalledMessage = "slapd not found: apt-get install -y slapd ldap-utils (make test installs it)"

// ErrNotInstalled is returned by StartProcess when slapd is missing.
var ErrNotInstalled = errors.New(NotInstalledMessage)

// User is a seeded directory user and what ldapauth should make of it.
type User struct {
	UID, Password, Name, Email, Phone, EmployeeID, Tenant string
	// Role is what ldapauth maps the user to with Server.Config.
	Role string
	// Groups are the DNs of the user's groups.
	Groups []string
	// MemberOf: the groups are written as memberOf values on the user
	// (as Active Directory does) instead of as member values on the groups.
	MemberOf bool
}

// DN is the user's entry.
func (u User) DN() string { return "uid=" + u.UID + "," + PeopleDN }

// The seeded users.
var (
	Admin = User{UID: "ldapadmin", Password: AdminPassword, Name: "Platform Admin", Email: "ldapadmin@remotegpu.test",
		Phone: "+86 10 5555 0100", EmployeeID: "E1000", Role: ldapauth.RoleAdmin, Groups: []string{GroupAdminDN}}
	Alice = User{UID: "alice", Password: AlicePassword, Name: "Alice Zhang", Email: "alice@acme.test",
		Phone: "+86 21 5555 0101", EmployeeID: "E1001", Tenant: "acme", Role: ldapauth.RoleOwner, Groups: []string{GroupOwnerDN}}
	Bob = User{UID: "bob", Password: BobPassword, Name: "王小明 Bob", Email: "bob@acme.test",
		Phone: "+86 21 5555 0102", EmployeeID: "E1002", Tenant: "acme", Role: ldapauth.RoleMember, Groups: []string{"cn=acme-staff," + GroupsDN}}
	Carol = User{UID: "carol", Password: CarolPassword, Name: "Carol Li", Email: "carol@globex.test",
		Phone: "+86 755 5555 0201", EmployeeID: "E2001", Tenant: "globex", Role: ldapauth.RoleMember, Groups: []string{"cn=globex-staff," + GroupsDN}}
	Dave = User{UID: "dave", Password: DavePassword, Name: "Dave Chen", Email: "dave@globex.test",
		Phone: "+86 755 5555 0202", EmployeeID: "E2002", Tenant: "globex", Role: ldapauth.RoleOwner, Groups: []string{GroupOwnerDN}, MemberOf: true}
	Erin = User{UID: "erin", Password: ErinPassword, Name: "Erin Wu", Email: AmbiguousMail,
		EmployeeID: "E1003", Tenant: "acme", Role: ldapauth.RoleMember}
	Frank = User{UID: "frank", Password: FrankPassword, Name: "Frank Zhou", Email: AmbiguousMail,
		EmployeeID: "E1004", Tenant: "acme", Role: ldapauth.RoleMember}

	Users = []User{Admin, Alice, Bob, Carol, Dave, Erin, Frank}
)

// groups: DN → object class; every group gets its members from Users.
var groups = []struct{ dn, class string }{
	{GroupAdminDN, "groupOfNames"},
	{GroupOwnerDN, "groupOfNames"},
	{"cn=acme-staff," + GroupsDN, "groupOfNames"},
	{"cn=globex-staff," + GroupsDN, "groupOfUniqueNames"},
}

// Server is a running slapd.
type Server struct {
	URL          string // ldap://127.0.0.1:<port>/
	Host         string
	Port         int
	BaseDN       string
	BindDN       string // the read-only service account
	BindPassword string
	RootDN       string // the directory manager, for ldapadd/ldapmodify
	RootPassword string
	Dir          string // configuration, database and slapd.log

	cmd      *exec.Cmd
	marker   string // description in the root DSE, unique per start
	done     chan struct{}
	stopOnce sync.Once
}

// Config is an ldapauth configuration for this server: service account,
// default filter and attributes, platform-admins → admin, customer-owners
// (by cn) → owner, a 3 s timeout.
func (s *Server) Config() ldapauth.Config {
	return ldapauth.Config{
		URL:              s.URL,
		BindDN:           s.BindDN,
		BindPassword:     s.BindPassword,
		BaseDN:           s.BaseDN,
		UserFilter:       ldapauth.DefaultUserFilter,
		GroupAdmin:       GroupAdminDN,
		GroupOwner:       GroupOwnerCN,
		PasswordResetURL: PasswordResetURL,
		Timeout:          3 * time.Second,
	}
}

// Start runs a seeded slapd on a free port in t.TempDir() and stops it when
// the test ends. It fails the test when slapd is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := lookTool("slapd"); err != nil {
		t.Fatal(NotInstalledMessage)
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testldap: unable to find a free port: %v", err)
		}
		dir := filepath.Join(t.TempDir(), "ldap")
		s, err := StartProcess(dir, port)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
		if !errors.Is(err, errExited) && !errors.Is(err, errPortBusy) {
			break
		}
		// Another process may have taken the port; try a new one.
	}
	t.Fatalf("testldap: %v", lastErr)
	return nil
}

var (
	errExited   = errors.New("slapd exited")
	errPortBusy = errors.New("port is not free")
)

// StartProcess runs slapd in the foreground on 127.0.0.1:port with its
// configuration, database and log under dir (created if needed). The
// database is seeded with slapadd when it does not exist yet, so a dev stack
// keeps what was added later. Port 0 picks a free port. The caller must
// call Stop; slapd is also killed when the calling process dies (Linux).
func StartProcess(dir string, port int) (*Server, error) {
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("unable to find a free port: %w", err)
		}
		port = p
	}
	slapd, err := lookTool("slapd")
	if err != nil {
		return nil, err
	}
	slapadd, err := lookTool("slapadd")
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to resolve %s: %w", dir, err)
	}
	dbDir := filepath.Join(dir, "db")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", dbDir, err)
	}
	s := &Server{
		Host:         "127.0.0.1",
		Port:         port,
		BaseDN:       BaseDN,
		BindDN:       ServiceDN,
		BindPassword: ServicePassword,
		RootDN:       RootDN,
		RootPassword: RootPassword,
		Dir:          dir,
		done:         make(chan struct{}),
	}
	s.URL = fmt.Sprintf("ldap://%s:%d/", s.Host, port)

	// A port someone else serves would make the readiness check below talk
	// to the wrong server; the marker in the root DSE catches races too.
	l, err := net.Listen("tcp", net.JoinHostPort(s.Host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%w: %d: %w", errPortBusy, port, err)
	}
	l.Close()
	s.marker = "testldap " + strconv.Itoa(os.Getpid()) + " " + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.WriteFile(filepath.Join(dir, "rootdse.ldif"), []byte("dn:\ndescription: "+s.marker+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("unable to write rootdse.ldif: %w", err)
	}

	conf := filepath.Join(dir, "slapd.conf")
	rootHash, err := hashPassword(RootPassword)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte(slapdConf(dir, rootHash)), 0o600); err != nil {
		return nil, fmt.Errorf("unable to write slapd.conf: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dbDir, "data.mdb")); errors.Is(err, os.ErrNotExist) {
		ldif, err := seedLDIF()
		if err != nil {
			return nil, err
		}
		seed := filepath.Join(dir, "seed.ldif")
		if err := os.WriteFile(seed, []byte(ldif), 0o600); err != nil {
			return nil, fmt.Errorf("unable to write seed.ldif: %w", err)
		}
		if out, err := exec.Command(slapadd, "-q", "-f", conf, "-l", seed).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("unable to seed the directory with slapadd: %w: %s", err, bytes.TrimSpace(out))
		}
	}

	logPath := filepath.Join(dir, "slapd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("unable to create slapd.log: %w", err)
	}
	defer logFile.Close()
	// -d 0 keeps slapd in the foreground (so it is our child and dies with
	// us) without debug output.
	cmd := exec.Command(slapd, "-f", conf, "-h", s.URL, "-d", "0")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = dir
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("unable to start slapd: %w", err)
	}
	s.cmd = cmd
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(s.done)
	}()

	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		select {
		case <-s.done:
			if errors.Is(err, errExited) {
				err = fmt.Errorf("%w (%v)", err, waitErr)
			}
		default:
		}
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; slapd.log: %s", err, bytes.TrimSpace(log))
	}
	return s, nil
}

// waitReady waits until this slapd (recognised by the marker in its root
// DSE) answers and the service account can bind.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("slapd on %s not ready after %s: %w", s.URL, limit, err)
		case <-tick.C:
		}
	}
}

func (s *Server) ping() error {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetTimeout(time.Second)
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 1, false,
		"(objectClass=*)", []string{"description"}, nil))
	if err != nil {
		return err
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("description") != s.marker {
		return fmt.Errorf("another server answers on %s", s.URL)
	}
	return conn.Bind(s.BindDN, s.BindPassword)
}

// Stop terminates slapd and waits for it. It may be called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Modify changes an entry as the directory manager (an admin editing the
// directory: group membership, attributes), failing the test on error.
func (s *Server) Modify(t testing.TB, dn string, edit func(*ldap.ModifyRequest)) {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		t.Fatalf("testldap: dial: %v", err)
	}
	defer conn.Close()
	if err := conn.Bind(s.RootDN, s.RootPassword); err != nil {
		t.Fatalf("testldap: root bind: %v", err)
	}
	req := ldap.NewModifyRequest(dn, nil)
	edit(req)
	if err := conn.Modify(req); err != nil {
		t.Fatalf("testldap: modify %s: %v", dn, err)
	}
}

// Done is closed when slapd has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/libexec", "/usr/libexec"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (%s missing)", ErrNotInstalled, name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// hashPassword returns the {SSHA} hash slappasswd makes of pw.
func hashPassword(pw string) (string, error) {
	slappasswd, err := lookTool("slappasswd")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(slappasswd, "-s", pw).Output()
	if err != nil {
		return "", fmt.Errorf("unable to hash a password with slappasswd: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func slapdConf(dir, rootHash string) string {
	return `# written by internal/testldap
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema

modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof

rootDSE ` + filepath.Join(dir, "rootdse.ldif") + `
pidfile ` + filepath.Join(dir, "slapd.pid") + `
argsfile ` + filepath.Join(dir, "slapd.args") + `

database mdb
maxsize 104857600
suffix "` + BaseDN + `"
rootdn "` + RootDN + `"
rootpw ` + rootHash + `
directory ` + filepath.Join(dir, "db") + `
index objectClass eq
index uid,mail,employeeNumber,member,uniqueMember,memberUid eq

# memberOf is kept up to date for groups changed over LDAP; the seed writes
# it directly for dave only.
overlay memberof

access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
`
}

// seedLDIF builds the seed from Users and groups, hashing passwords with
// slappasswd.
func seedLDIF() (string, error) {
	var b strings.Builder
	entry := func(dn string, attrs ...string) {
		b.WriteString(ldifLine("dn", dn))
		for i := 0; i+1 < len(attrs); i += 2 {
			if attrs[i+1] != "" {
				b.WriteString(ldifLine(attrs[i], attrs[i+1]))
			}
		}
		b.WriteString("\n")
	}
	svcHash, err := hashPassword(ServicePassword)
	if err != nil {
		return "", err
	}
	entry(BaseDN, "objectClass", "dcObject", "objectClass", "organization", "dc", "remotegpu", "o", "RemoteGPU Test")
	entry(PeopleDN, "objectClass", "organizationalUnit", "ou", "people")
	entry(GroupsDN, "objectClass", "organizationalUnit", "ou", "groups")
	entry("ou=services,"+BaseDN, "objectClass", "organizationalUnit", "ou", "services")
	entry(ServiceDN, "objectClass", "organizationalRole", "objectClass", "simpleSecurityObject",
		"cn", "remotegpu-svc", "userPassword", svcHash, "description", "read-only service account for RemoteGPU")

	for _, u := range Users {
		h, err := hashPassword(u.Password)
		if err != nil {
			return "", err
		}
		sn := u.Name
		if i := strings.LastIndex(sn, " "); i >= 0 {
			sn = sn[i+1:]
		}
		attrs := []string{"objectClass", "inetOrgPerson", "uid", u.UID, "cn", u.Name, "sn", sn,
			"mail", u.Email, "telephoneNumber", u.Phone, "employeeNumber", u.EmployeeID, "o", u.Tenant,
			"userPassword", h}
		if u.MemberOf {
			for _, g := range u.Groups {
				attrs = append(attrs, "memberOf", g)
			}
		}
		entry(u.DN(), attrs...)
	}
	for _, g := range groups {
		cn := strings.TrimPrefix(strings.SplitN(g.dn, ",", 2)[0], "cn=")
		attrs := []string{"objectClass", g.class, "cn", cn}
		memberAttr := "member"
		if g.class == "groupOfUniqueNames" {
			memberAttr = "uniqueMember"
		}
		for _, u := range Users {
			if u.MemberOf {
				continue
			}
			for _, ug := range u.Groups {
				if ug == g.dn {
					attrs = append(attrs, memberAttr, u.DN())
				}
			}
		}
		if len(attrs) == 4 {
			return "", fmt.Errorf("testldap: group %s has no members", g.dn)
		}
		entry(g.dn, attrs...)
	}
	return b.String(), nil
}

// ldifLine writes one attribute, base64-encoding values that are not safe
// LDIF strings (non-ASCII, leading space, colon or '<').
func ldifLine(attr, value string) string {
	safe := value == "" || (value[0] != ' ' && value[0] != ':' && value[0] != '<' && value[len(value)-1] != ' ')
	for i := 0; safe && i < len(value); i++ {
		if c := value[i]; c >= 0x80 || c == '\n' || c == '\r' || c == 0 {
			safe = false
		}
	}
	if safe {
		return attr + ": " + value + "\n"
	}
	return attr + ":: " + base64.StdEncoding.EncodeToString([]byte(value)) + "\n"
}

// String describes the server (for logs).
func (s *Server) String() string { return s.URL + " (" + s.BaseDN + ")" }
