package api

import (
	"context"

	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/store"
)

// auditEntry is an audit record; audit.Record says how it is written.
type auditEntry = audit.Entry

// audit records an entry with db (the pool when nil; the caller's transaction
// otherwise, which then fails with it).
func (s *Server) audit(ctx context.Context, db store.DBTX, e auditEntry) error {
	if db == nil {
		db = s.Store.Pool
	}
	return audit.Record(ctx, db, e)
}
