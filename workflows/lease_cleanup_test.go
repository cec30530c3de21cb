package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// host fakes the machine behind the host activities: while away, every
// command fails as an attempt that timed out waiting for the agent.
type host struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	backAt   time.Time        // the agent answers from then on
	refuse   map[string]int   // step -> how many times the host refuses it for good
	calls    []string         // host activities run, in order
	steps    []store.HostStep // recorded on the lease
	alerts   []activities.RaiseCleanupAlertInput
	finished []activities.FinishLeaseCleanupInput
	rule     activities.CleanupAlertRuleResult
	blockOn  string // a step the host never answers
}

var cleanupStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newHost(t *testing.T) *host {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(cleanupStart)
	h := &host{t: t, env: env, refuse: map[string]int{},
		rule: activities.CleanupAlertRuleResult{Enabled: true, Level: "warning", After: 30 * time.Minute}}
	var ha *activities.Host
	var c *activities.Cleanups
	env.RegisterActivity(ha)
	env.RegisterActivity(c)
	answer := func(ctx context.Context, step string) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, step)
		if env.Now().Before(h.backAt) {
			return errors.New("activity StartToClose timeout: no agent answered")
		}
		if h.refuse[step] > 0 {
			h.refuse[step]--
			return temporal.NewNonRetryableApplicationError("chpasswd failed", "ChpasswdFailed", nil)
		}
		return nil
	}
	block := func(ctx context.Context, step string) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.blockOn == step {
			return errors.New("activity StartToClose timeout: no agent answered")
		}
		return nil
	}
	env.OnActivity(ha.StopTenant, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.StopTenantInput) (agentproto.StopTenantResult, error) {
		if in.TenantID != testTenant || in.AllocationID != testAllocation {
			return agentproto.StopTenantResult{}, temporal.NewNonRetryableApplicationError("wrong input", "Invalid", nil)
		}
		return agentproto.StopTenantResult{Containers: 2, Processes: 5}, answer(ctx, CleanupStepStopTenant)
	}).Maybe()
	env.OnActivity(ha.SyncSSHKeys, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.SyncSSHKeysInput) (agentproto.SyncSSHKeysResult, error) {
		return agentproto.SyncSSHKeysResult{User: "root", File: "/root/.ssh/authorized_keys"}, answer(ctx, CleanupStepRemoveKeys)
	}).Maybe()
	env.OnActivity(ha.SetPassword, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.SetPasswordInput) (agentproto.SetPasswordResult, error) {
		if err := block(ctx, CleanupStepRotatePassword); err != nil {
			return agentproto.SetPasswordResult{}, err
		}
		return agentproto.SetPasswordResult{User: "root"}, answer(ctx, CleanupStepRotatePassword)
	}).Maybe()
	env.OnActivity(ha.RotateAgentKey, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.RotateAgentKeyInput) (agentproto.RotateAgentKeyResult, error) {
		return agentproto.RotateAgentKeyResult{}, answer(ctx, CleanupStepRotateAgentKey)
	}).Maybe()
	env.OnActivity(c.RecordCleanupStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordCleanupStepInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.steps = append(h.steps, in.Step)
		return nil
	}).Maybe()
	env.OnActivity(c.CleanupAlertRule, mock.Anything).Return(func(context.Context) (activities.CleanupAlertRuleResult, error) {
		return h.rule, nil
	}).Maybe()
	env.OnActivity(c.RaiseCleanupAlert, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RaiseCleanupAlertInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.alerts = append(h.alerts, in)
		return nil
	}).Maybe()
	env.OnActivity(c.FinishLeaseCleanup, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishLeaseCleanupInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.finished = append(h.finished, in)
		return nil
	}).Maybe()
	return h
}

