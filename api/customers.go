package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
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

func (f CustomerFields) fields() accounts.CustomerFields {
	return accounts.CustomerFields{Name: f.Name, Company: f.Company, Email: f.Email, Phone: f.Phone, Remark: f.Remark}
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

func (f NewUserFields) user(role string) accounts.NewUser {
	return accounts.NewUser{Username: f.Username, Name: f.Name, Email: f.Email, Phone: f.Phone, EmployeeID: f.EmployeeID,
		AuthSource: f.AuthSource, Password: f.Password, Role: role}
}

// User is an account as the admin sees it (no password hash, no storage keys).
type User struct {
	ID          string     `json:"id" format:"uuid"`
	TenantID    *string    `json:"tenantId,omitempty" format:"uuid"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	EmployeeID  string     `json:"employeeId"`
	Name        string     `json:"name"`
	Phone       string     `json:"phone"`
	Role        string     `json:"role" enum:"admin,owner,member"`
	AuthSource  string     `json:"authSource" enum:"local,ldap"`
	Status      string     `json:"status" enum:"active,disabled"`
	LastLoginAt *time.Time `json:"lastLoginAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func userOf(u *store.User) User {
	return User{ID: u.ID, TenantID: u.TenantID, Username: u.Username, Email: u.Email, EmployeeID: u.EmployeeID, Name: u.Name,
		Phone: u.Phone, Role: u.Role, AuthSource: u.AuthSource, Status: u.Status, LastLoginAt: u.LastLoginAt,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func usersOf(list []store.User) []User {
	out := make([]User, len(list))
	for i := range list {
		out[i] = userOf(&list[i])
	}
	return out
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
	Owner           User         `json:"owner"`
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
	Users []User           `json:"users"`
	Tasks store.TaskCounts `json:"tasks" required:"false" doc:"The customer's tasks: running now (运行任务数), queued, and all"`
	// Storage is the company's dataset storage and quota.
	Storage store.StorageUse `json:"storage" required:"false"`
}

func (h *customersHandler) register(api huma.API) {
	const tag = "customers"
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers", "list-customers", tag,
		"Customers; sortBy name|company|createdAt|status|machineCount|userCount", roleAdmin, http.StatusBadRequest), h.list)
	op := operation(http.MethodPost, "/api/admin/customers", "create-customer", tag, "Add a customer with its owner account", roleAdmin,
		http.StatusConflict, http.StatusBadRequest)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers/{id}", "get-customer", tag, "A customer with its users", roleAdmin,
		http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/customers/{id}", "update-customer", tag, "Edit a customer", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.update)
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
	c, err := h.s.accounts.CreateCustomer(ctx, accounts.CreateCustomerInput{CustomerFields: b.CustomerFields.fields(), Code: b.Code,
		Status: b.Status, Owner: b.Owner.user("owner")})
	if err != nil {
		return nil, err
	}
	return ok(ctx, CreatedCustomer{Customer: *c.Customer, Owner: userOf(c.Owner.User), InitialPassword: c.Owner.InitialPassword})
}

// customerNotFound names a missing customer.
func customerNotFound(err error) error { return accounts.CustomerNotFound(err) }

func (h *customersHandler) get(ctx context.Context, in *CustomerIDInput) (*Resp[CustomerDetail], error) {
	c, err := h.s.accounts.GetCustomer(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	use, err := h.s.datasets.CustomerStorage(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, CustomerDetail{Tenant: *c.Tenant, Users: usersOf(c.Users), Tasks: c.Tasks, Storage: use})
}

// tenant answers with a customer, or the error.
func tenant(ctx context.Context, t *store.Tenant, err error) (*Resp[store.Tenant], error) {
	if err != nil {
		return nil, err
	}
	return ok(ctx, *t)
}

func (h *customersHandler) update(ctx context.Context, in *UpdateCustomerInput) (*Resp[store.Tenant], error) {
	t, err := h.s.accounts.UpdateCustomer(ctx, in.ID, in.Body.fields())
	return tenant(ctx, t, err)
}

func (h *customersHandler) delete(ctx context.Context, in *CustomerIDInput) (*Resp[Empty], error) {
	if err := h.s.accounts.DeleteCustomer(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *customersHandler) disable(ctx context.Context, in *CustomerIDInput) (*Resp[store.Tenant], error) {
	t, err := h.s.accounts.SetCustomerStatus(ctx, in.ID, false)
	return tenant(ctx, t, err)
}

func (h *customersHandler) enable(ctx context.Context, in *CustomerIDInput) (*Resp[store.Tenant], error) {
	t, err := h.s.accounts.SetCustomerStatus(ctx, in.ID, true)
	return tenant(ctx, t, err)
}
