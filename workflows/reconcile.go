package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// ReconcileEvery is how often the reconciler schedule runs.
const ReconcileEvery = time.Minute

// Reconcile makes the database and the workflows agree: a lease recorded
// without its workflow (the api died between the commit and the start, or
// the workflow was terminated) gets one, a machine waiting for a cleanup
// that is not running gets it, and a leased machine whose SSH keys lag
// behind the tenant's is synced. Started by a schedule.
func Reconcile(ctx workflow.Context, in activities.ReconcileInput) (activities.ReconcileResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		// the next run is a minute away
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3},
	})
	var res activities.ReconcileResult
	if err := workflow.ExecuteActivity(ctx, activities.ReconcileActivity, in).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("unable to reconcile: %w", err)
	}
	return res, nil
}
