package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testdocker"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testdocker.Main(m)) }

func randomID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func decode[T any](t *testing.T, r agentproto.ResultRequest) T {
	t.Helper()
	var v T
	if r.Status != agentproto.ResultSucceeded {
		t.Fatalf("report %+v (%+v)", r, r.Error)
	}
	if err := json.Unmarshal(r.Result, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A task through the host channel: start, a wait that heartbeats while the
// container runs and is waited on again by the restarted agent, outputs,
// stop and remove. Simulated host ops run task containers too.
func TestTaskCommands(t *testing.T) {
	cli := testdocker.Client(t)
	ops := &hostops.Ops{Docker: cli, StateDir: t.TempDir(), MachineID: randomID("m-"), Log: quiet()}
	task := randomID("cmd-")
	t.Cleanup(func() { _, _ = ops.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task}) })
	f := newFakeAPI(t)
	start := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskStart,
		Args: args(agentproto.TaskStartArgs{TaskID: task, TenantID: "tn", Attempt: 1, Image: testimage.Ref,
			Command: `echo running; while [ ! -e $RGPU_OUTPUT_DIR/go ]; do sleep 0.05; done`})}}
	wait := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskWait,
		Args: args(agentproto.TaskWaitArgs{TaskID: task, Attempt: 1})}}
	f.add(start)
	a := startKinds(t, f, &Kinds{Ops: ops, SaveToken: (&tokenStore{}).save})
	if res := decode[agentproto.TaskStartResult](t, f.waitReport(t, start)); res.ContainerID == "" || res.Reused {
		t.Errorf("start %+v", res)
	}
	f.add(wait) // the workflow waits once the start is reported
	f.waitEvent(t, "a heartbeat of the wait", func(e event) bool { return e.op == "heartbeat" && e.id == wait.ID })

	a.stop(t) // the agent restarts: the api hands the wait out again
	startKinds(t, f, &Kinds{Ops: ops, Simulated: true, SaveToken: (&tokenStore{}).save})
	f.waitEvent(t, "the wait delivered again", func(e event) bool { return e.op == "poll" && len(e.poll.Running) == 0 })
	f.waitEvent(t, "a heartbeat of the wait after the restart", func(e event) bool { return e.op == "heartbeat" && e.id == wait.ID })
	if err := os.WriteFile(filepath.Join(ops.StateDir, "tasks", task, "output", "go"), []byte("now"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := decode[agentproto.TaskWaitResult](t, f.waitReport(t, wait)); res.ExitCode != 0 || res.Missing || res.FinishedAt.IsZero() {
		t.Errorf("wait %+v", res)
	}

	outputs := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskOutputs, Args: args(agentproto.TaskOutputsArgs{TaskID: task})}}
	escape := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskOutputs, Args: args(agentproto.TaskOutputsArgs{TaskID: task, Dir: "../.."})}}
	stop := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskStop, Args: args(agentproto.TaskStopArgs{TaskID: task, Attempt: 1})}}
	f.add(outputs, escape, stop)
	if res := decode[agentproto.TaskOutputsResult](t, f.waitReport(t, outputs)); len(res.Files) != 1 || res.Files[0].Path != "go" || res.Files[0].Size != 3 {
		t.Errorf("outputs %+v", res)
	}
	if r := f.waitReport(t, escape); r.Status != agentproto.ResultFailed || r.Error.Type != "InvalidPath" || !r.Error.Permanent {
		t.Errorf("outputs of ../..: %+v", r)
	}
	if res := decode[agentproto.TaskStopResult](t, f.waitReport(t, stop)); res.WasRunning {
		t.Errorf("stop after the end: %+v", res)
	}
	remove := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskRemove, Args: args(agentproto.TaskRemoveArgs{TaskID: task})}}
	f.add(remove)
	if res := decode[agentproto.TaskRemoveResult](t, f.waitReport(t, remove)); res.Containers != 1 {
		t.Errorf("remove %+v", res)
	}
}

