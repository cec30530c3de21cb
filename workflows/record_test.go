//go:build record

// The recorder of the replay corpus: not a test, so it is built only with
// the "record" tag and never runs (or shows as skipped) in make test.
//
//	bin/temporal server start-dev --headless --port 7233 &
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test -tags record ./workflows -run TestRecordReplayCorpus -v
//
// It runs the workflows on a real Temporal dev server with stub activities
// (the activities' own behaviour is tested elsewhere; a history records
// only what the workflow asked and was told) and writes their histories,
// decrypted, into testdata/ for TestReplayCorpus. testdata/
// allocation_reclaim_restart.json is older: it was recorded by the version
// before the host channel (the end's host steps inline) and is kept so
// that version's histories keep replaying.

package workflows

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
)

func TestRecordReplayCorpus(t *testing.T) {
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		t.Fatal("TEMPORAL_ADDRESS is not set: start a dev server (bin/temporal server start-dev) or run under bin/remotegpu testenv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := payloadcodec.New(key)
	if err != nil {
		t.Fatal(err)
	}
	copts, err := payloadcodec.ClientOptions(config.Config{TemporalAddress: addr, TemporalNamespace: "default", TemporalPayloadKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
	}
	defer c.Close()

	suffix := strconv.FormatInt(time.Now().Unix(), 36)
	queue := "record-" + suffix
	const machineID, tenantID = "rec-machine", "rec-tenant"

	// Stubs: the agent is away for the first two tries of stop_tenant.
	var mu sync.Mutex
	stopTries := 0
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(Allocation)
	w.RegisterWorkflow(LeaseCleanup)
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(_ context.Context, in activities.ActivateAllocationInput) (activities.ActivateAllocationResult, error) {
		return activities.ActivateAllocationResult{StartAt: in.StartAt, EndAt: in.EndAt, MachineID: machineID, TenantID: tenantID}, nil
	}, "ActivateAllocation")
	months := map[string]int{}
	reg(func(_ context.Context, in activities.ExtendAllocationInput) (activities.ExtendAllocationResult, error) {
		mu.Lock()
		defer mu.Unlock()
		months[in.AllocationID] += in.Months
		return activities.ExtendAllocationResult{EndAt: in.NewEnd, Months: 1 + months[in.AllocationID], Extensions: 1}, nil
	}, "ExtendAllocation")
	reg(func(_ context.Context, in activities.NotifyExpiringInput) (activities.NotifyExpiringResult, error) {
		return activities.NotifyExpiringResult{BatchID: activities.ExpiringNoticeBatchID(in.AllocationID, in.EndAt), Owners: 1,
			Recipients: []activities.Recipient{{UserID: "u1", Email: "owner@example.test", Name: "Owner"}}}, nil
	}, "NotifyAllocationExpiring")
	reg(func(context.Context, activities.MailInput) error { return nil }, "MailNotification")
	reg(func(context.Context, activities.FinishInput) error { return nil }, "FinishNotification")
	reg(func(_ context.Context, in activities.EndAllocationInput) (activities.EndAllocationResult, error) {
		return activities.EndAllocationResult{Status: in.Status, EndedAt: in.DecidedAt}, nil
	}, "EndAllocation")
	reg(func(context.Context, activities.SyncSSHKeysInput) (agentproto.SyncSSHKeysResult, error) {
		return agentproto.SyncSSHKeysResult{User: "root", Keys: 1, File: "/root/.ssh/authorized_keys"}, nil
	}, "SyncSSHKeys")
	reg(func(context.Context, activities.StopTenantInput) (agentproto.StopTenantResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if stopTries++; stopTries <= 2 {
			return agentproto.StopTenantResult{}, errors.New("no agent answered")
		}
		return agentproto.StopTenantResult{Containers: 1, Processes: 3}, nil
	}, "StopTenant")
	refusedOnce := false
	reg(func(context.Context, activities.SetPasswordInput) (agentproto.SetPasswordResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if !refusedOnce {
			refusedOnce = true
			return agentproto.SetPasswordResult{}, temporal.NewNonRetryableApplicationError("chpasswd failed", "ChpasswdFailed", nil)
		}
		return agentproto.SetPasswordResult{User: "root"}, nil
	}, "SetPassword")
	reg(func(context.Context, activities.RotateAgentKeyInput) (agentproto.RotateAgentKeyResult, error) {
		return agentproto.RotateAgentKeyResult{}, nil
	}, "RotateAgentKey")
	reg(func(context.Context, activities.RecordCleanupStepInput) error { return nil }, "RecordCleanupStep")
	reg(func(context.Context) (activities.CleanupAlertRuleResult, error) {
		return activities.CleanupAlertRuleResult{Enabled: true, Level: "warning", After: 5 * time.Second}, nil
	}, "CleanupAlertRule")
	reg(func(context.Context, activities.RaiseCleanupAlertInput) error { return nil }, "RaiseCleanupAlert")
	reg(func(context.Context, activities.FinishLeaseCleanupInput) error { return nil }, "FinishLeaseCleanup")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// 1. A lease that runs to its end: continued-run input with an end 20 s
	// away and a 10 s notice window, a key change signal, the expiry; its
	// cleanup waits for an absent agent, is refused once, raises the alert.
	expiry := "rec-expiry-" + suffix
	now := time.Now().UTC().Truncate(time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: AllocationWorkflowID(expiry), TaskQueue: queue}, Allocation,
		AllocationInput{AllocationID: expiry, Months: 1, ExpiringNotice: 10 * time.Second, StartAt: now.Add(-time.Hour), EndAt: now.Add(20 * time.Second),
			MachineID: machineID, TenantID: tenantID})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := c.SignalWorkflow(ctx, run.GetID(), "", AllocationKeysChangedSignal, nil); err != nil {
		t.Fatal(err)
	}
	var res AllocationResult
	if err := run.Get(ctx, &res); err != nil || res.Status != "expired" {
		t.Fatalf("expiry: %+v %v", res, err)
	}
	write(ctx, t, c, codec, run.GetID(), run.GetRunID(), "testdata/allocation_expiry.json")
	cleanup := c.GetWorkflow(ctx, LeaseCleanupWorkflowID(expiry), "")
	var out LeaseCleanupResult
	if err := cleanup.Get(ctx, &out); err != nil || out.Outcome != CleanupDone {
		t.Fatalf("cleanup: %+v %v", out, err)
	}
	write(ctx, t, c, codec, cleanup.GetID(), cleanup.GetRunID(), "testdata/lease_cleanup_absent_agent.json")

	// 2. A lease renewed MaxExtensionsPerRun times continues as new.
	renewed := "rec-renewed-" + suffix
	run, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: AllocationWorkflowID(renewed), TaskQueue: queue}, Allocation,
		AllocationInput{AllocationID: renewed, Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxExtensionsPerRun {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: AllocationExtendUpdate,
			UpdateID: "renew-" + strconv.Itoa(i), Args: []any{ExtendRequest{Months: 1, By: "admin"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		if err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
	}
	first := run.GetRunID()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), first)
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed lease did not continue as new")
		}
	}
	write(ctx, t, c, codec, run.GetID(), first, "testdata/allocation_continue_as_new.json")
	if err := c.TerminateWorkflow(ctx, run.GetID(), "", "recorded"); err != nil {
		t.Fatal(err)
	}
}

