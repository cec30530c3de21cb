// Package notices holds what admins tell customers: notifications sent to
// a customer's users (a workflow delivers them in-app and by mail), the
// users' inbox, and the announcements everyone sees. The api calls one
// method per request; the service owns its transactions, audit records and
// workflow starts.
package notices

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

type Service struct {
	Store    *store.Store
	Temporal client.Client
	// TaskQueue is where the notification workflows run.
	TaskQueue string
}

func New(st *store.Store, temporal client.Client, taskQueue string) *Service {
	return &Service{Store: st, Temporal: temporal, TaskQueue: taskQueue}
}

type SendInput struct {
	TenantID  string
	Title     string
	Content   string
	Level     string // info, warning or critical
	SendEmail bool   // also mail every user of the customer
}

type Sent struct {
	BatchID    string
	WorkflowID string
}

// Send sends a notification to every user of a customer: the batch and its
// audit record are written together, then a workflow delivers it. When the
// workflow cannot start, the batch is marked failed, the failure is
// recorded and the caller is told to try again.
func (s *Service) Send(ctx context.Context, in SendInput) (*Sent, error) {
	t, err := s.Store.GetTenant(ctx, in.TenantID)
	if err != nil {
		return nil, accounts.CustomerNotFound(err)
	}
	if s.Temporal == nil {
		return nil, errUnavailable()
	}
	p := caller.From(ctx)
	b := store.NotificationBatch{TenantID: t.ID, Title: in.Title, Content: in.Content, Level: in.Level,
		SendEmail: in.SendEmail, SenderName: p.Name}
	if b.SenderName == "" {
		b.SenderName = p.Username
	}
	var wfID string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateNotificationBatch(ctx, &b, p.UserID); err != nil {
			return err
		}
		wfID = workflows.SendNotificationWorkflowID(b.ID)
		return audit.Record(ctx, tx, audit.Entry{Action: "customer.notify", TargetType: "notification", TargetID: b.ID, TenantID: t.ID,
			Success: true, Detail: map[string]any{"title": b.Title, "level": b.Level, "sendEmail": b.SendEmail, "workflowId": wfID}})
	})
	if err != nil {
		return nil, err
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wfID, TaskQueue: s.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.SendNotification, workflows.SendNotificationInput{BatchID: b.ID})
	if err != nil {
		slog.ErrorContext(ctx, "unable to start notification workflow", "batch", b.ID, "err", err)
		_ = s.Store.FinishNotificationBatch(ctx, b.ID, "failed", 0, "workflow could not start")
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "customer.notify", TargetType: "notification", TargetID: b.ID,
			TenantID: t.ID, Success: false, Detail: map[string]any{"reason": "workflow could not start", "workflowId": wfID}})
		return nil, errUnavailable()
	}
	return &Sent{BatchID: b.ID, WorkflowID: wfID}, nil
}

// MarkRead marks one of the caller's notifications read (id), or all of
// them (id empty); it returns how many were unread.
func (s *Service) MarkRead(ctx context.Context, id string) (int, error) {
	p := caller.From(ctx)
	n, err := s.Store.MarkNotificationsRead(ctx, p.TenantID, p.UserID, id)
	if err != nil || n > 0 || id == "" {
		return n, err
	}
	exists, err := s.Store.NotificationExists(ctx, p.TenantID, p.UserID, id)
	if err != nil {
		return 0, err
	}
	if !exists {
		return 0, apperr.New(apperr.NotFound, "accounts.notificationNotFound", "notification not found")
	}
	return 0, nil
}

type AnnouncementInput struct {
	Title, Content string
	Level          string // info, warning or critical
	Published      bool
}

// CreateAnnouncement adds an announcement.
func (s *Service) CreateAnnouncement(ctx context.Context, in AnnouncementInput) (*store.Announcement, error) {
	a := store.Announcement{Title: in.Title, Content: in.Content, Level: in.Level, Published: in.Published}
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateAnnouncement(ctx, &a, caller.From(ctx).UserID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "announcement.create", TargetType: "announcement", TargetID: a.ID, Success: true,
			Detail: map[string]any{"title": a.Title}})
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAnnouncement edits an announcement.
func (s *Service) UpdateAnnouncement(ctx context.Context, id string, in AnnouncementInput) (*store.Announcement, error) {
	a := store.Announcement{ID: id, Title: in.Title, Content: in.Content, Level: in.Level, Published: in.Published}
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).UpdateAnnouncement(ctx, &a); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "announcement.update", TargetType: "announcement", TargetID: a.ID, Success: true,
			Detail: map[string]any{"title": a.Title, "published": a.Published}})
	})
	if err != nil {
		return nil, announcementNotFound(err)
	}
	return &a, nil
}

// DeleteAnnouncement deletes an announcement.
func (s *Service) DeleteAnnouncement(ctx context.Context, id string) error {
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).DeleteAnnouncement(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "announcement.delete", TargetType: "announcement", TargetID: id, Success: true})
	})
	return announcementNotFound(err)
}

func announcementNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "accounts.announcementNotFound", "announcement not found")
	}
	return err
}

func errUnavailable() error {
	return apperr.New(apperr.Unavailable, "accounts.notifyUnavailable", "the workflow service is unavailable; try again later")
}
