package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// AlertNotifyInput names the alert; everything else is read from it.
type AlertNotifyInput struct {
	AlertID string
	// ConsoleURL is the console's alert page, linked from the mail and the webhook (optional).
	ConsoleURL string
}

type AlertNotifyResult struct {
	Recipients int
	Mailed     int
	MailFailed int
	Webhook    string // "sent", "failed" or "disabled"
}

// AlertNotifyWorkflowID makes a repeated start for the same alert a no-op
// (start it with the reject-duplicate ID reuse policy).
func AlertNotifyWorkflowID(alertID string) string { return "alert-notify:" + alertID }

// Mail and webhook retries: about an hour and a half of tries, so a mail
// server or receiver that is down for a while still gets the notice.
var alertDeliveryRetry = &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 15}

// AlertNotify tells the platform admins about a new critical alert: one
// mail per admin, each with its own retries so that one bad address does
// not hold up the others, and the webhook when one is configured. The api
// starts it for the alerts its evaluation opens; the worker's AlertSweep for
// offline alerts and for any that still have none.
func AlertNotify(ctx workflow.Context, in AlertNotifyInput) (AlertNotifyResult, error) {
	var a *activities.Alerts
	var res AlertNotifyResult
	loadCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var notice activities.AlertNotice
	if err := workflow.ExecuteActivity(loadCtx, a.LoadAlertNotice, activities.AlertNoticeInput{AlertID: in.AlertID}).Get(ctx, &notice); err != nil {
		return res, fmt.Errorf("unable to load alert notice: %w", err)
	}
	res.Recipients = len(notice.Recipients)

	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: alertDeliveryRetry})
	mails := make([]workflow.Future, 0, len(notice.Recipients))
	for _, r := range notice.Recipients {
		mails = append(mails, workflow.ExecuteActivity(deliverCtx, a.MailAlert,
			activities.MailAlertInput{AlertID: in.AlertID, To: r.Email, Name: r.Name, ConsoleURL: in.ConsoleURL}))
	}
	var hook workflow.Future
	res.Webhook = "disabled"
	if notice.Webhook {
		hook = workflow.ExecuteActivity(deliverCtx, a.PostAlertWebhook, activities.AlertWebhookInput{AlertID: in.AlertID, ConsoleURL: in.ConsoleURL})
	}
	for _, f := range mails {
		if err := f.Get(ctx, nil); err != nil {
			res.MailFailed++
			workflow.GetLogger(ctx).Warn("alert mail failed", "alert", in.AlertID, "err", err)
		} else {
			res.Mailed++
		}
	}
	if hook != nil {
		res.Webhook = "sent"
		if err := hook.Get(ctx, nil); err != nil {
			res.Webhook = "failed"
			workflow.GetLogger(ctx).Warn("alert webhook failed", "alert", in.AlertID, "err", err)
		}
	}
	return res, nil
}

// RegisterAlertNotify registers the workflow and its activities on a worker.
func RegisterAlertNotify(r worker.Registry, a *activities.Alerts) {
	r.RegisterWorkflow(AlertNotify)
	r.RegisterActivity(a)
}
