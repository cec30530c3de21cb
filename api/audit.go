package api

import (
	"context"
	"log/slog"

	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
)

// auditEntry describes one action for the audit log; the actor, IP and trace come from the context.
type auditEntry struct {
	Action     string
	TargetType string
	TargetID   string
	TenantID   string
	Success    bool
	Detail     map[string]any
	// Actor overrides the caller (logins, where no principal exists yet).
	Actor *store.User
}

// audit records an entry with db (the pool or the caller's transaction). A
// failure to write it inside a transaction fails the transaction; on the pool it is logged.
func (s *Server) audit(ctx context.Context, db store.DBTX, e auditEntry) error {
	ri := reqInfo(ctx)
	a := &store.AuditLog{Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Success: e.Success,
		IP: ri.IP, TraceID: logging.TraceID(ctx), Detail: e.Detail}
	if e.Actor != nil {
		a.ActorID, a.ActorName, a.ActorRole = &e.Actor.ID, e.Actor.Username, e.Actor.Role
		if e.TenantID == "" && e.Actor.TenantID != nil {
			e.TenantID = *e.Actor.TenantID
		}
	} else if p := principal(ctx); p.UserID != "" {
		a.ActorID, a.ActorName, a.ActorRole = &p.UserID, p.Username, p.Role
		if e.TenantID == "" {
			e.TenantID = p.TenantID
		}
	}
	if e.TenantID != "" {
		a.TenantID = &e.TenantID
	}
	if db == nil {
		db = s.Store.Pool
	}
	err := store.InsertAudit(ctx, db, a)
	if err != nil {
		slog.ErrorContext(ctx, "unable to write audit log", "action", e.Action, "err", err)
	}
	return err
}
