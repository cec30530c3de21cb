package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/store"
)

func TestOfflineDetection(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Metrics
	env.RegisterActivity(a)
	env.OnActivity(a.MarkOffline, mock.Anything, activities.MarkOfflineInput{OfflineAfter: 15 * time.Second}).
		Return(activities.MarkOfflineResult{MachineIDs: []string{"m1"}}, nil).Once()
	env.ExecuteWorkflow(OfflineDetection, OfflineDetectionInput{OfflineAfter: 15 * time.Second})
	var res activities.MarkOfflineResult
	if err := env.GetWorkflowResult(&res); err != nil || len(res.MachineIDs) != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
	env.AssertExpectations(t)
}

// A level that is behind is caught up in chunks, bounded per run.
func TestMetricsRollupCatchesUp(t *testing.T) {
	cases := []struct {
		name      string
		level     string
		behind    int // chunks still to do
		wantCalls int
		wantSpan  time.Duration
	}{
		{"up to date", store.Level1m, 0, 1, time.Hour},
		{"three chunks behind", store.Level1m, 3, 4, time.Hour},
		{"far behind: bounded", store.Level1m, 1000, rollupMaxCalls, time.Hour},
		{"hour level", store.Level1h, 1, 2, 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var a *activities.Metrics
			env.RegisterActivity(a)
			calls := 0
			to := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
			env.OnActivity(a.RollUp, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RollUpInput) (store.RollupResult, error) {
				if in.Level != c.level || in.MaxSpan != c.wantSpan {
					return store.RollupResult{}, errors.New("wrong input")
				}
				calls++
				to = to.Add(in.MaxSpan)
				return store.RollupResult{Level: in.Level, To: to, Late: 1, More: calls <= c.behind}, nil
			})
			env.ExecuteWorkflow(MetricsRollup, MetricsRollupInput{Level: c.level})
			var res MetricsRollupResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Calls != c.wantCalls || calls != c.wantCalls || !res.Until.Equal(to) || res.Late != c.wantCalls {
				t.Fatalf("result %+v after %d calls", res, calls)
			}
		})
	}
}

func TestMetricsRollupUnknownLevel(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Metrics
	env.RegisterActivity(a)
	env.ExecuteWorkflow(MetricsRollup, MetricsRollupInput{Level: "5m"})
	if env.GetWorkflowError() == nil {
		t.Fatal("an unknown level was accepted")
	}
}

func TestMetricsMaintenance(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Metrics
	env.RegisterActivity(a)
	var order []string
	env.OnActivity(a.EnsurePartitions, mock.Anything, activities.EnsurePartitionsInput{DaysAhead: 2}).
		Return(func(context.Context, activities.EnsurePartitionsInput) (activities.EnsurePartitionsResult, error) {
			order = append(order, "ensure")
			return activities.EnsurePartitionsResult{Created: []string{"gpu_samples_p20310102"}}, nil
		}).Once()
	retention := activities.DropExpiredInput{RetentionRaw: 7 * 24 * time.Hour, Retention1m: 30 * 24 * time.Hour, Retention1h: 365 * 24 * time.Hour}
	// the first attempt fails: retried
	env.OnActivity(a.DropExpired, mock.Anything, retention).Return(activities.DropExpiredResult{}, errors.New("lock timeout")).Once()
	env.OnActivity(a.DropExpired, mock.Anything, retention).
		Return(func(context.Context, activities.DropExpiredInput) (activities.DropExpiredResult, error) {
			order = append(order, "drop")
			return activities.DropExpiredResult{Dropped: []string{"gpu_samples_p20301224"}}, nil
		}).Once()
	env.ExecuteWorkflow(MetricsMaintenance, MetricsMaintenanceInput{RetentionRaw: retention.RetentionRaw, Retention1m: retention.Retention1m,
		Retention1h: retention.Retention1h})
	var res MetricsMaintenanceResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 1 || len(res.Dropped) != 1 || len(order) != 2 || order[0] != "ensure" {
		t.Fatalf("result %+v, order %v", res, order)
	}
	env.AssertExpectations(t)
}
