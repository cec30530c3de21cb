package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/store"
)

// customersHandler is the admin's customer management (requirements 2.1.3).
type customersHandler struct{ s *Server }

type CustomerFields struct {
	Name    string `json:"name" minLength:"1" maxLength:"100" doc:"Contact person (客户姓名)"`
	Company string `json:"company" minLength:"1" maxLength:"200"`
	Email   string `json:"email" required:"false" maxLength:"254" pattern:"^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" patternDescription:"email"`
	Phone   string `json:"phone" required:"false" maxLength:"32" pattern:"^[0-9+\\-() ]*$"`
	Remark  string `json:"remark" required:"false" maxLength:"1000"`
}

type NewUserFields struct {
	Username   string `json:"username" minLength:"3" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$"`
	Name       string `json:"name" required:"false" maxLength:"100"`
	Email      string `json:"email" required:"false" maxLength:"254" pattern:"^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" patternDescription:"email"`
	Phone      string `json:"phone,omitempty" maxLength:"32" pattern:"^[0-9+\\-() ]*$"`
	EmployeeID string `json:"employeeId,omitempty" maxLength:"64"`
	AuthSource string `json:"authSource,omitempty" enum:"local,ldap" default:"local"`
	Password   string `json:"password,omitempty" maxLength:"128" doc:"Local accounts only; generated (and returned once) when empty"`
}

type CreateCustomerInput struct {
	Body struct {
		CustomerFields
		Code   string        `json:"code,omitempty" maxLength:"32" pattern:"^([a-z0-9][a-z0-9-]{1,31})?$" doc:"Short code (LDAP tenant attribute); generated when empty"`
		Status string        `json:"status,omitempty" enum:"active,pending," default:"active"`
		Owner  NewUserFields `json:"owner"`
	}
}

type CreatedCustomer struct {
	Customer        store.Tenant `json:"customer"`
	Owner           store.User   `json:"owner"`
	InitialPassword string       `json:"initialPassword,omitempty" doc:"Only when generated; shown once"`
}

type ListCustomersInput struct {
	ListParams
	Status  string `query:"status" enum:"active,pending,disabled," doc:"Account status"`
	Keyword string `query:"keyword" maxLength:"100" doc:"Search name, company, email or code"`
}

type CustomerIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type UpdateCustomerInput struct {
	ID   string `path:"id" format:"uuid"`
	Body CustomerFields
}

type CustomerDetail struct {
	store.Tenant
	Users []store.User `json:"users"`
}

func (h *customersHandler) register(api huma.API) {
	const tag = "customers"
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers", "list-customers", tag,
		"Customers; sortBy name|company|createdAt|status|machineCount|userCount", roleAdmin, http.StatusBadRequest, http.StatusUnprocessableEntity), h.list)
	op := operation(http.MethodPost, "/api/admin/customers", "create-customer", tag, "Add a customer with its owner account", roleAdmin,
		http.StatusConflict, http.StatusUnprocessableEntity)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers/{id}", "get-customer", tag, "A customer with its users", roleAdmin,
		http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/customers/{id}", "update-customer", tag, "Edit a customer", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.update)
	huma.Register(api, operation(http.MethodDelete, "/api/admin/customers/{id}", "delete-customer", tag,
		"Delete a customer and its accounts (refused while it holds machines or data)", roleAdmin, http.StatusNotFound, http.StatusConflict), h.delete)
	huma.Register(api, operation(http.MethodPost, "/api/admin/customers/{id}/disable", "disable-customer", tag,
		"Disable a customer: blocks login and ends its sessions", roleAdmin, http.StatusNotFound), h.disable)
	huma.Register(api, operation(http.MethodPost, "/api/admin/customers/{id}/enable", "enable-customer", tag,
		"Enable (or approve) a customer", roleAdmin, http.StatusNotFound), h.enable)
}

