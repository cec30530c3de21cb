// Package workflows holds the Temporal workflows, one per file.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// SendNotificationInput names the batch the admin created; everything else is read from it.
type SendNotificationInput struct {
	BatchID string
}

type SendNotificationResult struct {
	Recipients int
	Mailed     int
	MailFailed int
}

// SendNotificationWorkflowID makes a repeated start for the same batch a no-op.
func SendNotificationWorkflowID(batchID string) string { return "notification:" + batchID }

// SendNotification delivers an admin's message to every active user of a
// customer: the in-app copy first (idempotent per user), then, when asked,
// one mail per user with its own retries so a bad address does not hold up
// the others. The batch records the outcome.
func SendNotification(ctx workflow.Context, in SendNotificationInput) (SendNotificationResult, error) {
	var a *activities.Notifications
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var res SendNotificationResult

	var delivered activities.DeliverResult
	if err := workflow.ExecuteActivity(ctx, a.DeliverNotification, activities.DeliverInput{BatchID: in.BatchID}).Get(ctx, &delivered); err != nil {
		finish(ctx, in.BatchID, "failed", 0, err.Error())
		return res, fmt.Errorf("unable to deliver notification: %w", err)
	}
	res.Recipients = len(delivered.Recipients)

	if delivered.SendEmail {
		mailCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 6},
		})
		futures := make([]workflow.Future, 0, len(delivered.Recipients))
		for _, r := range delivered.Recipients {
			if r.Email == "" {
				continue
			}
			futures = append(futures, workflow.ExecuteActivity(mailCtx, a.MailNotification, activities.MailInput{BatchID: in.BatchID, To: r.Email, Name: r.Name}))
		}
		for _, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				res.MailFailed++
			} else {
				res.Mailed++
			}
		}
	}
	status, errText := "sent", ""
	if res.MailFailed > 0 {
		errText = fmt.Sprintf("%d of %d mails failed", res.MailFailed, res.MailFailed+res.Mailed)
		if res.Mailed == 0 && res.Recipients > 0 {
			status = "failed"
		}
	}
	if err := finish(ctx, in.BatchID, status, res.Recipients, errText); err != nil {
		return res, err
	}
	return res, nil
}

func finish(ctx workflow.Context, batchID, status string, recipients int, errText string) error {
	var a *activities.Notifications
	return workflow.ExecuteActivity(ctx, a.FinishNotification, activities.FinishInput{
		BatchID: batchID, Status: status, Recipients: recipients, Error: errText}).Get(ctx, nil)
}
