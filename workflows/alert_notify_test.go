package workflows

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
)

func TestAlertNotify(t *testing.T) {
	admins := []activities.Recipient{{UserID: "u1", Email: "a@x.test", Name: "A"}, {UserID: "u2", Email: "b@x.test", Name: "B"}}
	cases := []struct {
		name        string
		webhook     bool
		mailFails   int // attempts that fail for b@x.test before it works (-1: always)
		webhookFail error
		want        AlertNotifyResult
	}{
		{"mail only", false, 0, nil, AlertNotifyResult{Recipients: 2, Mailed: 2, Webhook: "disabled"}},
		{"mail and webhook", true, 0, nil, AlertNotifyResult{Recipients: 2, Mailed: 2, Webhook: "sent"}},
		{"a failing mail server is retried", true, 3, nil, AlertNotifyResult{Recipients: 2, Mailed: 2, Webhook: "sent"}},
		{"a mail that never goes out", false, -1, nil, AlertNotifyResult{Recipients: 2, Mailed: 1, MailFailed: 1, Webhook: "disabled"}},
		{"the webhook refuses", true, 0, temporal.NewNonRetryableApplicationError("refused", "WebhookRefused", nil),
			AlertNotifyResult{Recipients: 2, Mailed: 2, Webhook: "failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var a *activities.Alerts
			env.RegisterActivity(a)
			env.OnActivity(a.LoadAlertNotice, mock.Anything, activities.AlertNoticeInput{AlertID: "al1"}).
				Return(activities.AlertNotice{Recipients: admins, Webhook: c.webhook}, nil).Once()
			var attempts atomic.Int32
			env.OnActivity(a.MailAlert, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.MailAlertInput) error {
				if in.AlertID != "al1" || in.ConsoleURL != "https://console.test/admin/monitoring/alerts" {
					return temporal.NewNonRetryableApplicationError("bad input", "Test", nil)
				}
				if in.To == "b@x.test" {
					n := attempts.Add(1)
					if c.mailFails < 0 || int(n) <= c.mailFails {
						return errors.New("421 service not available")
					}
				}
				return nil
			})
			if c.webhook {
				env.OnActivity(a.PostAlertWebhook, mock.Anything, activities.AlertWebhookInput{AlertID: "al1", ConsoleURL: "https://console.test/admin/monitoring/alerts"}).
					Return(c.webhookFail).Once()
			}
			env.ExecuteWorkflow(AlertNotify, AlertNotifyInput{AlertID: "al1", ConsoleURL: "https://console.test/admin/monitoring/alerts"})
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("workflow: %v", env.GetWorkflowError())
			}
			var got AlertNotifyResult
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("result %+v, want %+v", got, c.want)
			}
			if c.mailFails > 0 && int(attempts.Load()) != c.mailFails+1 {
				t.Fatalf("mail to b tried %d times, want %d", attempts.Load(), c.mailFails+1)
			}
			if c.mailFails < 0 && int(attempts.Load()) != int(alertDeliveryRetry.MaximumAttempts) {
				t.Fatalf("mail to b tried %d times, want %d", attempts.Load(), alertDeliveryRetry.MaximumAttempts)
			}
			env.AssertExpectations(t)
		})
	}
}

func TestAlertNotifyUnknownAlert(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Alerts
	env.RegisterActivity(a)
	env.OnActivity(a.LoadAlertNotice, mock.Anything, mock.Anything).
		Return(activities.AlertNotice{}, temporal.NewNonRetryableApplicationError("alert not found", "NotFound", nil)).Once()
	env.ExecuteWorkflow(AlertNotify, AlertNotifyInput{AlertID: "gone"})
	if env.GetWorkflowError() == nil {
		t.Fatal("want an error for an unknown alert")
	}
	env.AssertExpectations(t)
}

func TestAlertNotifyWorkflowID(t *testing.T) {
	if got := AlertNotifyWorkflowID("abc"); got != "alert-notify:abc" {
		t.Fatal(got)
	}
}
