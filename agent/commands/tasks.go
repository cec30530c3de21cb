package commands

import (
	"context"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// taskHandlers are the task kinds, real in ModeReal and ModeSimulated. A
// task_wait holds for as long as the container runs; the loop heartbeats
// it meanwhile, and the api delivers it again after an agent restart.
func (k *Kinds) taskHandlers() map[string]Handler {
	return map[string]Handler{
		agentproto.KindTaskStart:   taskKind(k, (*hostops.Ops).TaskStart),
		agentproto.KindTaskWait:    taskKind(k, (*hostops.Ops).TaskWait),
		agentproto.KindTaskStop:    taskKind(k, (*hostops.Ops).TaskStop),
		agentproto.KindTaskOutputs: taskKind(k, (*hostops.Ops).TaskOutputs),
		agentproto.KindTaskRemove:  taskKind(k, (*hostops.Ops).TaskRemove),
	}
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
