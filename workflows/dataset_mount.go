package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// DatasetMount runs one mount of a dataset onto a machine (docs/datasets.md),
// workflow ID DatasetMountID(mountID). Design: one workflow per mount for
// its whole life. It has the host make the copy (mounting → mounted, or
// failed with a mounts.reason.* code), then waits for the signal
// DatasetUnmountSignal, checking now and then that the mount is still
// live (the end of the lease marks it unmounted; then it ends). On the
// signal (also while the copy is being made: that is cancelled) it has
// the host remove the copy (unmounting → unmounted). The api sends the
// signal with SignalWithStart and Unmount set, so a mount whose workflow
// has ended (it failed, or was lost) is removed by a new run that only
// unmounts.
type DatasetMountInput struct {
	MountID string
	// Unmount: only remove the copy (a run started by the unmount signal).
	Unmount bool
}

// DatasetUnmountSignal asks a mount's workflow to remove the copy.
const DatasetUnmountSignal = "unmount"

// DatasetMountCheckEvery is how often a mounted mount's workflow looks
// whether the mount is still live.
const DatasetMountCheckEvery = time.Hour

func DatasetMountID(mountID string) string { return "dataset-mount:" + mountID }

// datasetHostOptions: a copy may take hours; the agent heartbeats, and a
// host that stops is retried (the same command is delivered again).
func datasetHostOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		// a cancelled copy is over on the host before the removal is issued
		WaitForCancellation: true,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
}

func DatasetMount(ctx workflow.Context, in DatasetMountInput) error {
	var h *activities.DatasetHost
	unmount := in.Unmount
	signals := workflow.GetSignalChannel(ctx, DatasetUnmountSignal)
	var copiedAll *agentproto.DatasetMountResult
	record := func(status, reason string, params map[string]any, from ...string) bool {
		var ok bool
		if err := workflow.ExecuteActivity(controlOptions(ctx, 0), h.DatasetMountRecord, activities.DatasetMountRecordInput{
			MountID: in.MountID, Status: status, Reason: reason, Params: params, From: from, Copied: copiedAll}).Get(ctx, &ok); err != nil {
			workflow.GetLogger(ctx).Error("unable to record the mount's status", "MountID", in.MountID, "Status", status, "Error", err)
		}
		return ok
	}
	if !unmount {
		mctx, cancel := workflow.WithCancel(ctx)
		f := workflow.ExecuteActivity(datasetHostOptions(mctx), h.DatasetMountHost, activities.DatasetMountHostInput{MountID: in.MountID})
		var err error
		var copied agentproto.DatasetMountResult
		done := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(f workflow.Future) { done, err = true, f.Get(ctx, &copied) })
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			unmount = true
			cancel()
		})
		sel.Select(ctx)
		if !done {
			_ = f.Get(ctx, nil) // the host's answer to the cancellation
		}
		cancel()
		switch {
		case unmount:
		case err != nil:
			reason, params := MountFailure(err)
			record(store.MountFailed, reason, params, store.MountMounting)
			if !signals.ReceiveAsync(nil) {
				return nil
			}
			unmount = true // asked meanwhile: a signal is never left behind
		default:
			copiedAll = &copied
			if !record(store.MountMounted, "", nil, store.MountMounting) {
				if !signals.ReceiveAsync(nil) {
					return nil // unmounted meanwhile (the lease ended)
				}
				unmount = true
			}
		}
	}
	for !unmount {
		tctx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(tctx, DatasetMountCheckEvery)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			unmount = true
		})
		sel.AddFuture(timer, func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
		if unmount {
			break
		}
		var status string
		if err := workflow.ExecuteActivity(controlOptions(ctx, 0), h.DatasetMountStatus, activities.DatasetMountHostInput{MountID: in.MountID}).
			Get(ctx, &status); err != nil {
			return err
		}
		if status != store.MountMounted && status != store.MountMounting {
			if signals.ReceiveAsync(nil) {
				unmount = true
				break
			}
			return nil
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, DatasetMount, in)
		}
	}
	// the api set unmounting with the audit of the request
	var res agentproto.DatasetUnmountResult
	err := workflow.ExecuteActivity(datasetHostOptions(ctx), h.DatasetUnmountHost, activities.DatasetMountHostInput{MountID: in.MountID}).
		Get(ctx, &res)
	if err != nil {
		reason, params := MountFailure(err)
		record(store.MountFailed, reason, params, store.MountUnmounting)
		return nil
	}
	copiedAll = nil
	record(store.MountUnmounted, "", nil, store.MountUnmounting)
	return nil
}

// MountFailure is the reason code (mounts.reason.*) and params of a
// host's failure to mount or unmount.
func MountFailure(err error) (string, map[string]any) {
	var ae *temporal.ApplicationError
	typ := ""
	for e := err; e != nil; e = errors.Unwrap(e) {
		if a, ok := e.(*temporal.ApplicationError); ok {
			ae, typ = a, a.Type()
		}
	}
	reasons := map[string]string{"InvalidPath": "badPath", "PathNotEmpty": "pathNotEmpty", "PathInUse": "pathInUse",
		"NotADirectory": "notADirectory", "NoSpace": "noSpace", "NotOurMount": "notOurMount", "FetchRefused": "fetchRefused",
		"InvalidManifest": "hostFailed", "HostOpsUnavailable": "agentUnable", "DatasetsUnavailable": "agentUnable", "UnknownKind": "agentUnable"}
	msg := rootMessage(err)
	if ae != nil {
		msg = ae.Message()
	}
	if r, ok := reasons[typ]; ok {
		return "mounts.reason." + r, map[string]any{"error": msg}
	}
	return "mounts.reason.hostFailed", map[string]any{"error": msg}
}
