package accounts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/store"
)

// CustomerFields are a customer's editable fields.
type CustomerFields struct {
	Name, Company, Email, Phone, Remark string
}

// NewUser are the fields of a new account of a customer.
type NewUser struct {
	Username, Name, Email, Phone, EmployeeID string
	AuthSource                               string // local (default) or ldap
	Password                                 string // local only; generated when empty
	Role                                     string // owner or member
}

type CreateCustomerInput struct {
	CustomerFields
	Code   string // generated when empty
	Status string // active (default) or pending
	Owner  NewUser
}

// CreatedUser is a new account; InitialPassword only when it was generated (shown once).
type CreatedUser struct {
	User            *store.User
	InitialPassword string
}

type CreatedCustomer struct {
	Customer *store.Tenant
	Owner    CreatedUser
}

// CreateCustomer adds a customer with its owner account.
func (s *Service) CreateCustomer(ctx context.Context, in CreateCustomerInput) (*CreatedCustomer, error) {
	t := store.Tenant{Name: strings.TrimSpace(in.Name), Company: strings.TrimSpace(in.Company), Code: in.Code, Email: in.Email,
		Phone: in.Phone, Remark: in.Remark, Status: in.Status}
	if t.Status == "" {
		t.Status = "active"
	}
	if t.Code == "" {
		t.Code = codeFrom(t.Company)
	}
	in.Owner.Role = "owner"
	owner, password, err := s.newUser(ctx, in.Owner, "body.owner")
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateTenant(ctx, &t); err != nil {
			return err
		}
		owner.TenantID = &t.ID
		if err := store.New(tx).CreateUser(ctx, owner); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: "customer.create", TargetType: "customer", TargetID: t.ID, TenantID: t.ID,
			Success: true, Detail: map[string]any{"after": t, "owner": owner.Username}}); err != nil {
			return err
		}
		return auditUserCreated(ctx, tx, owner)
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	t.UserCount = 1
	return &CreatedCustomer{Customer: &t, Owner: CreatedUser{User: owner, InitialPassword: password}}, nil
}

func auditUserCreated(ctx context.Context, tx pgx.Tx, u *store.User) error {
	return audit.Record(ctx, tx, audit.Entry{Action: "user.create", TargetType: "user", TargetID: u.ID, TenantID: deref(u.TenantID),
		Success: true, Detail: map[string]any{"username": u.Username, "role": u.Role, "authSource": u.AuthSource}})
}

// newUser validates the fields of a new account of a tenant (at names the
// input's fields). For a local account without a password one is
// generated and returned. The password is hashed in a password slot.
func (s *Service) newUser(ctx context.Context, f NewUser, at string) (*store.User, string, error) {
	u := &store.User{Username: strings.TrimSpace(f.Username), Name: strings.TrimSpace(f.Name), Email: strings.TrimSpace(f.Email),
		Phone: f.Phone, EmployeeID: strings.TrimSpace(f.EmployeeID), Role: f.Role, AuthSource: f.AuthSource}
	if u.AuthSource == "" {
		u.AuthSource = "local"
	}
	if u.Name == "" {
		u.Name = u.Username
	}
	if u.AuthSource == "ldap" {
		if f.Password != "" {
			return nil, "", apperr.New(apperr.Invalid, "accounts.directoryNoPassword",
				"directory accounts have no local password").AtField(at + ".password")
		}
		return u, "", nil
	}
	generated := ""
	pw := f.Password
	if pw == "" {
		pw = auth.GeneratePassword()
		generated = pw
	} else if err := auth.CheckPolicy(pw, u.Username); err != nil {
		return nil, "", policyError(err, at+".password")
	}
	hash, err := s.slots.hash(ctx, pw)
	if err != nil {
		return nil, "", err
	}
	u.PasswordHash = hash
	return u, generated, nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// codeFrom derives a short code from an ASCII company name, with a random
// suffix so two similar names never collide; non-ASCII names get a random code.
func codeFrom(company string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	slug := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(company), "-"), "-")
	if len(slug) > 20 {
		slug = strings.Trim(slug[:20], "-")
	}
	if slug == "" {
		slug = "c"
	}
	return slug + "-" + hex.EncodeToString(b)
}

// Customer is a customer with its accounts.
type Customer struct {
	Tenant *store.Tenant
	Users  []store.User
	Tasks  store.TaskCounts // its tasks: running, queued, all
}

// GetCustomer returns a customer with its accounts.
func (s *Service) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	t, err := s.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, CustomerNotFound(err)
	}
	users, err := s.Store.ListTenantUsers(ctx, id)
	if err != nil {
		return nil, err
	}
	tc, err := s.Store.CountTasks(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Customer{Tenant: t, Users: users, Tasks: tc}, nil
}

