package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Store functions the Allocation workflow's activities need beyond allocations.go:
// the owners who get the "expiring" notice, a system notice with an id of the
// caller's choosing (so a retried activity delivers it once), and the end of a
// lease together with its audit entry in one transaction.

// TenantOwners lists the active owners of a tenant (the ones a lease notice goes to).
func (q *Queries) TenantOwners(ctx context.Context, tenantID string) ([]User, error) {
	rows, err := q.db.Query(ctx, "SELECT "+userColumns+` FROM users u
		WHERE u.tenant_id = $1 AND u.role = 'owner' AND u.status = 'active' ORDER BY u.created_at, u.id`, tenantID)
	return collect(rows, err, scanUser)
}

// DeliverSystemNotice records a notification batch sent by the platform
// itself (b.ID chosen by the caller, b.SenderName e.g. "system") and its
// in-app copy for each of userIDs. Repeating it with the same id adds
// nothing. The batch stays "sending" when it is to be mailed (the caller
// finishes it with FinishNotificationBatch), otherwise it is "sent" at once.
// b.Code and b.Params, when Code is set, name the notice's text for the
// console and the mail; b.Title and b.Content are then its English text.
// It returns how many in-app copies this call added.
func (q *Queries) DeliverSystemNotice(ctx context.Context, b *NotificationBatch, userIDs []string) (int, error) {
	var added int
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		status := "sent"
		if b.SendEmail {
			status = "sending"
		}
		var code *string
		var params []byte
		if b.Code != "" {
			code = &b.Code
			p := b.Params
			if p == nil {
				p = map[string]any{}
			}
			var err error
			if params, err = json.Marshal(p); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notification_batches (id, tenant_id, sender_name, title, content, level, send_email,
				status, recipients, finished_at, code, params)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $8 = 'sent' THEN now() END, $10, $11::jsonb)
			ON CONFLICT (id) DO NOTHING`,
			b.ID, b.TenantID, b.SenderName, b.Title, b.Content, b.Level, b.SendEmail, status, len(userIDs), code, params); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO notifications (tenant_id, user_id, batch_id, title, content, code, params, level)
			SELECT nb.tenant_id, u.id, nb.id, nb.title, nb.content, nb.code, nb.params, nb.level
			FROM notification_batches nb JOIN users u ON u.tenant_id = nb.tenant_id AND u.id = ANY($2::uuid[])
			WHERE nb.id = $1
			ON CONFLICT (batch_id, user_id) DO NOTHING`, b.ID, userIDs)
		added = int(tag.RowsAffected())
		return err
	})
	return added, err
}

// AllocationEnd is what EndAllocationWith did.
type AllocationEnd struct {
	Status  string    // the stored status: expired or reclaimed
	EndedAt time.Time // when it ended (the first time, on a repeated call)
	Ended   bool      // this call ended it (false: it had already ended)
	// StoppedTasks are the tenant's live tasks on the machine that the end
	// stopped (tasks.reason.leaseEnded); their workflows are to be told.
	StoppedTasks []string
}

// EndAllocationOptions say how a lease ends.
type EndAllocationOptions struct {
	ID, Status, Reason, ByName string
	Steps                      []HostStep
	// Audit is written in the same transaction (its TenantID, TargetType,
	// TargetID and the before/after of its Detail are filled in here).
	Audit *AuditLog
	// DecidedAt is when the end was decided (zero: now): the lease ended
	// then, whenever the host answers.
	DecidedAt time.Time
	// Cleanup takes the machine out of service in the same transaction
	// until the host confirmed the end-of-lease steps (BeginLeaseCleanup).
	Cleanup bool
}

// EndAllocationWith closes a live lease as expired or reclaimed (the same
// change as EndAllocation) with its audit entry and, with Cleanup, the
// machine's cleanup. A lease that has already ended is left as it is and no
// second audit entry is written, so a retried activity is safe.
// ErrNotFound when there is no such allocation.
func (q *Queries) EndAllocationWith(ctx context.Context, o EndAllocationOptions) (AllocationEnd, error) {
	id, status, reason, byName, steps, a := o.ID, o.Status, o.Reason, o.ByName, o.Steps, o.Audit
	var decided *time.Time
	if !o.DecidedAt.IsZero() {
		decided = &o.DecidedAt
	}
	var res AllocationEnd
	if steps == nil {
		steps = []HostStep{}
	}
	b, err := json.Marshal(withoutChinese(steps))
	if err != nil {
		return res, err
	}
	err = q.InTx(ctx, func(tx pgx.Tx) error {
		var tenantID, machineID, cur string
		var startAt, endAt, endedAt *time.Time
		err := tx.QueryRow(ctx, `SELECT tenant_id, machine_id, status, start_at, end_at, ended_at FROM allocations WHERE id = $1 FOR UPDATE`, id).
			Scan(&tenantID, &machineID, &cur, &startAt, &endAt, &endedAt)
		if err != nil {
			return notFound(err)
		}
		if cur != "pending" && cur != "active" {
			res.Status = cur
			if endedAt != nil {
				res.EndedAt = *endedAt
			}
			return nil
		}
		var newEnd *time.Time
		if err := tx.QueryRow(ctx, `UPDATE allocations SET status = $2, end_reason = $3, ended_by_name = $4, host_steps = $5,
			ended_at = coalesce($6, now()),
			end_at = CASE WHEN $2 = 'reclaimed' THEN least(coalesce(end_at, $6, now()), coalesce($6, now())) ELSE end_at END, updated_at = now()
			WHERE id = $1 RETURNING ended_at, end_at`, id, status, reason, byName, b, decided).Scan(&res.EndedAt, &newEnd); err != nil {
			return err
		}
		res.Status, res.Ended = status, true
		if res.StoppedTasks, err = New(tx).EndLeaseTasks(ctx, tenantID, machineID); err != nil {
			return err
		}
		if o.Cleanup {
			if err := New(tx).BeginLeaseCleanup(ctx, id, machineID); err != nil {
				return err
			}
		}
		if a == nil {
			return nil
		}
		a.TenantID = &tenantID
		if a.TargetType == "" {
			a.TargetType = "allocation"
		}
		a.TargetID = id
		if a.Detail == nil {
			a.Detail = map[string]any{}
		}
		a.Detail["before"] = map[string]any{"status": cur, "startAt": startAt, "endAt": endAt}
		a.Detail["after"] = map[string]any{"status": status, "endAt": newEnd, "endedAt": res.EndedAt, "endReason": reason,
			"endedBy": byName, "hostSteps": steps}
		return New(tx).InsertAudit(ctx, a)
	})
	return res, err
}
