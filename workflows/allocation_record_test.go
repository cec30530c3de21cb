//go:build record

// The recorder of the replay history: not a test, so it is built only with
// the "record" tag and never runs (or shows as skipped) in make test.
//
//	bin/temporal server start-dev --headless --port 7233 &
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test -tags record ./workflows -run TestRecordAllocationHistory

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
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
)

// TestRecordAllocationHistory writes the history TestAllocationReplay replays.
// It is a recorder, not a test, and is built only with the record tag:
//
//	bin/temporal server start-dev --headless --port 7233 &
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test -tags record ./workflows -run TestRecordAllocationHistory
//
// On the way it checks against the real server what the unit tests cannot:
// a second start of the same workflow ID is refused, HostAgentPresent sees an
// agent's poller, and a reclaim sent while no worker runs completes on a
// fresh worker that rebuilt the workflow from its history.
func TestRecordAllocationHistory(t *testing.T) {
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		t.Fatal("TEMPORAL_ADDRESS is not set: start a dev server (bin/temporal server start-dev) or run under bin/remotegpu testenv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The control plane's client, payloads encrypted; the file is written decrypted (below).
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	copts, err := payloadcodec.ClientOptions(config.Config{TemporalAddress: addr, TemporalNamespace: "default", TemporalPayloadKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
	}
	defer c.Close()

	// Fresh IDs each time: the server keeps closed workflows, and their IDs are not reused.
	suffix := strconv.FormatInt(time.Now().Unix(), 36)
	queue, allocID, machineID, tenantID := "allocation-record-"+suffix, "rec-allocation-"+suffix, "rec-machine-"+suffix, "rec-tenant"
	// The host agent, as it will be: a worker on the machine's own queue.
	host := worker.New(c, activities.HostTaskQueue(machineID), worker.Options{})
	host.RegisterActivityWithOptions(func(context.Context, activities.HostStopTenantContainersInput) (activities.HostStopTenantContainersResult, error) {
		return activities.HostStopTenantContainersResult{Stopped: 2}, nil
	}, activity.RegisterOptions{Name: activities.HostStopTenantContainers})
	host.RegisterActivityWithOptions(func(_ context.Context, in activities.HostSetSSHPasswordInput) (activities.HostSetSSHPasswordResult, error) {
		return activities.HostSetSSHPasswordResult{User: in.User}, nil
	}, activity.RegisterOptions{Name: activities.HostSetSSHPassword})
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Stop()
	real := &activities.Allocations{Client: c}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if ok, err := real.HostAgentPresent(ctx, machineID); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("HostAgentPresent never saw the host worker's poller")
		}
	}
	if ok, err := real.HostAgentPresent(ctx, "no-such-machine"); err != nil || ok {
		t.Fatalf("HostAgentPresent on a queue nobody polls: %v %v", ok, err)
	}

	// The control plane's activities: stubs for the store, the real HostAgentPresent.
	var mu sync.Mutex
	months := 1
	newWorker := func() worker.Worker {
		w := worker.New(c, queue, worker.Options{})
		w.RegisterWorkflow(Allocation)
		reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
		reg(func(_ context.Context, in activities.ActivateAllocationInput) (activities.ActivateAllocationResult, error) {
			return activities.ActivateAllocationResult{StartAt: in.StartAt.Truncate(time.Microsecond), EndAt: in.EndAt.Truncate(time.Microsecond),
				MachineID: machineID, TenantID: tenantID}, nil
		}, "ActivateAllocation")
		reg(func(_ context.Context, in activities.ExtendAllocationInput) (activities.ExtendAllocationResult, error) {
			mu.Lock()
			defer mu.Unlock()
			months += in.Months
			return activities.ExtendAllocationResult{EndAt: in.NewEnd, Months: months, Extensions: 1}, nil
		}, "ExtendAllocation")
		reg(real.HostAgentPresent, "HostAgentPresent")
		reg(func(context.Context, activities.RotateMachinePasswordInput) (activities.RotateMachinePasswordResult, error) {
			return activities.RotateMachinePasswordResult{SSHUser: "root"}, nil
		}, "RotateMachinePassword")
		reg(func(_ context.Context, in activities.EndAllocationInput) (activities.EndAllocationResult, error) {
			return activities.EndAllocationResult{Status: in.Status, EndedAt: time.Now().UTC()}, nil
		}, "EndAllocation")
		return w
	}

	w1 := newWorker()
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	opts := client.StartWorkflowOptions{ID: AllocationWorkflowID(allocID), TaskQueue: queue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}
	run, err := c.ExecuteWorkflow(ctx, opts, Allocation, AllocationInput{AllocationID: allocID, Months: 1})
	if err != nil {
		w1.Stop()
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		v, err := c.QueryWorkflow(ctx, opts.ID, "", AllocationStateQuery)
		var st AllocationState
		if err == nil && v.Get(&st) == nil && st.Status == "active" {
			break
		}
		if time.Now().After(deadline) {
			w1.Stop()
			t.Fatalf("never active: %v", err)
		}
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: opts.ID, UpdateName: AllocationExtendUpdate,
		Args: []any{ExtendRequest{Months: 2, By: "admin"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var ext ExtendResult
	if err == nil {
		err = h.Get(ctx, &ext)
	}
	if err != nil || ext.Months != 3 {
		w1.Stop()
		t.Fatalf("extend: %+v %v", ext, err)
	}
	// A repeated start: the SDK hands back the running workflow, or refuses when asked to.
	again, err := c.ExecuteWorkflow(ctx, opts, Allocation, AllocationInput{AllocationID: allocID, Months: 1})
	if err != nil || again.GetRunID() != run.GetRunID() {
		t.Errorf("second start: %v (run %v, want %v)", err, again, run.GetRunID())
	}
	strict := opts
	strict.WorkflowExecutionErrorWhenAlreadyStarted = true
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if _, err := c.ExecuteWorkflow(ctx, strict, Allocation, AllocationInput{AllocationID: allocID, Months: 1}); !errors.As(err, &started) {
		t.Errorf("second start with WorkflowExecutionErrorWhenAlreadyStarted: %v", err)
	}

	// The worker goes away; the reclaim arrives while none runs; a fresh one takes over.
	w1.Stop()
	worker.PurgeStickyWorkflowCache()
	type reclaimed struct {
		res ReclaimResult
		err error
	}
	done := make(chan reclaimed, 1)
	go func() {
		var r reclaimed
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: opts.ID, UpdateName: AllocationReclaimUpdate,
			Args: []any{ReclaimRequest{Reason: "worker restart", By: "alice"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, &r.res)
		}
		r.err = err
		done <- r
	}()
	time.Sleep(2 * time.Second)
	w2 := newWorker()
	if err := w2.Start(); err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	r := <-done
	if r.err != nil || r.res.Status != "reclaimed" || len(r.res.HostSteps) != 2 || !r.res.HostSteps[0].Confirmed || !r.res.HostSteps[1].Confirmed {
		t.Fatalf("reclaim: %+v %v", r.res, r.err)
	}
	var res AllocationResult
	if err := run.Get(ctx, &res); err != nil || res.Status != "reclaimed" {
		t.Fatalf("workflow: %+v %v", res, err)
	}

	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, opts.ID, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	// Decrypted, so the recorded history is readable and its replay needs no key.
	codec, err := payloadcodec.New(key)
	if err != nil {
		t.Fatal(err)
	}
	err = proxy.VisitPayloads(ctx, hist, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.Decode(p)
		}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(replayHistoryFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(replayHistoryFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d events", replayHistoryFile, len(hist.Events))
}
