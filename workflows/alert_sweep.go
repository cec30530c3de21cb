package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// AlertSweepEvery is how often the alert sweep schedule runs.
const AlertSweepEvery = 10 * time.Second

type AlertSweepInput struct{}

type AlertSweepResult struct {
	Offline activities.SweepOfflineAlertsResult
	Notices activities.NotifyAlertsResult
}

// AlertSweep is the alerting's periodic work, started by a schedule: open
// the offline alerts of machines that stopped reporting (and resolve those
// of machines back), then start the notices of the critical alerts that
// have none yet (those it opened, and those whose start from the api
// failed). A failed sweep does not hold up the notices.
func AlertSweep(ctx workflow.Context, _ AlertSweepInput) (AlertSweepResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// the next run is seconds away: a failing one need not insist
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res AlertSweepResult
	sweepErr := workflow.ExecuteActivity(ctx, activities.SweepOfflineAlertsActivity, activities.SweepOfflineAlertsInput{}).Get(ctx, &res.Offline)
	if err := workflow.ExecuteActivity(ctx, activities.NotifyAlertsActivity, activities.NotifyAlertsInput{}).Get(ctx, &res.Notices); err != nil {
		return res, fmt.Errorf("unable to start alert notices: %w", err)
	}
	if sweepErr != nil {
		return res, fmt.Errorf("unable to sweep offline alerts: %w", sweepErr)
	}
	return res, nil
}
