package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/store"
)

// StorageSample records one point of the storage trend (capacity, used,
// datasets): hourly by a schedule (worker/schedules.go), and once when the
// schedule is created so that the trend is not empty.
func StorageSample(ctx workflow.Context, in activities.StorageSampleInput) (store.StorageSample, error) {
	var a *activities.Storage
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 5},
	})
	var s store.StorageSample
	if err := workflow.ExecuteActivity(ctx, a.SampleStorage, in).Get(ctx, &s); err != nil {
		return s, fmt.Errorf("unable to sample the storage: %w", err)
	}
	return s, nil
}