func (h *host) run(in LeaseCleanupInput) LeaseCleanupResult {
	h.t.Helper()
	if in.AllocationID == "" {
		in = LeaseCleanupInput{AllocationID: testAllocation, MachineID: testMachine, TenantID: testTenant, EndedAt: cleanupStart}
	}
	h.env.ExecuteWorkflow(LeaseCleanup, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the cleanup did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("the cleanup failed: %v", err)
	}
	var res LeaseCleanupResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// confirmed lists the steps recorded as confirmed, in order.
func (h *host) confirmed() []string {
	var out []string
	for _, s := range h.steps {
		if s.Confirmed && s.State == StepConfirmed {
			out = append(out, s.Step)
		}
	}
	return out
}

func TestLeaseCleanupAllStepsInOrder(t *testing.T) {
	h := newHost(t)
	res := h.run(LeaseCleanupInput{})
	if res.Outcome != CleanupDone {
		t.Fatalf("outcome %+v", res)
	}
	if !slices.Equal(h.calls, CleanupSteps) || !slices.Equal(h.confirmed(), CleanupSteps) {
		t.Fatalf("calls %v, confirmed %v", h.calls, h.confirmed())
	}
	if !strings.Contains(h.steps[0].Detail, "stopped 2 containers and 5 processes") || !strings.Contains(h.steps[3].Detail, "new password set for root") {
		t.Fatalf("details %+v", h.steps)
	}
	if len(h.finished) != 1 || h.finished[0].Reinstalled || h.finished[0].MachineID != testMachine || len(h.alerts) != 0 {
		t.Fatalf("finished %+v, alerts %+v", h.finished, h.alerts)
	}
}

func TestLeaseCleanupWaitsForAbsentAgent(t *testing.T) {
	// The agent is away for two hours: the first step is retried (by the
	// activity's retry policy) until it answers, the alert goes out after
	// the rule's 30 minutes, and everything completes once the agent is back.
	h := newHost(t)
	h.backAt = cleanupStart.Add(2 * time.Hour)
	var midway LeaseCleanupState
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(LeaseCleanupStateQuery)
		if err != nil {
			t.Error(err)
			return
		}
		_ = v.Get(&midway)
	}, time.Hour)
	res := h.run(LeaseCleanupInput{})
	if res.Outcome != CleanupDone || !slices.Equal(h.confirmed(), CleanupSteps) {
		t.Fatalf("outcome %+v, confirmed %v", res, h.confirmed())
	}
	if midway.Current != CleanupStepStopTenant || len(midway.Confirmed) != 0 {
		t.Fatalf("state after an hour %+v", midway)
	}
	tries := 0
	for _, c := range h.calls {
		if c == CleanupStepStopTenant {
			tries++
		}
	}
	if tries < 10 {
		t.Fatalf("stop_tenant tried %d times while the agent was away", tries)
	}
	if len(h.alerts) != 1 || !slices.Equal(h.alerts[0].Pending, CleanupSteps) || h.alerts[0].After != 30*time.Minute {
		t.Fatalf("alerts %+v", h.alerts)
	}
	if len(h.finished) != 1 || h.finished[0].Reinstalled {
		t.Fatalf("finished %+v", h.finished)
	}
}

func TestLeaseCleanupRetriesARefusedStep(t *testing.T) {
	// The host refuses the password twice for good (chpasswd failed): the
	// step is recorded as failed and tried again later, never skipped.
	h := newHost(t)
	h.refuse[CleanupStepRotatePassword] = 2
	h.run(LeaseCleanupInput{})
	failed := 0
	for _, s := range h.steps {
		if s.Step == CleanupStepRotatePassword && s.State == StepFailed {
			failed++
		}
	}
	if failed != 2 || !slices.Equal(h.confirmed(), CleanupSteps) {
		t.Fatalf("failed %d, steps %+v", failed, h.steps)
	}
}

