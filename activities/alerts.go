package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/store"
)

// Alerts tells the platform admins about new critical alerts: by mail and,
// when WebhookURL is set (ALERT_WEBHOOK_URL), with a JSON POST.
type Alerts struct {
	Store      *store.Store
	Mail       mail.Sender
	WebhookURL string
	// HTTP posts the webhook; nil means a client with a 10 s timeout.
	HTTP *http.Client
}

type AlertNoticeInput struct{ AlertID string }

// AlertNotice is what the workflow needs to fan the notice out.
type AlertNotice struct {
	Recipients []Recipient
	Webhook    bool
}

// LoadAlertNotice finds the admins to mail and whether a webhook is configured.
func (a *Alerts) LoadAlertNotice(ctx context.Context, in AlertNoticeInput) (AlertNotice, error) {
	if _, err := a.Store.GetAlert(ctx, in.AlertID); errors.Is(err, store.ErrNotFound) {
		return AlertNotice{}, temporal.NewNonRetryableApplicationError("alert not found", "NotFound", err)
	} else if err != nil {
		return AlertNotice{}, fmt.Errorf("unable to load alert: %w", err)
	}
	admins, err := a.Store.AdminRecipients(ctx)
	if err != nil {
		return AlertNotice{}, fmt.Errorf("unable to list admins: %w", err)
	}
	n := AlertNotice{Webhook: a.WebhookURL != ""}
	for _, u := range admins {
		n.Recipients = append(n.Recipients, Recipient{UserID: u.ID, Email: u.Email, Name: u.Name})
	}
	return n, nil
}

type MailAlertInput struct {
	AlertID    string
	To         string
	Name       string
	ConsoleURL string // the alert page, for the link; optional
}

// word is a word of the console (a level, a type) in both languages.
func word(code string) eval.Template {
	if t, ok := eval.Texts[code]; ok {
		return t
	}
	return eval.Template{Zh: code, En: code}
}

// alertText is the alert's text in both languages, from its code; an old
// alert without one keeps its stored text.
func alertText(al *store.Alert) eval.Template {
	if _, ok := eval.Texts[al.Code]; !ok {
		return eval.Template{Zh: al.Message, En: al.Message}
	}
	t := eval.Text{Code: al.Code, Params: al.Params}
	return eval.Template{Zh: t.Chinese(), En: t.English()}
}

// The mail is for the platform's admins, in both languages, Chinese first.
func alertTitle(al *store.Alert) string {
	typ := word("alerting.type." + al.Type)
	return fmt.Sprintf("告警 %s：%s", al.MachineName, typ.Zh) + " | " + fmt.Sprintf("alert on %s: %s", al.MachineName, typ.En)
}

func alertContent(al *store.Alert) string {
	level, typ, text := word("alerting.level."+al.Level), word("alerting.type."+al.Type), alertText(al)
	var b strings.Builder
	fmt.Fprintf(&b, "机器 Machine: %s (%s)\n", al.MachineName, al.Region)
	fmt.Fprintf(&b, "级别 Level: %s %s\n", level.Zh, level.En)
	fmt.Fprintf(&b, "类型 Type: %s %s\n", typ.Zh, typ.En)
	fmt.Fprintf(&b, "内容: %s\nDetails: %s\n", text.Zh, text.En)
	fmt.Fprintf(&b, "发生时间 Opened at: %s\n", al.CreatedAt.UTC().Format(time.RFC3339))
	if al.Status == "resolved" {
		fmt.Fprintf(&b, "\n此告警已恢复（%s）。\nThis alert has been resolved since (%s).\n", al.Resolution, al.Resolution)
	}
	return b.String()
}

// MailAlert mails one admin about the alert.
func (a *Alerts) MailAlert(ctx context.Context, in MailAlertInput) error {
	al, err := a.Store.GetAlert(ctx, in.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("alert not found", "NotFound", err)
	}
	if err != nil {
		return fmt.Errorf("unable to load alert: %w", err)
	}
	msg, err := mail.Build(mail.TemplateNotification, mail.Notification{Name: in.Name, Title: alertTitle(al), Content: alertContent(al),
		Level: al.Level, URL: in.ConsoleURL}, in.To)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("unable to render alert mail", "Template", err)
	}
	if err := a.Mail.Send(ctx, msg); err != nil {
		if errors.Is(err, mail.ErrDisabled) {
			return temporal.NewNonRetryableApplicationError("mail is not configured", "MailDisabled", err)
		}
		return fmt.Errorf("unable to send alert mail: %w", err)
	}
	return nil
}

type AlertWebhookInput struct {
	AlertID    string
	ConsoleURL string
}

// AlertWebhookPayload is the JSON body POSTed to ALERT_WEBHOOK_URL.
type AlertWebhookPayload struct {
	Event  string      `json:"event"` // "alert.opened"
	SentAt time.Time   `json:"sentAt"`
	URL    string      `json:"url,omitempty"`
	Alert  store.Alert `json:"alert"`
}

// PostAlertWebhook POSTs the alert as JSON to the configured URL; nothing
// when none is configured. 2xx is success; other 4xx answers (but 408 and
// 429) are permanent failures, everything else is retried.
func (a *Alerts) PostAlertWebhook(ctx context.Context, in AlertWebhookInput) error {
	if a.WebhookURL == "" {
		return nil
	}
	al, err := a.Store.GetAlert(ctx, in.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("alert not found", "NotFound", err)
	}
	if err != nil {
		return fmt.Errorf("unable to load alert: %w", err)
	}
	body, err := json.Marshal(AlertWebhookPayload{Event: "alert.opened", SentAt: time.Now().UTC(), URL: in.ConsoleURL, Alert: *al})
	if err != nil {
		return temporal.NewNonRetryableApplicationError("unable to encode alert", "Encode", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError("invalid ALERT_WEBHOOK_URL", "Config", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "RemoteGPU-Alerts/1")
	req.Header.Set("Idempotency-Key", "alert-opened:"+al.ID)
	c := a.HTTP
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("unable to post alert webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("alert webhook refused the alert: %s", resp.Status), "WebhookRefused", nil)
	}
	return fmt.Errorf("alert webhook answered %s", resp.Status)
}

// The activities of the AlertSweep workflow, implemented by
// internal/alerting (registered by name: it starts the AlertNotify workflows).
const (
	SweepOfflineAlertsActivity = "SweepOfflineAlerts"
	NotifyAlertsActivity       = "NotifyAlerts"
)

type SweepOfflineAlertsInput struct{}

type SweepOfflineAlertsResult struct {
	Opened   int // offline alerts opened
	Resolved int // alerts of machines back online or deleted
}

type NotifyAlertsInput struct {
	Limit int // at most this many notices started per run (default 50)
}

type NotifyAlertsResult struct {
	Started int
}
