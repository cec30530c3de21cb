// Package audit writes the audit log (requirements 4.5.5). An audited action
// writes its record in the same transaction as the change, so the change
// fails when the record cannot be written.
package audit

import (
	"context"
	"log/slog"

	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
)

// Entry describes one action; the actor, IP and trace come from the context.
type Entry struct {
	Action     string
	TargetType string
	TargetID   string
	TenantID   string
	Success    bool
	Detail     map[string]any
	// Actor overrides the caller (logins, where no principal exists yet).
	Actor *store.User
}

// Record writes e with db (the pool or the caller's transaction) and returns
// the error, which the caller must not ignore inside a transaction.
func Record(ctx context.Context, db store.DBTX, e Entry) error {
	ri := caller.RequestOf(ctx)
	a := &store.AuditLog{Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Success: e.Success,
		IP: ri.IP, TraceID: logging.TraceID(ctx), Detail: e.Detail}
	if e.Actor != nil {
		a.ActorID, a.ActorName, a.ActorRole = &e.Actor.ID, e.Actor.Username, e.Actor.Role
		if e.TenantID == "" && e.Actor.TenantID != nil {
			e.TenantID = *e.Actor.TenantID
		}
	} else if p := caller.From(ctx); p.UserID != "" {
		a.ActorID, a.ActorName, a.ActorRole = &p.UserID, p.Username, p.Role
		if e.TenantID == "" {
			e.TenantID = p.TenantID
		}
	}
	if e.TenantID != "" {
		a.TenantID = &e.TenantID
	}
	err := store.New(db).InsertAudit(ctx, a)
	if err != nil {
		slog.ErrorContext(ctx, "unable to write audit log", "action", e.Action, "err", err)
	}
	return err
}
