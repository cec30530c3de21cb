// Package ldapauth authenticates users against an LDAP directory or Active
// Directory and maps what it finds to a RemoteGPU identity: user name,
// contact data, tenant code and role.
//
// Every call opens its own connection, binds with the service account,
// searches the user and closes the connection again; a Client is safe for
// concurrent use. Passwords are never logged and never appear in errors.
package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Roles an Identity can have.
const (
	RoleAdmin  = "admin"
	RoleOwner  = "owner"
	RoleMember = "member"
)

// DefaultUserFilter finds an inetOrgPerson by uid, mail or employee number.
// %[1]s is replaced by the escaped login.
const DefaultUserFilter = "(&(objectClass=inetOrgPerson)(|(uid=%[1]s)(mail=%[1]s)(employeeNumber=%[1]s)))"

// DefaultTimeout bounds the dial and every directory operation of one call.
const DefaultTimeout = 5 * time.Second

var (
	// ErrInvalidCredentials: the password is wrong, empty, or the login does
	// not name exactly one directory entry. Authenticate returns it for an
	// unknown login as well, so a caller cannot tell the cases apart by
	// mistake (see Authenticate).
	ErrInvalidCredentials = errors.New("ldap: invalid credentials")
	// ErrUserNotFound: no directory entry matches the login. Lookup returns
	// it alone; Authenticate returns it only together with
	// ErrInvalidCredentials.
	ErrUserNotFound = errors.New("ldap: user not found")
	// ErrUnavailable: the directory cannot be used right now: it cannot be
	// reached, it timed out, it is busy, or it rejected the service account.
	// The cause is wrapped.
	ErrUnavailable = errors.New("ldap: directory unavailable")
	// ErrDisabled: the client has no URL configured.
	ErrDisabled = errors.New("ldap: not configured")
)

// Config describes the directory. The zero value is a disabled client.
type Config struct {
	// URL is ldap://host[:389] or ldaps://host[:636]; empty disables LDAP.
	URL string
	// StartTLS upgrades an ldap:// connection with StartTLS before binding.
	StartTLS bool
	// TLSInsecureSkipVerify skips certificate verification for ldaps:// and
	// StartTLS. For tests and labs only.
	TLSInsecureSkipVerify bool

	// BindDN and BindPassword are the service account used to search. When
	// BindDN is empty the search is anonymous.
	BindDN, BindPassword string
	// BaseDN is where users and groups are searched (whole subtree).
	BaseDN string
	// UserFilter finds the user; %[1]s (or %s) is the login, escaped with
	// ldap.EscapeFilter. Default DefaultUserFilter. For Active Directory, e.g.
	// "(&(objectClass=user)(|(sAMAccountName=%[1]s)(userPrincipalName=%[1]s)(mail=%[1]s)))".
	UserFilter string

	// Attribute names; defaults uid, mail, cn, telephoneNumber,
	// employeeNumber, o.
	AttrUsername, AttrEmail, AttrName, AttrPhone, AttrEmployeeID, AttrTenant string

	// GroupAdmin and GroupOwner name the groups that map to the roles admin
	// and owner, either by full DN ("cn=platform-admins,ou=groups,dc=…") or
	// by cn ("platform-admins"), compared case-insensitively. Several groups
	// may be given separated by ";". Anyone in neither is a member; admin
	// wins over owner.
	GroupAdmin, GroupOwner string

	// PasswordResetURL is the directory's own password reset page; LDAP
	// users change their password there, not in RemoteGPU.
	PasswordResetURL string

	// Timeout bounds one whole call (dial and all operations). Default 5s.
	Timeout time.Duration
}

// Identity is what the directory says about an authenticated user.
type Identity struct {
	DN         string
	Username   string
	Email      string
	Name       string
	Phone      string
	EmployeeID string
	TenantCode string
	// Groups are the DNs of the groups the user is a direct member of.
	Groups []string
	// Role is RoleAdmin, RoleOwner or RoleMember.
	Role string
}

// Client talks to one directory.
type Client struct {
	cfg Config
}