// UpdateCustomer edits a customer's fields.
func (s *Service) UpdateCustomer(ctx context.Context, id string, in CustomerFields) (*store.Tenant, error) {
	before, err := s.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, CustomerNotFound(err)
	}
	after := *before
	after.Name, after.Company, after.Email, after.Phone, after.Remark = strings.TrimSpace(in.Name), strings.TrimSpace(in.Company),
		in.Email, in.Phone, in.Remark
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).UpdateTenant(ctx, &after); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "customer.update", TargetType: "customer", TargetID: id, TenantID: id, Success: true,
			Detail: map[string]any{"before": before, "after": after}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return s.Store.GetTenant(ctx, id)
}

// DeleteCustomer deletes a customer and its accounts; refused while it
// holds machines or other data.
func (s *Service) DeleteCustomer(ctx context.Context, id string) error {
	t, err := s.Store.GetTenant(ctx, id)
	if err != nil {
		return CustomerNotFound(err)
	}
	if t.MachineCount > 0 {
		return apperr.New(apperr.Conflict, "accounts.customerHoldsMachines", "the customer still holds {count} machines; reclaim them first",
			apperr.P{"count": t.MachineCount})
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).DeleteTenant(ctx, id); err != nil {
			return err
		}
		// the entry keeps no tenant_id: the tenant row is gone
		return audit.Record(ctx, tx, audit.Entry{Action: "customer.delete", TargetType: "customer", TargetID: id, Success: true,
			Detail: map[string]any{"before": t}})
	})
	if store.IsForeignKeyViolation(err) {
		return apperr.New(apperr.Conflict, "accounts.customerHasData", "the customer still has data that must be removed first")
	}
	return err
}

// SetCustomerStatus enables (or approves) a customer, or disables it,
// which ends its users' sessions.
func (s *Service) SetCustomerStatus(ctx context.Context, id string, enabled bool) (*store.Tenant, error) {
	status, action := "active", "customer.enable"
	if !enabled {
		status, action = "disabled", "customer.disable"
	}
	before, err := s.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, CustomerNotFound(err)
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).SetTenantStatus(ctx, id, status); err != nil {
			return err
		}
		detail := map[string]any{"before": before.Status, "after": status}
		if !enabled {
			n, err := store.New(tx).RevokeTenantSessions(ctx, id, "customer disabled")
			if err != nil {
				return err
			}
			detail["revokedSessions"] = n
		}
		return audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "customer", TargetID: id, TenantID: id, Success: true, Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("unable to set customer status: %w", err)
	}
	return s.Store.GetTenant(ctx, id)
}

// ListCustomerUsers lists a customer's accounts.
func (s *Service) ListCustomerUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	c, err := s.GetCustomer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return c.Users, nil
}

// CreateCustomerUser adds an account to a customer.
func (s *Service) CreateCustomerUser(ctx context.Context, tenantID string, in NewUser) (*CreatedUser, error) {
	if _, err := s.Store.GetTenant(ctx, tenantID); err != nil {
		return nil, CustomerNotFound(err)
	}
	u, password, err := s.newUser(ctx, in, "body")
	if err != nil {
		return nil, err
	}
	u.TenantID = &tenantID
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateUser(ctx, u); err != nil {
			return err
		}
		return auditUserCreated(ctx, tx, u)
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return &CreatedUser{User: u, InitialPassword: password}, nil
}

type UpdateCustomerUserInput struct {
	Name, Email, Phone, EmployeeID string
	Role                           string // owner or member
	Status                         string // active or disabled (ends its sessions)
}

// UpdateCustomerUser edits an account of a customer: profile, role, enabled.
func (s *Service) UpdateCustomerUser(ctx context.Context, tenantID, userID string, in UpdateCustomerUserInput) (*store.User, error) {
	before, err := s.Store.GetTenantUser(ctx, tenantID, userID)
	if err != nil {
		return nil, userNotFound(err)
	}
	after := *before
	after.Name, after.Email, after.Phone, after.EmployeeID = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email),
		in.Phone, strings.TrimSpace(in.EmployeeID)
	after.Role, after.Status = in.Role, in.Status
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).UpdateUser(ctx, &after); err != nil {
			return err
		}
		entry := func(action string, detail map[string]any) audit.Entry {
			return audit.Entry{Action: action, TargetType: "user", TargetID: after.ID, TenantID: tenantID, Success: true, Detail: detail}
		}
		if after.Role != before.Role {
			if err := audit.Record(ctx, tx, entry("user.role_change",
				map[string]any{"username": after.Username, "before": before.Role, "after": after.Role})); err != nil {
				return err
			}
		}
		if after.Status != before.Status {
			action := "user.enable"
			if after.Status == "disabled" {
				action = "user.disable"
				if _, err := store.New(tx).RevokeUserSessions(ctx, after.ID, "", "user disabled"); err != nil {
					return err
				}
			}
			if err := audit.Record(ctx, tx, entry(action, map[string]any{"username": after.Username})); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, entry("user.update", map[string]any{"before": userFields(before), "after": userFields(&after)}))
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return s.Store.GetUser(ctx, userID)
}

func userNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "accounts.userNotFound", "user not found")
	}
	return err
}