func TestLeaseCleanupNoAlertWhenFast(t *testing.T) {
	h := newHost(t)
	h.backAt = cleanupStart.Add(10 * time.Minute)
	h.run(LeaseCleanupInput{})
	if len(h.alerts) != 0 {
		t.Fatalf("alerts %+v", h.alerts)
	}
	h = newHost(t)
	h.rule.Enabled = false
	h.backAt = cleanupStart.Add(3 * time.Hour)
	h.run(LeaseCleanupInput{})
	if len(h.alerts) != 0 {
		t.Fatalf("alerts with the rule off %+v", h.alerts)
	}
}

func TestLeaseCleanupReinstalled(t *testing.T) {
	// The host never answers the password step; the admin marks the machine
	// reinstalled: the step is cancelled, the rest skipped, the finish
	// records the reinstall.
	h := newHost(t)
	h.blockOn = CleanupStepRotatePassword
	var outcome LeaseCleanupResult
	var updErr error
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(LeaseCleanupReinstalledUpdate, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { updErr = err },
			OnComplete: func(v any, err error) {
				updErr = err
				if r, ok := v.(LeaseCleanupResult); ok {
					outcome = r
				}
			},
		}, ReinstalledRequest{Actor: activities.Actor{Name: "admin1"}, Note: "reimaged"})
	}, time.Hour)
	res := h.run(LeaseCleanupInput{})
	if updErr != nil || res.Outcome != CleanupReinstalled || outcome.Outcome != CleanupReinstalled {
		t.Fatalf("update %v, outcome %+v / %+v", updErr, res, outcome)
	}
	if !slices.Equal(h.confirmed(), []string{CleanupStepStopTenant, CleanupStepRotateAgentKey, CleanupStepRemoveKeys}) {
		t.Fatalf("confirmed %v", h.confirmed())
	}
	f := h.finished
	if len(f) != 1 || !f[0].Reinstalled || f[0].Actor.Name != "admin1" || f[0].Note != "reimaged" || len(f[0].Skipped) != 1 ||
		f[0].Skipped[0].Step != CleanupStepRotatePassword || f[0].Skipped[0].State != StepSkipped {
		t.Fatalf("finished %+v", f)
	}
}

func TestLeaseCleanupContinuedRun(t *testing.T) {
	// A continued run skips the steps already confirmed and an alert already raised.
	h := newHost(t)
	h.backAt = cleanupStart.Add(2 * time.Hour)
	h.run(LeaseCleanupInput{AllocationID: testAllocation, MachineID: testMachine, TenantID: testTenant, EndedAt: cleanupStart,
		Confirmed: []string{CleanupStepStopTenant, CleanupStepRotateAgentKey}, Alerted: true})
	if slices.Contains(h.calls, CleanupStepStopTenant) || slices.Contains(h.calls, CleanupStepRotateAgentKey) || len(h.alerts) != 0 {
		t.Fatalf("calls %v, alerts %+v", h.calls, h.alerts)
	}
	if !slices.Equal(h.confirmed(), []string{CleanupStepRemoveKeys, CleanupStepRotatePassword}) {
		t.Fatalf("confirmed %v", h.confirmed())
	}
}

func TestLeaseCleanupContinuesAsNew(t *testing.T) {
	// When Temporal suggests it, the run continues as new after a step,
	// carrying what was confirmed.
	h := newHost(t)
	h.env.SetContinueAsNewSuggested(true)
	h.env.ExecuteWorkflow(LeaseCleanup, LeaseCleanupInput{AllocationID: testAllocation, MachineID: testMachine, TenantID: testTenant, EndedAt: cleanupStart})
	var can *workflow.ContinueAsNewError
	if !errors.As(h.env.GetWorkflowError(), &can) || can.WorkflowType.Name != "LeaseCleanup" {
		t.Fatalf("want continue-as-new, got %v", h.env.GetWorkflowError())
	}
	var in LeaseCleanupInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Confirmed, []string{CleanupStepStopTenant}) || in.AllocationID != testAllocation || !in.EndedAt.Equal(cleanupStart) {
		t.Fatalf("carried %+v", in)
	}
}
