package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/store"
)

// The monitoring's housekeeping workflows. Each is short and started by a
// Temporal schedule (worker/schedules.go); all their SQL is in activities.

// OfflineDetectionInput: a machine is offline after OfflineAfter without a sample (3 intervals).
type OfflineDetectionInput struct {
	OfflineAfter time.Duration
}

// OfflineDetection turns silent machines offline.
func OfflineDetection(ctx workflow.Context, in OfflineDetectionInput) (activities.MarkOfflineResult, error) {
	var a *activities.Metrics
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		// the next run is seconds away: a failing one need not insist
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res activities.MarkOfflineResult
	err := workflow.ExecuteActivity(ctx, a.MarkOffline, activities.MarkOfflineInput{OfflineAfter: in.OfflineAfter}).Get(ctx, &res)
	if err != nil {
		return res, fmt.Errorf("unable to detect offline machines: %w", err)
	}
	return res, nil
}

// MetricsRollupInput names the level: store.Level1m or store.Level1h.
type MetricsRollupInput struct {
	Level string
}

type MetricsRollupResult struct {
	Calls int       // activity calls (more than one when catching up)
	Until time.Time // the level is computed up to here
	Late  int       // machines whose late samples were recomputed
}

// rollupSpan is how many buckets one activity call computes; rollupMaxCalls
// bounds one run (the next run goes on from there).
const (
	rollupSpan1m   = 60 * time.Minute
	rollupSpan1h   = 24 * time.Hour
	rollupMaxCalls = 48
)

// MetricsRollup brings a roll-up level up to date, in chunks.
func MetricsRollup(ctx workflow.Context, in MetricsRollupInput) (MetricsRollupResult, error) {
	var a *activities.Metrics
	span := rollupSpan1m
	switch in.Level {
	case store.Level1m:
	case store.Level1h:
		span = rollupSpan1h
	default:
		return MetricsRollupResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown roll-up level %q", in.Level), activities.ErrTypeInvalid, nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	var res MetricsRollupResult
	for res.Calls < rollupMaxCalls {
		var r store.RollupResult
		if err := workflow.ExecuteActivity(ctx, a.RollUp, activities.RollUpInput{Level: in.Level, MaxSpan: span}).Get(ctx, &r); err != nil {
			return res, fmt.Errorf("unable to roll up %s: %w", in.Level, err)
		}
		res.Calls++
		res.Until = r.To
		res.Late += r.Late
		if !r.More {
			break
		}
	}
	return res, nil
}

// MetricsMaintenanceInput is the retention to apply (from configuration).
type MetricsMaintenanceInput struct {
	RetentionRaw time.Duration
	Retention1m  time.Duration
	Retention1h  time.Duration
	DaysAhead    int // partitions created ahead; 0 means 2
}

type MetricsMaintenanceResult struct {
	Created []string
	Dropped []string
}

// MetricsMaintenance creates the coming partitions, then drops expired ones.
func MetricsMaintenance(ctx workflow.Context, in MetricsMaintenanceInput) (MetricsMaintenanceResult, error) {
	var a *activities.Metrics
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	if in.DaysAhead <= 0 {
		in.DaysAhead = 2
	}
	var res MetricsMaintenanceResult
	var created activities.EnsurePartitionsResult
	if err := workflow.ExecuteActivity(ctx, a.EnsurePartitions, activities.EnsurePartitionsInput{DaysAhead: in.DaysAhead}).Get(ctx, &created); err != nil {
		return res, fmt.Errorf("unable to create partitions: %w", err)
	}
	res.Created = created.Created
	var dropped activities.DropExpiredResult
	if err := workflow.ExecuteActivity(ctx, a.DropExpired, activities.DropExpiredInput{RetentionRaw: in.RetentionRaw,
		Retention1m: in.Retention1m, Retention1h: in.Retention1h}).Get(ctx, &dropped); err != nil {
		return res, fmt.Errorf("unable to apply the retention: %w", err)
	}
	res.Dropped = dropped.Dropped
	return res, nil
}
