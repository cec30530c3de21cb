package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
)

// customerUsersHandler lets the admin manage a customer's accounts.
type customerUsersHandler struct{ s *Server }

type ListCustomerUsersInput struct {
	ID string `path:"id" format:"uuid"`
}

type CreateCustomerUserInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		NewUserFields
		Role string `json:"role" enum:"owner,member"`
	}
}

type CreatedUser struct {
	User            User   `json:"user"`
	InitialPassword string `json:"initialPassword,omitempty" doc:"Only when generated; shown once"`
}

type UpdateCustomerUserInput struct {
	ID     string `path:"id" format:"uuid"`
	UserID string `path:"userId" format:"uuid"`
	Body   struct {
		Name       string `json:"name" required:"false" maxLength:"100"`
		Email      string `json:"email" required:"false" maxLength:"254" pattern:"^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" patternDescription:"email"`
		Phone      string `json:"phone" required:"false" maxLength:"32" pattern:"^[0-9+\\-() ]*$"`
		EmployeeID string `json:"employeeId,omitempty" maxLength:"64"`
		Role       string `json:"role" enum:"owner,member"`
		Status     string `json:"status" enum:"active,disabled"`
	}
}

func (h *customerUsersHandler) register(api huma.API) {
	const tag = "customers"
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers/{id}/users", "list-customer-users", tag,
		"A customer's accounts (all of them: a customer has a handful, so the list is not paged)", roleAdmin, http.StatusNotFound), h.list)
	op := operation(http.MethodPost, "/api/admin/customers/{id}/users", "create-customer-user", tag,
		"Add an account to a customer", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusBadRequest)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodPut, "/api/admin/customers/{id}/users/{userId}", "update-customer-user", tag,
		"Edit an account: profile, role, enabled (disabling ends its sessions)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.update)
}

func (h *customerUsersHandler) list(ctx context.Context, in *ListCustomerUsersInput) (*Resp[[]User], error) {
	users, err := h.s.accounts.ListCustomerUsers(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, usersOf(users))
}

func (h *customerUsersHandler) create(ctx context.Context, in *CreateCustomerUserInput) (*Resp[CreatedUser], error) {
	c, err := h.s.accounts.CreateCustomerUser(ctx, in.ID, in.Body.NewUserFields.user(in.Body.Role))
	if err != nil {
		return nil, err
	}
	return ok(ctx, CreatedUser{User: userOf(c.User), InitialPassword: c.InitialPassword})
}

func (h *customerUsersHandler) update(ctx context.Context, in *UpdateCustomerUserInput) (*Resp[User], error) {
	b := in.Body
	u, err := h.s.accounts.UpdateCustomerUser(ctx, in.ID, in.UserID, accounts.UpdateCustomerUserInput{Name: b.Name, Email: b.Email,
		Phone: b.Phone, EmployeeID: b.EmployeeID, Role: b.Role, Status: b.Status})
	if err != nil {
		return nil, err
	}
	return ok(ctx, userOf(u))
}