// TestRecordTaskRunCorpus records testdata/task_run_restart_stop.json: a
// task queued until an admitted signal, whose first attempt exits 1 and
// restarts after the backoff (10 s), and whose second attempt is stopped
// while it runs; the completion notice is mailed.
//
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test -tags record ./workflows -run TestRecordTaskRunCorpus -v
func TestRecordTaskRunCorpus(t *testing.T) {
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		t.Fatal("TEMPORAL_ADDRESS is not set: start a dev server (bin/temporal server start-dev) or run under bin/remotegpu testenv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := payloadcodec.New(key)
	if err != nil {
		t.Fatal(err)
	}
	copts, err := payloadcodec.ClientOptions(config.Config{TemporalAddress: addr, TemporalNamespace: "default", TemporalPayloadKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
	}
	defer c.Close()
	suffix := strconv.FormatInt(time.Now().Unix(), 36)
	queue := "record-task-" + suffix
	taskID := "rec-task-" + suffix

	var mu sync.Mutex
	admits, waits := 0, 0
	stopped := make(chan struct{})
	running := make(chan struct{}, 2)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(TaskRun)
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(func(_ context.Context, in activities.AdmitTaskInput) (activities.AdmitTaskResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if admits++; admits == 1 {
			return activities.AdmitTaskResult{Status: "queued"}, nil
		}
		return activities.AdmitTaskResult{Granted: true, GPUs: []int{0}, Status: "running"}, nil
	}, "AdmitTask")
	reg(func(_ context.Context, in activities.TaskStartInput) (agentproto.TaskStartResult, error) {
		return agentproto.TaskStartResult{ContainerID: "c" + strconv.Itoa(in.Attempt), StartedAt: time.Now().UTC(), GPUDevices: true}, nil
	}, "TaskStart")
	reg(func(context.Context, activities.MarkTaskRunningInput) error { return nil }, "MarkTaskRunning")
	reg(func(ctx context.Context, in activities.TaskHostInput) (agentproto.TaskWaitResult, error) {
		mu.Lock()
		waits++
		n := waits
		mu.Unlock()
		if n == 1 {
			return agentproto.TaskWaitResult{ExitCode: 1, FinishedAt: time.Now().UTC(), LogsShipped: true}, nil
		}
		running <- struct{}{}
		select {
		case <-stopped:
		case <-ctx.Done():
			return agentproto.TaskWaitResult{}, ctx.Err()
		}
		return agentproto.TaskWaitResult{ExitCode: 143, FinishedAt: time.Now().UTC(), LogsShipped: true}, nil
	}, "TaskWait")
	reg(func(context.Context, activities.TaskHostInput) (agentproto.TaskStopResult, error) {
		close(stopped)
		return agentproto.TaskStopResult{WasRunning: true}, nil
	}, "TaskStop")
	reg(func(_ context.Context, in activities.FinishTaskAttemptInput) (activities.FinishTaskAttemptResult, error) {
		if in.Next {
			return activities.FinishTaskAttemptResult{Status: "queued"}, nil
		}
		return activities.FinishTaskAttemptResult{Status: in.Status, Final: true}, nil
	}, "FinishTaskAttempt")
	reg(func(context.Context, activities.NotifyTaskDoneInput) (activities.NotifyTaskDoneResult, error) {
		return activities.NotifyTaskDoneResult{BatchID: "rec-batch", Owners: 1, Recipients: []activities.Recipient{{UserID: "u1", Email: "u@example.test"}}}, nil
	}, "NotifyTaskDone")
	reg(func(context.Context, activities.MailInput) error { return nil }, "MailNotification")
	reg(func(context.Context, activities.FinishInput) error { return nil }, "FinishNotification")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: TaskRunWorkflowID(taskID), TaskQueue: queue}, TaskRun,
		TaskRunInput{TaskID: taskID, MachineID: "rec-machine", Attempt: 1, FirstAttempt: 1, MaxAttempts: 3, AutoRestart: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := c.SignalWorkflow(ctx, run.GetID(), "", TaskAdmittedSignal, nil); err != nil {
		t.Fatal(err)
	}
	<-running // the second attempt runs
	if err := c.SignalWorkflow(ctx, run.GetID(), "", TaskStopSignal, activities.StopRequest{Reason: activities.ReasonStoppedByUser, By: "owner"}); err != nil {
		t.Fatal(err)
	}
	var res TaskRunResult
	if err := run.Get(ctx, &res); err != nil || res.Status != "stopped" || res.Attempt != 2 {
		t.Fatalf("task: %+v %v", res, err)
	}
	write(ctx, t, c, codec, run.GetID(), run.GetRunID(), "testdata/task_run_restart_stop.json")
}

// write saves a workflow run's history, its payloads decrypted so the file
// is readable and replays without a key.
func write(ctx context.Context, t *testing.T, c client.Client, codec *payloadcodec.Codec, id, runID, file string) {
	t.Helper()
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	if err := proxy.VisitPayloads(ctx, hist, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.Decode(p)
		},
	}); err != nil {
		t.Fatal(err)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d events", file, len(hist.Events))
}
