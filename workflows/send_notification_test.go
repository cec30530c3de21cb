package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
)

func TestSendNotification(t *testing.T) {
	cases := []struct {
		name       string
		sendEmail  bool
		failMailTo string
		wantStatus string
		want       SendNotificationResult
	}{
		{"in-app only", false, "", "sent", SendNotificationResult{Recipients: 3}},
		{"with mail", true, "", "sent", SendNotificationResult{Recipients: 3, Mailed: 2}},
		{"one mail fails", true, "b@x.test", "sent", SendNotificationResult{Recipients: 3, Mailed: 1, MailFailed: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var a *activities.Notifications
			env.RegisterActivity(a)
			env.OnActivity(a.DeliverNotification, mock.Anything, activities.DeliverInput{BatchID: "b1"}).Return(activities.DeliverResult{
				SendEmail: c.sendEmail,
				// the third user has no address: in-app only
				Recipients: []activities.Recipient{{UserID: "u1", Email: "a@x.test"}, {UserID: "u2", Email: "b@x.test"}, {UserID: "u3"}},
			}, nil).Once()
			env.OnActivity(a.MailNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.MailInput) error {
				if in.To == c.failMailTo {
					return errors.New("mailbox unavailable")
				}
				return nil
			}).Maybe()
			var finished activities.FinishInput
			env.OnActivity(a.FinishNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishInput) error {
				finished = in
				return nil
			}).Once()

			env.ExecuteWorkflow(SendNotification, SendNotificationInput{BatchID: "b1"})
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("workflow: %v", env.GetWorkflowError())
			}
			var got SendNotificationResult
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("result %+v, want %+v", got, c.want)
			}
			if finished.Status != c.wantStatus || finished.Recipients != 3 || (c.failMailTo != "") != (finished.Error != "") {
				t.Fatalf("finish %+v", finished)
			}
			env.AssertExpectations(t)
		})
	}
}

func TestSendNotificationDeliveryFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Notifications
	env.RegisterActivity(a)
	env.OnActivity(a.DeliverNotification, mock.Anything, mock.Anything).Return(activities.DeliverResult{}, errors.New("db down"))
	var finished activities.FinishInput
	env.OnActivity(a.FinishNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishInput) error {
		finished = in
		return nil
	})
	env.ExecuteWorkflow(SendNotification, SendNotificationInput{BatchID: "b1"})
	if env.GetWorkflowError() == nil {
		t.Fatal("workflow succeeded although delivery failed")
	}
	if finished.Status != "failed" {
		t.Fatalf("batch not marked failed: %+v", finished)
	}
}
