package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

type NotificationBatch struct {
	ID         string         `json:"id" format:"uuid"`
	TenantID   string         `json:"tenantId" format:"uuid"`
	Title      string         `json:"title"`
	Content    string         `json:"content"`
	Code       string         `json:"code" doc:"The code of a system notice (notices.leaseExpiring …), which the console translates with params; empty for a message written by an admin and for older notices (title and content hold the text)"`
	Params     map[string]any `json:"params" doc:"The figures of the notice's code (machine, gpuModel, gpuCount, endAt, name, status, reason …)"`
	Level      string         `json:"level" enum:"info,warning,critical"`
	SendEmail  bool           `json:"sendEmail"`
	Status     string         `json:"status" enum:"sending,sent,failed"`
	Recipients int            `json:"recipients"`
	Error      string         `json:"error"`
	SenderName string         `json:"senderName"`
	CreatedAt  time.Time      `json:"createdAt"`
	FinishedAt *time.Time     `json:"finishedAt"`
}

type Notification struct {
	ID        string         `json:"id" format:"uuid"`
	Title     string         `json:"title"`
	Content   string         `json:"content"`
	Code      string         `json:"code" doc:"The code of a system notice (notices.leaseExpiring, notices.taskSucceeded …), which the console translates with params; empty for a message written by an admin and for older notices (title and content hold the text)"`
	Params    map[string]any `json:"params" doc:"The figures of the notice's code (machine, gpuModel, gpuCount, endAt, name, status, reason …)"`
	Level     string         `json:"level" enum:"info,warning,critical"`
	ReadAt    *time.Time     `json:"readAt"`
	CreatedAt time.Time      `json:"createdAt"`
}

func (q *Queries) CreateNotificationBatch(ctx context.Context, b *NotificationBatch, senderID string) error {
	return q.db.QueryRow(ctx, `INSERT INTO notification_batches (tenant_id, sender_id, sender_name, title, content, level, send_email)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, status, created_at`,
		b.TenantID, senderID, b.SenderName, b.Title, b.Content, b.Level, b.SendEmail).Scan(&b.ID, &b.Status, &b.CreatedAt)
}

const batchColumns = `id, tenant_id, title, content, coalesce(code, ''), coalesce(params, '{}'), level, send_email, status, recipients, error, sender_name, created_at, finished_at`

func scanNotificationBatch(row pgx.Row) (*NotificationBatch, error) {
	var b NotificationBatch
	err := row.Scan(&b.ID, &b.TenantID, &b.Title, &b.Content, &b.Code, &b.Params, &b.Level, &b.SendEmail, &b.Status,
		&b.Recipients, &b.Error, &b.SenderName, &b.CreatedAt, &b.FinishedAt)
	if err != nil {
		return nil, notFound(err)
	}
	if b.Params == nil {
		b.Params = map[string]any{}
	}
	return &b, nil
}

func (q *Queries) GetNotificationBatch(ctx context.Context, id string) (*NotificationBatch, error) {
	return scanNotificationBatch(q.db.QueryRow(ctx, `SELECT `+batchColumns+` FROM notification_batches WHERE id = $1`, id))
}

func (q *Queries) ListNotificationBatches(ctx context.Context, tenantID string, p Page) ([]NotificationBatch, int, error) {
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM notification_batches WHERE tenant_id = $1`, tenantID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT `+batchColumns+`
		FROM notification_batches WHERE tenant_id = $1 ORDER BY created_at DESC, id`+p.limitOffset(), tenantID)
	list, err := collect(rows, err, scanNotificationBatch)
	return list, total, err
}

// DeliverNotification records the in-app copy for each user; a retried call adds nothing twice.
func (q *Queries) DeliverNotification(ctx context.Context, batchID string, userIDs []string) (int, error) {
	tag, err := q.db.Exec(ctx, `INSERT INTO notifications (tenant_id, user_id, batch_id, title, content, code, params, level)
		SELECT b.tenant_id, u.id, b.id, b.title, b.content, b.code, b.params, b.level
		FROM notification_batches b JOIN users u ON u.tenant_id = b.tenant_id AND u.id = ANY($2::uuid[])
		WHERE b.id = $1
		ON CONFLICT (batch_id, user_id) DO NOTHING`, batchID, userIDs)
	return int(tag.RowsAffected()), err
}

func (q *Queries) FinishNotificationBatch(ctx context.Context, id, status string, recipients int, errText string) error {
	_, err := q.db.Exec(ctx, `UPDATE notification_batches SET status = $2, recipients = $3, error = $4, finished_at = now() WHERE id = $1`,
		id, status, recipients, errText)
	return err
}

func (q *Queries) ListNotifications(ctx context.Context, tenantID, userID string, unreadOnly bool, p Page) ([]Notification, int, int, error) {
	var w where
	w.add("tenant_id = %s", tenantID)
	w.add("user_id = %s", userID)
	var unread int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL`,
		tenantID, userID).Scan(&unread); err != nil {
		return nil, 0, 0, err
	}
	if unreadOnly {
		w.raw("read_at IS NULL")
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM notifications"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, 0, err
	}
	rows, err := q.db.Query(ctx, "SELECT id, title, content, coalesce(code, ''), coalesce(params, '{}'), level, read_at, created_at FROM notifications"+w.sql()+
		" ORDER BY created_at DESC, id"+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanNotification)
	return list, total, unread, err
}

func scanNotification(row pgx.Row) (*Notification, error) {
	var n Notification
	if err := row.Scan(&n.ID, &n.Title, &n.Content, &n.Code, &n.Params, &n.Level, &n.ReadAt, &n.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	if n.Params == nil {
		n.Params = map[string]any{}
	}
	return &n, nil
}

// MarkNotificationsRead marks one (id) or all (id empty) of the caller's notifications read.
func (q *Queries) MarkNotificationsRead(ctx context.Context, tenantID, userID, id string) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE notifications SET read_at = now()
		WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL AND ($3 = '' OR id::text = $3)`, tenantID, userID, id)
	return int(tag.RowsAffected()), err
}

// NotificationExists tells a missing id (404) from one already read.
func (q *Queries) NotificationExists(ctx context.Context, tenantID, userID, id string) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE id::text = $3 AND tenant_id = $1 AND user_id = $2)`,
		tenantID, userID, id).Scan(&ok)
	return ok, err
}
