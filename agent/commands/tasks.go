package commands

import (
	"context"
	"io"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// taskHandlers are the task kinds, real in ModeReal and ModeSimulated. A
// task_wait holds for as long as the container runs; the loop heartbeats
// it meanwhile, and the api delivers it again after an agent restart.
func (k *Kinds) taskHandlers() map[string]Handler {
	return map[string]Handler{
		agentproto.KindTaskStart:       taskKind(k, (*hostops.Ops).TaskStart),
		agentproto.KindTaskWait:        k.taskWait(taskKind(k, (*hostops.Ops).TaskWait)),
		agentproto.KindTaskStop:        taskKind(k, (*hostops.Ops).TaskStop),
		agentproto.KindTaskOutputs:     taskKind(k, (*hostops.Ops).TaskOutputs),
		agentproto.KindTaskRemove:      taskKind(k, (*hostops.Ops).TaskRemove),
		agentproto.KindTaskOutputFetch: k.taskOutputFetch,
	}
}

// taskOutputFetch uploads one output file to the api for this command.
func (k *Kinds) taskOutputFetch(ctx context.Context, c *Call) (any, error) {
	var args agentproto.TaskOutputFetchArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	if k.Ops == nil {
		return nil, hostops.Permanentf("DockerUnavailable", "this agent runs no task containers (no Docker client)")
	}
	if k.PutTaskOutput == nil {
		return nil, hostops.Permanentf("UploadUnavailable", "this agent cannot upload files to the api")
	}
	return k.Ops.TaskOutputFetch(ctx, args, func(ctx context.Context, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error) {
		res, err := k.PutTaskOutput(ctx, args.TaskID, c.ID, r, size)
		if err != nil && !pusher.Retryable(err) {
			return res, hostops.Permanentf("UploadRefused", "the api refused the file: %v", err)
		}
		if err != nil {
			return res, hostops.Retryablef("UploadFailed", err, "unable to upload the file")
		}
		return res, nil
	})
}

// taskKind decodes the arguments and runs op on the host.
func taskKind[A, R any](k *Kinds, op func(*hostops.Ops, context.Context, A) (R, error)) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		var args A
		if err := c.Args(&args); err != nil {
			return nil, err
		}
		if k.Ops == nil {
			return nil, hostops.Permanentf("DockerUnavailable", "this agent runs no task containers (no Docker client)")
		}
		return op(k.Ops, ctx, args)
	}
}

// taskWait runs wait, and meanwhile probes the task's service (when it has
// a port): each probe goes into the heartbeats' progress.
func (k *Kinds) taskWait(wait Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		var a agentproto.TaskWaitArgs
		if err := c.Args(&a); err != nil || a.ServicePort <= 0 || k.Ops == nil {
			return wait(ctx, c)
		}
		every := k.ServiceProbeEvery
		if every <= 0 {
			every = agentproto.ServiceProbeEvery
		}
		probeCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			hostops.WatchService(probeCtx, hostops.ServiceURL(a.ServicePort), every, agentproto.ServiceProbeTimeout,
				func(p agentproto.ServiceProbe) { c.Progress(agentproto.TaskWaitProgress{Service: &p}) })
		}()
		defer func() { stop(); <-done }()
		return wait(ctx, c)
	}
}
