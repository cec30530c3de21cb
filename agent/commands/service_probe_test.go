package commands

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// A task_wait with a service port puts the service's health in its
// progress while the wait runs: up while it answers, down once it is gone.
func TestTaskWaitProbesTheService(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	args, _ := json.Marshal(agentproto.TaskWaitArgs{TaskID: "t1", Attempt: 1, ServicePort: port})
	c := &Call{Command: agentproto.Command{ID: "c1", Kind: agentproto.KindTaskWait, Args: args}}
	k := &Kinds{Ops: &hostops.Ops{}, ServiceProbeEvery: time.Millisecond}
	// the progress, as the heartbeats would carry it
	probe := func(ctx context.Context) *agentproto.ServiceProbe {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var p agentproto.TaskWaitProgress
			if raw := c.progressJSON(); raw != nil {
				if err := json.Unmarshal(raw, &p); err != nil {
					t.Error(err)
				}
			}
			if p.Service != nil {
				return p.Service
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := k.taskWait(func(ctx context.Context, c *Call) (any, error) {
		if p := probe(ctx); p == nil || !p.Up || p.Status != http.StatusTeapot {
			t.Errorf("while it answers: %+v", p)
		}
		srv.Close()
		for {
			p := probe(ctx)
			if p == nil {
				t.Error("no probe said down")
				break
			}
			if !p.Up {
				break
			}
		}
		return "ended", nil
	})(ctx, c)
	if res != "ended" || err != nil {
		t.Fatalf("%v %v", res, err)
	}

	// without a port, nothing is probed
	c = &Call{Command: agentproto.Command{ID: "c2", Kind: agentproto.KindTaskWait, Args: json.RawMessage(`{"taskId":"t1","attempt":1}`)}}
	if _, err := k.taskWait(func(context.Context, *Call) (any, error) { return nil, nil })(ctx, c); err != nil || c.progressJSON() != nil {
		t.Fatalf("probed without a port: %v %s", err, c.progressJSON())
	}
}
