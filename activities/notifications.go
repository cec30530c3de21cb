// Package activities holds the Temporal activities: structs with their
// dependencies, grouped by what they touch.
package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/store"
)

// Notifications delivers admin messages to a customer's users.
type Notifications struct {
	Store *store.Store
	Mail  mail.Sender
}

type DeliverInput struct{ BatchID string }

type Recipient struct {
	UserID, Email, Name string
}

type DeliverResult struct {
	SendEmail  bool
	Recipients []Recipient
}

// DeliverNotification writes the in-app copy for every active user of the
// batch's customer; repeating it adds nothing.
func (a *Notifications) DeliverNotification(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	b, err := a.Store.GetNotificationBatch(ctx, in.BatchID)
	if errors.Is(err, store.ErrNotFound) {
		return DeliverResult{}, temporal.NewNonRetryableApplicationError("notification batch not found", "NotFound", err)
	}
	if err != nil {
		return DeliverResult{}, fmt.Errorf("unable to load notification batch: %w", err)
	}
	users, err := a.Store.TenantRecipients(ctx, b.TenantID)
	if err != nil {
		return DeliverResult{}, fmt.Errorf("unable to list recipients: %w", err)
	}
	res := DeliverResult{SendEmail: b.SendEmail}
	ids := make([]string, 0, len(users))
	for _, u := range users {
		ids = append(ids, u.ID)
		res.Recipients = append(res.Recipients, Recipient{UserID: u.ID, Email: u.Email, Name: u.Name})
	}
	if _, err := a.Store.DeliverNotification(ctx, b.ID, ids); err != nil {
		return DeliverResult{}, fmt.Errorf("unable to record notifications: %w", err)
	}
	return res, nil
}

type MailInput struct {
	BatchID string
	To      string
	Name    string
}

// MailNotification renders the batch for one recipient and sends it.
func (a *Notifications) MailNotification(ctx context.Context, in MailInput) error {
	b, err := a.Store.GetNotificationBatch(ctx, in.BatchID)
	if err != nil {
		return fmt.Errorf("unable to load notification batch: %w", err)
	}
	title, content := b.Title, b.Content
	if b.Code != "" {
		// a system notice: its text in each language, from its code
		if t, c, ok := NoticeMailText(b.Code, b.Params); ok {
			title, content = t, c
		}
	}
	subject, text, html, err := mail.Render("notification", map[string]any{
		"Name": in.Name, "Title": title, "Content": content, "Level": b.Level})
	if err != nil {
		return temporal.NewNonRetryableApplicationError("unable to render notification mail", "Template", err)
	}
	if err := a.Mail.Send(ctx, mail.Message{To: []string{in.To}, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("unable to send notification mail: %w", err)
	}
	return nil
}

type FinishInput struct {
	BatchID    string
	Status     string
	Recipients int
	Error      string
}

func (a *Notifications) FinishNotification(ctx context.Context, in FinishInput) error {
	if err := a.Store.FinishNotificationBatch(ctx, in.BatchID, in.Status, in.Recipients, in.Error); err != nil {
		return fmt.Errorf("unable to finish notification batch: %w", err)
	}
	return nil
}
