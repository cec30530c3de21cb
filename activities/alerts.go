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

// levelNames are the levels as the console shows them.
var levelNames = map[string]string{"critical": "严重 / critical", "warning": "警告 / warning", "info": "提示 / info"}

// typeNames are the alert types as the console shows them.
var typeNames = map[string]string{"gpu_temperature": "GPU温度 / GPU temperature", "disk_usage": "磁盘空间 / disk usage",
	"memory_usage": "内存使用率 / memory usage", "offline": "离线 / offline",
	"lease_cleanup": "租期清理超时 / lease cleanup overdue"}

func alertTitle(al *store.Alert) string {
	return fmt.Sprintf("告警 %s：%s / alert on %s: %s", al.MachineName, typeNames[al.Type], al.MachineName, al.Type)
}

func alertContent(al *store.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "机器 / Machine: %s (%s)\n", al.MachineName, al.Region)
	fmt.Fprintf(&b, "级别 / Level: %s\n", levelNames[al.Level])
	fmt.Fprintf(&b, "类型 / Type: %s\n", typeNames[al.Type])
	fmt.Fprintf(&b, "内容 / Details: %s\n", al.Message)
	fmt.Fprintf(&b, "发生时间 / Opened at: %s\n", al.CreatedAt.UTC().Format(time.RFC3339))
	if al.Status == "resolved" {
		fmt.Fprintf(&b, "\n此告警已恢复 / This alert has been resolved since (%s).\n", al.Resolution)
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
