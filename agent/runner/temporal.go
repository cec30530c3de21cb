package runner

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
)

type workerConfig struct {
	Address, Namespace, TaskQueue, Identity string
	Ops                                     *hostops.Ops
	Log                                     *slog.Logger
}

// runWorker runs the host activity worker until ctx ends. While Temporal is
// unreachable it retries with backoff (the metrics do not wait for it);
// once started, the SDK's pollers ride out short outages by themselves, and
// a fatal worker error starts the connection over.
func runWorker(ctx context.Context, wc workerConfig) {
	log := wc.Log
	bo := pusher.DefaultBackOff()
	for attempt := 1; ; attempt++ {
		err := runWorkerOnce(ctx, wc, func() { bo.Reset(); attempt = 0 })
		if ctx.Err() != nil {
			return
		}
		d := bo.NextBackOff()
		log.Warn("Temporal worker not running; retrying", "address", wc.Address, "in", d.Round(time.Millisecond),
			"attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

func runWorkerOnce(ctx context.Context, wc workerConfig, started func()) error {
	dialCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(dialCtx, client.Options{
		HostPort:  wc.Address,
		Namespace: wc.Namespace,
		Identity:  wc.Identity,
		Logger:    tlog.NewStructuredLogger(wc.Log),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fatal := make(chan error, 1)
	w := worker.New(c, wc.TaskQueue, worker.Options{
		// The host queue carries activities only.
		DisableWorkflowWorker: true,
		OnFatalError: func(err error) {
			select {
			case fatal <- err:
			default:
			}
		},
	})
	wc.Ops.Register(w)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	started()
	wc.Log.Info("Temporal worker started", "address", wc.Address, "namespace", wc.Namespace, "task_queue", wc.TaskQueue)
	select {
	case <-ctx.Done():
		return nil
	case err := <-fatal:
		return err
	}
}