func (h *customersHandler) list(ctx context.Context, in *ListCustomersInput) (*Resp[Page[store.Tenant]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.TenantFilter{Status: pick(in.Status, f, "status"), Keyword: pick(in.Keyword, f, "keyword")}
	list, total, err := h.s.Store.ListTenants(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *customersHandler) create(ctx context.Context, in *CreateCustomerInput) (*Resp[CreatedCustomer], error) {
	b := in.Body
	t := store.Tenant{Name: strings.TrimSpace(b.Name), Company: strings.TrimSpace(b.Company), Code: b.Code, Email: b.Email,
		Phone: b.Phone, Remark: b.Remark, Status: b.Status}
	if t.Status == "" {
		t.Status = "active"
	}
	if t.Code == "" {
		t.Code = codeFrom(t.Company)
	}
	owner, password, err := newUser(b.Owner, "owner", "body.owner")
	if err != nil {
		return nil, err
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.CreateTenant(ctx, tx, &t); err != nil {
			return err
		}
		owner.TenantID = &t.ID
		if err := store.CreateUser(ctx, tx, owner); err != nil {
			return err
		}
		if err := h.s.audit(ctx, tx, auditEntry{Action: "customer.create", TargetType: "customer", TargetID: t.ID, TenantID: t.ID,
			Success: true, Detail: map[string]any{"after": t, "owner": owner.Username}}); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "user.create", TargetType: "user", TargetID: owner.ID, TenantID: t.ID,
			Success: true, Detail: map[string]any{"username": owner.Username, "role": owner.Role, "authSource": owner.AuthSource}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	t.UserCount = 1
	return ok(ctx, CreatedCustomer{Customer: t, Owner: *owner, InitialPassword: password})
}

// newUser validates the fields of a new account of a tenant. For a local
// account without a password one is generated and returned.
func newUser(f NewUserFields, role, at string) (*store.User, string, error) {
	u := &store.User{Username: strings.TrimSpace(f.Username), Name: strings.TrimSpace(f.Name), Email: strings.TrimSpace(f.Email),
		Phone: f.Phone, EmployeeID: strings.TrimSpace(f.EmployeeID), Role: role, AuthSource: f.AuthSource}
	if u.AuthSource == "" {
		u.AuthSource = "local"
	}
	if u.Name == "" {
		u.Name = u.Username
	}
	if u.AuthSource == "ldap" {
		if f.Password != "" {
			return nil, "", apperr.Newf(apperr.Unprocessable, "LDAP 账号的密码由目录管理 / directory accounts have no local password").AtField(at + ".password")
		}
		return u, "", nil
	}
	generated := ""
	pw := f.Password
	if pw == "" {
		pw = auth.GeneratePassword()
		generated = pw
	} else if err := auth.CheckPolicy(pw, u.Username); err != nil {
		return nil, "", apperr.Newf(apperr.Unprocessable, "%s", err.Error()).AtField(at + ".password")
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return nil, "", err
	}
	u.PasswordHash = hash
	return u, generated, nil
}

// conflictOnDuplicate turns unique violations into a 409 that names the field.
func conflictOnDuplicate(err error) error {
	switch {
	case store.IsUniqueViolation(err, "tenants_company_key"):
		return apperr.Conflictf("公司名称已存在 / a customer with this company name already exists").AtField("body.company")
	case store.IsUniqueViolation(err, "tenants_code_key"):
		return apperr.Conflictf("客户编码已存在 / this customer code is taken").AtField("body.code")
	case store.IsUniqueViolation(err, "users_username_key"):
		return apperr.Conflictf("用户名已存在 / this username is taken").AtField("body.username")
	case store.IsUniqueViolation(err, "users_email_key"):
		return apperr.Conflictf("邮箱已被使用 / this email is already used by another account").AtField("body.email")
	case store.IsUniqueViolation(err, "users_employee_id_key"):
		return apperr.Conflictf("工号已被使用 / this employee ID is already used").AtField("body.employeeId")
	}
	return err
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

func (h *customersHandler) get(ctx context.Context, in *CustomerIDInput) (*Resp[CustomerDetail], error) {
	t, err := h.s.Store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	users, err := h.s.Store.ListTenantUsers(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, CustomerDetail{Tenant: *t, Users: users})
}

func customerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("客户不存在 / customer not found")
	}
	return err
}

func (h *customersHandler) update(ctx context.Context, in *UpdateCustomerInput) (*Resp[store.Tenant], error) {
	before, err := h.s.Store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	after := *before
	after.Name, after.Company, after.Email, after.Phone, after.Remark = strings.TrimSpace(in.Body.Name), strings.TrimSpace(in.Body.Company),
		in.Body.Email, in.Body.Phone, in.Body.Remark
	if err := h.s.Store.UpdateTenant(ctx, &after); err != nil {
		return nil, conflictOnDuplicate(err)
	}
	h.s.audit(ctx, nil, auditEntry{Action: "customer.update", TargetType: "customer", TargetID: in.ID, TenantID: in.ID, Success: true,
		Detail: map[string]any{"before": before, "after": after}})
	t, err := h.s.Store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *t)
}

func (h *customersHandler) delete(ctx context.Context, in *CustomerIDInput) (*Resp[Empty], error) {
	t, err := h.s.Store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	if t.MachineCount > 0 {
		return nil, apperr.Conflictf("客户仍有 %d 台已分配机器，请先回收 / the customer still holds %d machines; reclaim them first", t.MachineCount, t.MachineCount)
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteTenant(ctx, tx, in.ID); err != nil {
			return err
		}
		// the entry keeps no tenant_id: the tenant row is gone
		return h.s.audit(ctx, tx, auditEntry{Action: "customer.delete", TargetType: "customer", TargetID: in.ID, Success: true,
			Detail: map[string]any{"before": t}})
	})
	if store.IsForeignKeyViolation(err) {
		return nil, apperr.Conflictf("客户仍有关联数据，无法删除 / the customer still has data that must be removed first")
	}
	if err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *customersHandler) disable(ctx context.Context, in *CustomerIDInput) (*Resp[store.Tenant], error) {
	return h.setStatus(ctx, in.ID, "disabled")
}

func (h *customersHandler) enable(ctx context.Context, in *CustomerIDInput) (*Resp[store.Tenant], error) {
	return h.setStatus(ctx, in.ID, "active")
}

func (h *customersHandler) setStatus(ctx context.Context, id, status string) (*Resp[store.Tenant], error) {
	before, err := h.s.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, customerNotFound(err)
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.SetTenantStatus(ctx, tx, id, status); err != nil {
			return err
		}
		detail := map[string]any{"before": before.Status, "after": status}
		if status == "disabled" {
			n, err := store.RevokeTenantSessions(ctx, tx, id, "customer disabled")
			if err != nil {
				return err
			}
			detail["revokedSessions"] = n
		}
		action := "customer.enable"
		if status == "disabled" {
			action = "customer.disable"
		}
		return h.s.audit(ctx, tx, auditEntry{Action: action, TargetType: "customer", TargetID: id, TenantID: id, Success: true, Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("unable to set customer status: %w", err)
	}
	t, err := h.s.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *t)
}