// Simulated host ops stop a tenant's task containers on their own machine
// only (demo agents share the dev stack's Docker daemon); an agent without
// a Docker client fails task commands for good.
func TestSimulatedStopTenant(t *testing.T) {
	cli := testdocker.Client(t)
	tenant := randomID("tn-")
	own := &hostops.Ops{Docker: cli, StateDir: t.TempDir(), MachineID: randomID("m-"), OwnContainersOnly: true, Log: quiet()}
	other := &hostops.Ops{Docker: cli, StateDir: t.TempDir(), MachineID: randomID("m-"), Log: quiet()}
	ctx := context.Background()
	var ids []string
	for _, o := range []*hostops.Ops{own, other} {
		task := randomID("st-")
		res, err := o.TaskStart(ctx, agentproto.TaskStartArgs{TaskID: task, TenantID: tenant, Attempt: 1, Image: testimage.Ref, Command: "sleep 600"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task}) })
		ids = append(ids, res.ContainerID)
	}
	f := newFakeAPI(t)
	stop := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindStopTenant,
		Args: args(agentproto.StopTenantArgs{TenantID: tenant, AllocationID: "a1", User: "root"})}}
	noDocker := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskStart,
		Args: args(agentproto.TaskStartArgs{TaskID: "t1", Attempt: 1, Image: "img"})}}
	f.add(stop)
	startKinds(t, f, &Kinds{Ops: own, Simulated: true, SaveToken: (&tokenStore{}).save})
	if res := decode[agentproto.StopTenantResult](t, f.waitReport(t, stop)); res.Containers != 1 || !res.Simulated || res.Processes != 0 {
		t.Errorf("stop tenant %+v", res)
	}
	if _, err := cli.ContainerInspect(ctx, ids[0]); !cerrdefs.IsNotFound(err) {
		t.Errorf("the machine's own container: %v", err)
	}
	if insp, err := cli.ContainerInspect(ctx, ids[1]); err != nil || !insp.State.Running {
		t.Errorf("the other machine's container: %v", err)
	}

	f2 := newFakeAPI(t)
	f2.add(noDocker)
	startKinds(t, f2, &Kinds{Simulated: true, SaveToken: (&tokenStore{}).save})
	if r := f2.waitReport(t, noDocker); r.Status != agentproto.ResultFailed || r.Error.Type != "DockerUnavailable" || !r.Error.Permanent {
		t.Errorf("without Docker: %+v", r)
	}
}

// task_output_fetch uploads the file for its own command ID; an upload the
// api refuses fails the command for good, one it cannot take now may be
// tried again.
func TestTaskOutputFetchCommand(t *testing.T) {
	ops := &hostops.Ops{StateDir: t.TempDir(), Log: quiet()}
	task := randomID("of-")
	out := filepath.Join(ops.StateDir, "tasks", task, "output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "model.pt"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	type put struct{ task, cmd, body string }
	puts := make(chan put, 4)
	var status atomic.Int32 // what the api answers (0: ok)
	kinds := &Kinds{Ops: ops, SaveToken: (&tokenStore{}).save,
		PutTaskOutput: func(_ context.Context, taskID, commandID string, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error) {
			b, err := io.ReadAll(r)
			if err != nil || int64(len(b)) != size {
				t.Errorf("read %d of %d: %v", len(b), size, err)
			}
			puts <- put{taskID, commandID, string(b)}
			if st := int(status.Load()); st != 0 {
				return agentproto.TaskOutputFetchResult{}, &pusher.StatusError{Op: "put task output", Status: st}
			}
			return agentproto.TaskOutputFetchResult{Size: size, ETag: "etag-1"}, nil
		}}
	f := newFakeAPI(t)
	fetch := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskOutputFetch,
		Args: args(agentproto.TaskOutputFetchArgs{TaskID: task, Path: "model.pt"})}}
	f.add(fetch)
	startKinds(t, f, kinds)
	if res := decode[agentproto.TaskOutputFetchResult](t, f.waitReport(t, fetch)); res.Size != 7 || res.ETag != "etag-1" {
		t.Errorf("fetch %+v", res)
	}
	if p := <-puts; p != (put{task, fetch.ID, "weights"}) {
		t.Errorf("uploaded %+v", p)
	}
	status.Store(404)
	refused := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindTaskOutputFetch,
		Args: args(agentproto.TaskOutputFetchArgs{TaskID: task, Path: "model.pt"})}}
	f.add(refused)
	if r := f.waitReport(t, refused); r.Status != agentproto.ResultFailed || r.Error.Type != "UploadRefused" || !r.Error.Permanent {
		t.Errorf("refused upload: %+v", r)
	}
}
