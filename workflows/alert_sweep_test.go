package workflows

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
)

func TestAlertSweep(t *testing.T) {
	cases := []struct {
		name     string
		sweepErr error
		wantErr  bool
	}{
		{"sweeps, then starts the notices", nil, false},
		{"a failed sweep still starts the notices", errors.New("db down"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var order []string
			env.RegisterActivityWithOptions(func(context.Context, activities.SweepOfflineAlertsInput) (activities.SweepOfflineAlertsResult, error) {
				order = append(order, "sweep")
				return activities.SweepOfflineAlertsResult{Opened: 2}, c.sweepErr
			}, activity.RegisterOptions{Name: activities.SweepOfflineAlertsActivity})
			env.RegisterActivityWithOptions(func(context.Context, activities.NotifyAlertsInput) (activities.NotifyAlertsResult, error) {
				order = append(order, "notify")
				return activities.NotifyAlertsResult{Started: 2}, nil
			}, activity.RegisterOptions{Name: activities.NotifyAlertsActivity})
			env.ExecuteWorkflow(AlertSweep, AlertSweepInput{})
			var res AlertSweepResult
			err := env.GetWorkflowError()
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v", err)
			}
			if err == nil {
				if err := env.GetWorkflowResult(&res); err != nil || res.Offline.Opened != 2 || res.Notices.Started != 2 {
					t.Fatalf("result %+v %v", res, err)
				}
			}
			if len(order) < 2 || order[0] != "sweep" || order[len(order)-1] != "notify" {
				t.Fatalf("order %v", order)
			}
		})
	}
}
