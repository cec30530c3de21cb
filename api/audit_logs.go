package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
)

type auditHandler struct{ s *Server }

type ListAuditLogsInput struct {
	ListParams
	TenantID   string `query:"tenantId" doc:"Only this customer's entries"`
	ActorID    string `query:"actorId"`
	Action     string `query:"action" doc:"Exact action, or a prefix ending in '.' such as 'auth.'"`
	TargetType string `query:"targetType"`
	Success    string `query:"success" enum:"true,false," doc:"Only successful or failed actions"`
	Keyword    string `query:"keyword" doc:"Search actor, target, action and detail"`
	From       string `query:"from" doc:"RFC 3339 start (inclusive)"`
	To         string `query:"to" doc:"RFC 3339 end (exclusive)"`
}

func (h *auditHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/admin/audit-logs", "list-audit-logs", "audit",
		"The audit log (logins, account and role changes, …); sortBy createdAt|action|actorName", roleAdmin,
		http.StatusBadRequest), h.list)
}

func (h *auditHandler) list(ctx context.Context, in *ListAuditLogsInput) (*Resp[Page[store.AuditLog]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.AuditFilter{
		TenantID: pick(in.TenantID, f, "tenantId"), ActorID: pick(in.ActorID, f, "actorId"),
		Action: pick(in.Action, f, "action"), TargetType: pick(in.TargetType, f, "targetType"), Keyword: pick(in.Keyword, f, "keyword"),
	}
	if v := pick(in.Success, f, "success"); v != "" {
		b := v == "true"
		filter.Success = &b
	}
	for _, t := range []struct {
		raw  string
		dst  **time.Time
		name string
	}{{pick(in.From, f, "from"), &filter.From, "from"}, {pick(in.To, f, "to"), &filter.To, "to"}} {
		if t.raw == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.raw)
		if err != nil {
			return nil, apperr.New(apperr.Invalid, apperr.CodeInvalidTime, "{name} must be an RFC 3339 time", apperr.P{"name": t.name}).AtField("query." + t.name)
		}
		*t.dst = &v
	}
	if err := validUUIDs(map[string]string{"tenantId": filter.TenantID, "actorId": filter.ActorID}); err != nil {
		return nil, err
	}
	list, total, err := h.s.Store.ListAudit(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
