package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// mountFake records the statuses the workflow writes.
type mountFake struct {
	mu       sync.Mutex
	statuses []string
	reasons  []string
	unmounts int
	status   string // what DatasetMountStatus answers
}

func (f *mountFake) env(t *testing.T, mountErr error, mountFor time.Duration) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	h := &activities.DatasetHost{}
	env.RegisterActivity(h)
	env.OnActivity(h.DatasetMountHost, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return mountFor }).
		Return(agentproto.DatasetMountResult{Files: 1}, mountErr)
	env.OnActivity(h.DatasetUnmountHost, mock.Anything, mock.Anything).Return(func(context.Context, activities.DatasetMountHostInput) (agentproto.DatasetUnmountResult, error) {
		f.mu.Lock()
		f.unmounts++
		f.mu.Unlock()
		return agentproto.DatasetUnmountResult{Removed: true}, nil
	})
	env.OnActivity(h.DatasetMountRecord, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DatasetMountRecordInput) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.statuses, f.reasons = append(f.statuses, in.Status), append(f.reasons, in.Reason)
		if f.status == store.MountUnmounted {
			return false, nil
		}
		f.status = in.Status
		return true, nil
	})
	env.OnActivity(h.DatasetMountStatus, mock.Anything, mock.Anything).Return(func(context.Context, activities.DatasetMountHostInput) (string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.status, nil
	})
	return env
}

func TestDatasetMountMountsThenUnmountsOnTheSignal(t *testing.T) {
	f := &mountFake{status: store.MountMounting}
	env := f.env(t, nil, time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(DatasetUnmountSignal, nil) }, 3*time.Hour)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1"})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(f.statuses) != 2 || f.statuses[0] != store.MountMounted || f.statuses[1] != store.MountUnmounted || f.unmounts != 1 {
		t.Fatalf("statuses %v, unmounts %d", f.statuses, f.unmounts)
	}
}

func TestDatasetMountFailureIsItsReason(t *testing.T) {
	f := &mountFake{status: store.MountMounting}
	env := f.env(t, temporal.NewNonRetryableApplicationError("/data/x is not empty", "PathNotEmpty", nil), 0)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1"})
	if env.GetWorkflowError() != nil || len(f.statuses) != 1 || f.statuses[0] != store.MountFailed || f.reasons[0] != "mounts.reason.pathNotEmpty" {
		t.Fatalf("statuses %v %v, %v", f.statuses, f.reasons, env.GetWorkflowError())
	}
}

// The signal while the copy is being made cancels it and removes what was copied.
func TestDatasetMountUnmountWhileMounting(t *testing.T) {
	f := &mountFake{status: store.MountMounting}
	env := f.env(t, nil, time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(DatasetUnmountSignal, nil) }, time.Minute)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1"})
	if env.GetWorkflowError() != nil || len(f.statuses) != 1 || f.statuses[0] != store.MountUnmounted || f.unmounts != 1 {
		t.Fatalf("statuses %v, unmounts %d, %v", f.statuses, f.unmounts, env.GetWorkflowError())
	}
}

// The end of the lease marks the mount unmounted: the workflow sees it and ends.
func TestDatasetMountEndsAfterTheLease(t *testing.T) {
	f := &mountFake{status: store.MountMounting}
	env := f.env(t, nil, 0)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.status = store.MountUnmounted
		f.mu.Unlock()
	}, 30*time.Minute)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1"})
	if env.GetWorkflowError() != nil || f.unmounts != 0 || len(f.statuses) != 1 {
		t.Fatalf("statuses %v, unmounts %d, %v", f.statuses, f.unmounts, env.GetWorkflowError())
	}
}

// Started by the unmount signal (the mount's workflow had ended): only the removal.
func TestDatasetMountUnmountOnly(t *testing.T) {
	f := &mountFake{status: store.MountUnmounting}
	env := f.env(t, nil, 0)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1", Unmount: true})
	if env.GetWorkflowError() != nil || f.unmounts != 1 || len(f.statuses) != 1 || f.statuses[0] != store.MountUnmounted {
		t.Fatalf("statuses %v, unmounts %d, %v", f.statuses, f.unmounts, env.GetWorkflowError())
	}
}

// The unmount signal that comes while the failure is being recorded is
// not lost: the run removes the copy before it ends.
func TestDatasetMountSignalDuringTheFailure(t *testing.T) {
	f := &mountFake{status: store.MountMounting}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	h := &activities.DatasetHost{}
	env.RegisterActivity(h)
	env.OnActivity(h.DatasetMountHost, mock.Anything, mock.Anything).Return(agentproto.DatasetMountResult{},
		temporal.NewNonRetryableApplicationError("busy", "PathNotEmpty", nil))
	env.OnActivity(h.DatasetUnmountHost, mock.Anything, mock.Anything).Return(func(context.Context, activities.DatasetMountHostInput) (agentproto.DatasetUnmountResult, error) {
		f.mu.Lock()
		f.unmounts++
		f.mu.Unlock()
		return agentproto.DatasetUnmountResult{}, nil
	})
	env.OnActivity(h.DatasetMountRecord, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return time.Minute }).
		Return(func(_ context.Context, in activities.DatasetMountRecordInput) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.statuses = append(f.statuses, in.Status)
			return true, nil
		})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(DatasetUnmountSignal, nil) }, 30*time.Second)
	env.ExecuteWorkflow(DatasetMount, DatasetMountInput{MountID: "mt1"})
	if env.GetWorkflowError() != nil || f.unmounts != 1 || len(f.statuses) != 2 || f.statuses[1] != store.MountUnmounted {
		t.Fatalf("statuses %v, unmounts %d, %v", f.statuses, f.unmounts, env.GetWorkflowError())
	}
}
