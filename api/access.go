package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// Principal is the signed-in caller (internal/caller carries it to the services).
type Principal = caller.Principal

// principal returns the caller; operations behind authMiddleware always have one.
func principal(ctx context.Context) *Principal { return caller.From(ctx) }

const (
	rolesKey = "roles"
)

var (
	roleAdmin    = []string{"admin"}
	roleCustomer = []string{"owner", "member"}
	roleOwner    = []string{"owner"}
	roleAny      = []string{"admin", "owner", "member"}
)

// operation builds a documented Huma operation. roles nil = public.
func operation(method, path, id, tag, summary string, roles []string, errs ...int) huma.Operation {
	op := huma.Operation{
		OperationID: id,
		Method:      method,
		Path:        path,
		Summary:     summary,
		Tags:        []string{tag},
		Errors:      append([]int{http.StatusInternalServerError}, errs...),
	}
	if roles != nil {
		op.Security = []map[string][]string{{"bearer": {}}}
		op.Metadata = map[string]any{rolesKey: roles}
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
		op.Description = "Roles: " + strings.Join(roles, ", ") + "."
	}
	return documentErrors(op)
}

// documentErrors lists an operation's error statuses once each.
func documentErrors(op huma.Operation) huma.Operation {
	slices.Sort(op.Errors)
	op.Errors = slices.Compact(op.Errors)
	return op
}

// authMiddleware checks the bearer token, that its session is still live
// (logout, password change and disabling end it at once) and the role the
// operation requires. Customer operations get the caller's tenant from here
// and nowhere else.
func (s *Server) authMiddleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		roles, _ := op.Metadata[rolesKey].([]string)
		if roles == nil {
			next(ctx)
			return
		}
		p, err := s.accounts.Authenticate(ctx.Context(), ctx.Header("Authorization"))
		if err != nil {
			status := http.StatusInternalServerError
			if _, ok := apperr.As(err); ok {
				status = http.StatusUnauthorized
			}
			_ = huma.WriteErr(api, ctx, status, "", err)
			return
		}
		if !slices.Contains(roles, p.Role) {
			_ = huma.WriteErr(api, ctx, http.StatusForbidden, "", errForbiddenRole)
			return
		}
		next(huma.WithContext(ctx, caller.WithPrincipal(ctx.Context(), p)))
	}
}

var errForbiddenRole = accounts.ErrForbiddenRole

// ListParams is the paging part of every list operation (requirements 4.5.3).
type ListParams struct {
	Page     int    `query:"page" minimum:"1" default:"1" doc:"1-based page number"`
	PageSize int    `query:"pageSize" minimum:"1" maximum:"200" default:"20"`
	SortBy   string `query:"sortBy" doc:"Field to sort by (each list documents its own)"`
	Order    string `query:"order" enum:"asc,desc,ascending,descending," doc:"Sort direction"`
	Filters  string `query:"filters" doc:"JSON object of filters, same keys as the named query parameters, e.g. {\"status\":\"active\"}"`
}

func (p ListParams) page() int {
	if p.Page < 1 {
		return 1
	}
	return p.Page
}

func (p ListParams) size() int {
	if p.PageSize < 1 {
		return 20
	}
	return p.PageSize
}

func (p ListParams) store() store.Page {
	order := "asc"
	if strings.HasPrefix(p.Order, "desc") {
		order = "desc"
	}
	return store.Page{Page: p.page(), PageSize: p.size(), SortBy: p.SortBy, Order: order}
}

// filters decodes the JSON filters parameter; a named query parameter wins over the same key here.
func (p ListParams) filters() (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(p.Filters) == "" {
		return out, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(p.Filters), &raw); err != nil {
		return nil, apperr.New(apperr.Invalid, apperr.CodeValidation, "filters must be a JSON object").AtField("query.filters")
	}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out, nil
}

// pick returns the named parameter, or the same key from filters.
func pick(named string, f map[string]string, key string) string {
	if named != "" {
		return named
	}
	return f[key]
}