// New returns a client for cfg with defaults filled in.
func New(cfg Config) *Client {
	def := func(s *string, v string) {
		if strings.TrimSpace(*s) == "" {
			*s = v
		}
	}
	def(&cfg.UserFilter, DefaultUserFilter)
	def(&cfg.AttrUsername, "uid")
	def(&cfg.AttrEmail, "mail")
	def(&cfg.AttrName, "cn")
	def(&cfg.AttrPhone, "telephoneNumber")
	def(&cfg.AttrEmployeeID, "employeeNumber")
	def(&cfg.AttrTenant, "o")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.URL = strings.TrimSpace(cfg.URL)
	return &Client{cfg: cfg}
}

// Enabled reports whether a directory URL is configured.
func (c *Client) Enabled() bool { return c != nil && c.cfg.URL != "" }

// PasswordResetURL returns the directory's own password reset page, if any.
func (c *Client) PasswordResetURL() string { return c.cfg.PasswordResetURL }

// Authenticate checks login (uid, mail or employee number with the default
// filter) and password against the directory and returns the identity.
//
// Errors:
//   - ErrInvalidCredentials for a wrong or empty password, an unknown login
//     and a login that matches several entries. For an unknown login the
//     error also matches ErrUserNotFound (for the audit log); callers that
//     answer a user must test ErrInvalidCredentials first and say the same
//     thing in both cases.
//   - ErrUnavailable when the directory cannot be reached, times out or
//     rejects the service account.
//
// An empty password is refused before anything is sent: a simple bind with
// an empty password would be an unauthenticated bind and succeed.
func (c *Client) Authenticate(ctx context.Context, login, password string) (*Identity, error) {
	if !c.Enabled() {
		return nil, ErrDisabled
	}
	login = strings.TrimSpace(login)
	if login == "" || password == "" {
		return nil, fmt.Errorf("%w: empty login or password", ErrInvalidCredentials)
	}
	var id *Identity
	err := c.withConn(ctx, func(s *session) error {
		if err := s.serviceBind(); err != nil {
			return err
		}
		entry, err := s.findUser(login)
		if err != nil {
			if errors.Is(err, ErrUserNotFound) {
				return fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
			}
			if errors.Is(err, errAmbiguous) {
				return fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
			}
			return err
		}
		if err := s.conn.Bind(entry.DN, password); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				return fmt.Errorf("%w: bind as %s rejected", ErrInvalidCredentials, entry.DN)
			}
			return s.classify("unable to bind as user", err)
		}
		// Read groups as the service account again, so the user's own ACLs
		// do not matter.
		if c.cfg.BindDN != "" {
			if err := s.serviceBind(); err != nil {
				return err
			}
		}
		id, err = s.identity(entry)
		return err
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// Lookup finds the user named by login without a password, to tell whether
// a login belongs to the directory (for example before a password reset,
// which LDAP users must do at PasswordResetURL). It returns ErrUserNotFound
// when no entry matches (or several do), ErrUnavailable as Authenticate.
func (c *Client) Lookup(ctx context.Context, login string) (*Identity, error) {
	if !c.Enabled() {
		return nil, ErrDisabled
	}
	login = strings.TrimSpace(login)
	if login == "" {
		return nil, ErrUserNotFound
	}
	var id *Identity
	err := c.withConn(ctx, func(s *session) error {
		if err := s.serviceBind(); err != nil {
			return err
		}
		entry, err := s.findUser(login)
		if err != nil {
			if errors.Is(err, errAmbiguous) {
				return fmt.Errorf("%w: %w", ErrUserNotFound, err)
			}
			return err
		}
		id, err = s.identity(entry)
		return err
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// Ping connects and binds with the service account, or reads the root DSE
// anonymously when no BindDN is configured. It returns ErrUnavailable when
// the directory cannot be reached or rejects the service account.
func (c *Client) Ping(ctx context.Context) error {
	if !c.Enabled() {
		return ErrDisabled
	}
	return c.withConn(ctx, func(s *session) error {
		if c.cfg.BindDN != "" {
			return s.serviceBind()
		}
		req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil)
		if _, err := s.conn.Search(req); err != nil {
			return s.classify("unable to read the root DSE", err)
		}
		return nil
	})
}

var errAmbiguous = errors.New("login matches several directory entries")

type session struct {
	c    *Client
	ctx  context.Context
	conn *ldap.Conn
}

// withConn dials, runs fn and closes. The whole call is bounded by
// cfg.Timeout and by ctx; cancelling ctx closes the connection at once.
func (c *Client) withConn(ctx context.Context, fn func(*session) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return fmt.Errorf("unable to parse LDAP URL: %w", err)
	}
	host := u.Hostname()
	port := u.Port()
	var useTLS bool
	switch strings.ToLower(u.Scheme) {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		useTLS = true
		if port == "" {
			port = "636"
		}
	default:
		return fmt.Errorf("unable to use LDAP URL %q: scheme must be ldap or ldaps", c.cfg.URL)
	}
	addr := net.JoinHostPort(host, port)
	tlsConfig := &tls.Config{ServerName: host, InsecureSkipVerify: c.cfg.TLSInsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for labs

	var nc net.Conn
	if useTLS {
		d := &tls.Dialer{Config: tlsConfig}
		nc, err = d.DialContext(ctx, "tcp", addr)
	} else {
		d := &net.Dialer{}
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return unavailable(ctx, "unable to connect to "+addr, err)
	}
	// The context closes the connection when it ends (deadline or cancel);
	// the socket deadline, a little later, is only a safety net.
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline.Add(time.Second))
	conn := ldap.NewConn(nc, useTLS)
	conn.SetTimeout(time.Until(deadline))
	conn.Start()
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()

	s := &session{c: c, ctx: ctx, conn: conn}
	if c.cfg.StartTLS && !useTLS {
		if err := conn.StartTLS(tlsConfig); err != nil {
			return s.classify("unable to start TLS", err)
		}
	}
	return fn(s)
}

// unavailable wraps err as ErrUnavailable, naming the context's error when
// the context ended.
func unavailable(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %s: %w (%w)", ErrUnavailable, what, cerr, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// classify maps a go-ldap error. Result codes the server sent (and errors
// in our own filter) are returned wrapped as they are, except busy,
// unavailable and time limits; anything else (network errors, timeouts,
// closed connections, protocol garbage) becomes ErrUnavailable.
func (s *session) classify(what string, err error) error {
	var le *ldap.Error
	if s.ctx.Err() == nil && errors.As(err, &le) &&
		(le.ResultCode < ldap.ErrorNetwork || le.ResultCode == ldap.ErrorFilterCompile || le.ResultCode == ldap.ErrorFilterDecompile) &&
		!ldap.IsErrorAnyOf(err,
			ldap.LDAPResultBusy,
			ldap.LDAPResultUnavailable,
			ldap.LDAPResultTimeLimitExceeded,
			ldap.LDAPResultAdminLimitExceeded,
			ldap.LDAPResultServerDown,
			ldap.LDAPResultTimeout,
			ldap.LDAPResultConnectError) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return unavailable(s.ctx, what, err)
}

func (s *session) serviceBind() error {
	cfg := s.c.cfg
	if cfg.BindDN == "" {
		return nil
	}
	if err := s.conn.Bind(cfg.BindDN, cfg.BindPassword); err != nil {
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.ErrorEmptyPassword) {
			// A misconfigured service account makes the directory unusable;
			// it must never look like a user's wrong password.
			return fmt.Errorf("%w: service account %s rejected: %w", ErrUnavailable, cfg.BindDN, err)
		}
		return s.classify("unable to bind as service account", err)
	}
	return nil
}

func (s *session) userFilter(login string) string {
	f := s.c.cfg.UserFilter
	esc := ldap.EscapeFilter(login)
	if strings.Contains(f, "%[1]s") {
		return fmt.Sprintf(f, esc)
	}
	return strings.ReplaceAll(f, "%s", esc)
}

func (s *session) findUser(login string) (*ldap.Entry, error) {
	cfg := s.c.cfg
	attrs := []string{cfg.AttrUsername, cfg.AttrEmail, cfg.AttrName, cfg.AttrPhone, cfg.AttrEmployeeID, cfg.AttrTenant, "memberOf"}
	req := ldap.NewSearchRequest(cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(s.c.cfg.Timeout/time.Second), false, s.userFilter(login), attrs, nil)
	res, err := s.conn.Search(req)
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return nil, errAmbiguous
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("%w: base DN %s does not exist", ErrUserNotFound, cfg.BaseDN)
		}
		return nil, s.classify("unable to search user", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, ErrUserNotFound
	case 1:
		return res.Entries[0], nil
	default:
		return nil, errAmbiguous
	}
}

func (s *session) identity(e *ldap.Entry) (*Identity, error) {
	cfg := s.c.cfg
	id := &Identity{
		DN:         e.DN,
		Username:   e.GetEqualFoldAttributeValue(cfg.AttrUsername),
		Email:      e.GetEqualFoldAttributeValue(cfg.AttrEmail),
		Name:       e.GetEqualFoldAttributeValue(cfg.AttrName),
		Phone:      e.GetEqualFoldAttributeValue(cfg.AttrPhone),
		EmployeeID: e.GetEqualFoldAttributeValue(cfg.AttrEmployeeID),
		TenantCode: e.GetEqualFoldAttributeValue(cfg.AttrTenant),
		Groups:     e.GetEqualFoldAttributeValues("memberOf"),
	}
	if len(id.Groups) == 0 {
		groups, err := s.groupsOf(e.DN, id.Username)
		if err != nil {
			return nil, err
		}
		id.Groups = groups
	}
	id.Role = roleFor(id.Groups, cfg.GroupAdmin, cfg.GroupOwner)
	return id, nil
}

// groupsOf searches groupOfNames, groupOfUniqueNames and posixGroup entries
// that list the user.
func (s *session) groupsOf(dn, username string) ([]string, error) {
	edn := ldap.EscapeFilter(dn)
	filter := "(|(&(objectClass=groupOfNames)(member=" + edn + "))(&(objectClass=groupOfUniqueNames)(uniqueMember=" + edn + "))"
	if username != "" {
		filter += "(&(objectClass=posixGroup)(memberUid=" + ldap.EscapeFilter(username) + "))"
	}
	filter += ")"
	req := ldap.NewSearchRequest(s.c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(s.c.cfg.Timeout/time.Second), false, filter, []string{"1.1"}, nil)
	res, err := s.conn.Search(req)
	if err != nil {
		return nil, s.classify("unable to search groups", err)
	}
	groups := make([]string, 0, len(res.Entries))
	for _, g := range res.Entries {
		groups = append(groups, g.DN)
	}
	return groups, nil
}

func roleFor(groups []string, admin, owner string) string {
	switch {
	case inAny(groups, admin):
		return RoleAdmin
	case inAny(groups, owner):
		return RoleOwner
	default:
		return RoleMember
	}
}

// inAny reports whether one of groups matches one of the ";"-separated
// names in spec, by DN or by cn.
func inAny(groups []string, spec string) bool {
	for name := range strings.SplitSeq(spec, ";") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		want := normDN(name)
		for _, g := range groups {
			if normDN(g) == want {
				return true
			}
			if !strings.Contains(name, "=") && strings.EqualFold(firstRDNValue(g), name) {
				return true
			}
		}
	}
	return false
}

// normDN lowercases a DN and drops the spaces around separators, so that
// "CN=Admins, OU=Groups" equals "cn=admins,ou=groups".
func normDN(dn string) string {
	if d, err := ldap.ParseDN(dn); err == nil {
		parts := make([]string, 0, len(d.RDNs))
		for _, rdn := range d.RDNs {
			as := make([]string, 0, len(rdn.Attributes))
			for _, a := range rdn.Attributes {
				as = append(as, strings.ToLower(a.Type)+"="+strings.ToLower(a.Value))
			}
			parts = append(parts, strings.Join(as, "+"))
		}
		return strings.Join(parts, ",")
	}
	return strings.ToLower(strings.TrimSpace(dn))
}

func firstRDNValue(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return ""
	}
	return d.RDNs[0].Attributes[0].Value
}
