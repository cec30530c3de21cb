package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
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
	User            store.User `json:"user"`
	InitialPassword string     `json:"initialPassword,omitempty" doc:"Only when generated; shown once"`
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
		"A customer's accounts", roleAdmin, http.StatusNotFound), h.list)
	op := operation(http.MethodPost, "/api/admin/customers/{id}/users", "create-customer-user", tag,
		"Add an account to a customer", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodPut, "/api/admin/customers/{id}/users/{userId}", "update-customer-user", tag,
		"Edit an account: profile, role, enabled (disabling ends its sessions)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.update)
}

func (h *customerUsersHandler) list(ctx context.Context, in *ListCustomerUsersInput) (*Resp[[]store.User], error) {
	if _, err := h.s.Store.GetTenant(ctx, in.ID); err != nil {
		return nil, customerNotFound(err)
	}
	users, err := h.s.Store.ListTenantUsers(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, users)
}

func (h *customerUsersHandler) create(ctx context.Context, in *CreateCustomerUserInput) (*Resp[CreatedUser], error) {
	if _, err := h.s.Store.GetTenant(ctx, in.ID); err != nil {
		return nil, customerNotFound(err)
	}
	u, password, err := newUser(in.Body.NewUserFields, in.Body.Role, "body")
	if err != nil {
		return nil, err
	}
	u.TenantID = &in.ID
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.CreateUser(ctx, tx, u); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "user.create", TargetType: "user", TargetID: u.ID, TenantID: in.ID, Success: true,
			Detail: map[string]any{"username": u.Username, "role": u.Role, "authSource": u.AuthSource}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	return ok(ctx, CreatedUser{User: *u, InitialPassword: password})
}

func (h *customerUsersHandler) update(ctx context.Context, in *UpdateCustomerUserInput) (*Resp[store.User], error) {
	before, err := h.s.Store.GetTenantUser(ctx, in.ID, in.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundf("账号不存在 / user not found")
	}
	if err != nil {
		return nil, err
	}
	after := *before
	after.Name, after.Email, after.Phone, after.EmployeeID = strings.TrimSpace(in.Body.Name), strings.TrimSpace(in.Body.Email),
		in.Body.Phone, strings.TrimSpace(in.Body.EmployeeID)
	after.Role, after.Status = in.Body.Role, in.Body.Status
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpdateUser(ctx, tx, &after); err != nil {
			return err
		}
		if after.Role != before.Role {
			if err := h.s.audit(ctx, tx, auditEntry{Action: "user.role_change", TargetType: "user", TargetID: after.ID, TenantID: in.ID,
				Success: true, Detail: map[string]any{"username": after.Username, "before": before.Role, "after": after.Role}}); err != nil {
				return err
			}
		}
		if after.Status != before.Status {
			if after.Status == "disabled" {
				if _, err := store.RevokeUserSessions(ctx, tx, after.ID, "", "user disabled"); err != nil {
					return err
				}
			}
			if err := h.s.audit(ctx, tx, auditEntry{Action: "user." + map[string]string{"active": "enable", "disabled": "disable"}[after.Status],
				TargetType: "user", TargetID: after.ID, TenantID: in.ID, Success: true,
				Detail: map[string]any{"username": after.Username}}); err != nil {
				return err
			}
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "user.update", TargetType: "user", TargetID: after.ID, TenantID: in.ID, Success: true,
			Detail: map[string]any{"before": userFields(before), "after": userFields(&after)}})
	})
	if err != nil {
		return nil, conflictOnDuplicate(err)
	}
	u, err := h.s.Store.GetUser(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *u)
}

func userFields(u *store.User) map[string]any {
	return map[string]any{"name": u.Name, "email": u.Email, "phone": u.Phone, "employeeId": u.EmployeeID, "role": u.Role, "status": u.Status}
}
