package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditLog is one recorded action: who, what, on which target, when, with before/after in Detail.
type AuditLog struct {
	ID         int64          `json:"id"`
	CreatedAt  time.Time      `json:"createdAt"`
	ActorID    *string        `json:"actorId" format:"uuid"`
	ActorName  string         `json:"actorName"`
	ActorRole  string         `json:"actorRole"`
	TenantID   *string        `json:"tenantId" format:"uuid"`
	TenantName string         `json:"tenantName"`
	Action     string         `json:"action" doc:"e.g. auth.login, customer.create, user.role_change"`
	TargetType string         `json:"targetType"`
	TargetID   string         `json:"targetId"`
	Success    bool           `json:"success"`
	IP         string         `json:"ip"`
	TraceID    string         `json:"traceId"`
	Detail     map[string]any `json:"detail"`
}

func (q *Queries) InsertAudit(ctx context.Context, a *AuditLog) error {
	detail, err := json.Marshal(a.Detail)
	if err != nil {
		return err
	}
	if a.Detail == nil {
		detail = []byte("{}")
	}
	_, err = q.db.Exec(ctx, `INSERT INTO audit_logs (actor_id, actor_name, actor_role, tenant_id, action, target_type, target_id, success, ip, trace_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ActorID, a.ActorName, a.ActorRole, a.TenantID, a.Action, a.TargetType, a.TargetID, a.Success, a.IP, a.TraceID, detail)
	return err
}

type AuditFilter struct {
	TenantID   string
	ActorID    string
	Action     string // exact, or a prefix ending in '.' (e.g. "auth.")
	Actions    []string
	TargetType string
	TargetID   string
	Success    *bool
	Keyword    string
	From, To   *time.Time
}

func (q *Queries) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditLog, int, error) {
	var w where
	if f.TenantID != "" {
		w.add("a.tenant_id = %s", f.TenantID)
	}
	if f.ActorID != "" {
		w.add("a.actor_id = %s", f.ActorID)
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			w.add("a.action LIKE %s", likePrefix(f.Action))
		} else {
			w.add("a.action = %s", f.Action)
		}
	}
	if len(f.Actions) > 0 {
		w.add("a.action = ANY(%s)", f.Actions)
	}
	if f.TargetType != "" {
		w.add("a.target_type = %s", f.TargetType)
	}
	if f.TargetID != "" {
		w.add("a.target_id = %s", f.TargetID)
	}
	if f.Success != nil {
		w.add("a.success = %s", *f.Success)
	}
	if f.Keyword != "" {
		pat := likePattern(f.Keyword)
		w.add("(a.actor_name ILIKE %s OR a.target_id ILIKE %s OR a.action ILIKE %s OR a.detail::text ILIKE %s)", pat, pat, pat, pat)
	}
	if f.From != nil {
		w.add("a.created_at >= %s", *f.From)
	}
	if f.To != nil {
		w.add("a.created_at < %s", *f.To)
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM audit_logs a"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := `SELECT a.id, a.created_at, a.actor_id, a.actor_name, a.actor_role, a.tenant_id, coalesce(t.company, ''), a.action,
		a.target_type, a.target_id, a.success, a.ip, a.trace_id, a.detail
		FROM audit_logs a LEFT JOIN tenants t ON t.id = a.tenant_id` + w.sql() +
		p.orderBy(map[string]string{"createdAt": "a.created_at", "action": "a.action", "actorName": "a.actor_name"}, "a.id DESC") + p.limitOffset()
	rows, err := q.db.Query(ctx, query, w.args...)
	list, err := collect(rows, err, func(row pgx.Row) (*AuditLog, error) {
		var a AuditLog
		return &a, row.Scan(&a.ID, &a.CreatedAt, &a.ActorID, &a.ActorName, &a.ActorRole, &a.TenantID, &a.TenantName, &a.Action,
			&a.TargetType, &a.TargetID, &a.Success, &a.IP, &a.TraceID, &a.Detail)
	})
	return list, total, err
}

func likePrefix(s string) string {
	return likePattern(s)[1:]
}
