package api_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/live"
	"github.com/remotegpu/remotegpu/store"
)

// taskBody is a valid create form for the machine.
func taskBody(machineID string, gpus int) map[string]any {
	return map[string]any{"name": "resnet50", "type": "training", "machineId": machineID, "gpuCount": gpus, "image": "pytorch:2.3",
		"workDir": "/workspace", "command": "python train.py", "env": []map[string]string{{"name": "LR", "value": "0.1"}},
		"autoRestart": false, "maxAttempts": 1, "notifyInApp": true, "notifyMail": false, "checkpointIntervalSeconds": 600, "servicePort": nil}
}

func getTask(t *testing.T, s *session, id string) api.Task {
	t.Helper()
	var tk api.Task
	s.must(200, "GET", "/api/customer/tasks/"+id, nil).decode(t, &tk)
	return tk
}

func waitStatus(t *testing.T, s *session, id, status string) api.Task {
	t.Helper()
	var tk api.Task
	waitFor(t, "task "+status, func() bool {
		tk = getTask(t, s, id)
		return tk.Status == status
	})
	return tk
}

// fields lists the locations of a 400's field errors.
func fields(t *testing.T, r *reply) map[string]string {
	t.Helper()
	var d api.ErrorData
	r.decode(t, &d)
	out := map[string]string{}
	for _, f := range d.Errors {
		out[f.Location] = f.Reason
	}
	return out
}

// A task's life through the agent: the form's checks, the start with its
// GPUs and spec, the logs (stored once, paged, searched, downloaded, live),
// a stop while it runs, a re-run that succeeds, and the delete that cleans
// the host up.
func TestTaskRunsThroughTheAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	ctx := context.Background()
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "task-host", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	host := newHostAgent(t, e, ag)
	ag.must(200, "POST", agentproto.PathImages, agentproto.ImagesReport{Images: []agentproto.HostImage{
		{Ref: "pytorch:2.3", ID: "sha256:1", Size: 1 << 30}, {Ref: "<none>:<none>"}, {Ref: "pytorch:2.3"}}})
	var images []api.MachineImage
	owner.must(200, "GET", "/api/customer/images?machineId="+ag.machineID, nil).decode(t, &images)
	if len(images) != 1 || images[0].Ref != "pytorch:2.3" {
		t.Fatalf("images %+v", images)
	}
	var avail []api.AvailableMachine
	owner.must(200, "GET", "/api/customer/machines/available", nil).decode(t, &avail)
	if len(avail) != 1 || avail[0].FreeGPUs != 8 || avail[0].GPUSource != "simulated" {
		t.Fatalf("available %+v", avail)
	}

	// every problem of the form at once, each at its field
	bad := taskBody(ag.machineID, 9)
	bad["name"], bad["image"], bad["command"], bad["maxAttempts"], bad["checkpointIntervalSeconds"] = " ", "tensorflow:1", "", 11, 30
	bad["env"] = []map[string]string{{"name": "1X", "value": ""}, {"name": "RGPU_TASK_ID", "value": ""}, {"name": "A", "value": ""}, {"name": "A", "value": ""}}
	got := fields(t, owner.must(400, "POST", "/api/customer/tasks/training", bad))
	want := map[string]string{"body.name": "tasks.nameLength", "body.image": "tasks.imageNotOnHost", "body.command": "tasks.commandRequired",
		"body.maxAttempts": "tasks.maxAttemptsRange", "body.checkpointIntervalSeconds": "tasks.checkpointIntervalRange",
		"body.gpuCount": "tasks.gpuCountRange", "body.env[0].name": "tasks.envNameInvalid", "body.env[1].name": "tasks.envNameReserved",
		"body.env[3].name": "tasks.envNameDuplicate"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	inference := taskBody(ag.machineID, 1)
	inference["type"] = "inference"
	if got := fields(t, owner.must(400, "POST", "/api/customer/tasks/training", inference)); got["body.servicePort"] != "tasks.servicePortRequired" {
		t.Fatalf("inference without a port: %v", got)
	}
	other := taskBody(ag.machineID, 1)
	other["machineId"] = e.fx.tenantB.ID // not a machine of A's
	if got := fields(t, owner.must(400, "POST", "/api/customer/tasks/training", other)); got["body.machineId"] != "tasks.machineNotLeased" {
		t.Fatalf("a machine not leased: %v", got)
	}

	var tk api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", taskBody(ag.machineID, 2)).decode(t, &tk)
	if tk.Name != "resnet50" || tk.Attempt != 1 || tk.GPUCount != 2 || tk.MachineID != ag.machineID {
		t.Fatalf("created %+v", tk)
	}
	start := host.next(agentproto.KindTaskStart)
	sa := args[agentproto.TaskStartArgs](t, start)
	if sa.TaskID != tk.ID || sa.TenantID != e.fx.tenantA.ID || sa.Attempt != 1 || sa.Image != "pytorch:2.3" || sa.Command != "python train.py" ||
		sa.WorkDir != "/workspace" || sa.Env["LR"] != "0.1" || fmt.Sprint(sa.GPUs) != "[0 1]" || sa.CheckpointIntervalSeconds != 600 {
		t.Fatalf("start args %+v", sa)
	}
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	wait := host.next(agentproto.KindTaskWait)
	if wait.HeartbeatSeconds <= 0 || wait.HeartbeatSeconds > 20 {
		t.Fatalf("the wait heartbeats every %d s", wait.HeartbeatSeconds)
	}
	running := waitStatus(t, owner, tk.ID, "running")
	if running.StartedAt == nil || fmt.Sprint(running.GPUs) != "[0 1]" {
		t.Fatalf("running %+v", running)
	}
	owner.must(409, "DELETE", "/api/customer/tasks/"+tk.ID, nil)
	owner.must(409, "POST", "/api/customer/tasks/"+tk.ID+"/restart", nil)

	// its own GPUs' figures, from the host's samples
	ag.post(t, round(time.Now().UTC(), 8, 40))
	var m api.TaskMetrics
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/metrics", nil).decode(t, &m)
	if len(m.GPUs) != 2 || m.GPUs[0].Index != 0 || m.GPUs[1].Index != 1 || len(m.GPUs[1].Points) != 1 || m.GPUs[1].Points[0].Util != 41 {
		t.Fatalf("metrics %+v", m)
	}
	// its outputs, listed by the agent
	listed := make(chan *reply, 1)
	go func() { listed <- owner.do("GET", "/api/customer/tasks/"+tk.ID+"/outputs?dir=ckpt/", nil) }()
	out := host.next(agentproto.KindTaskOutputs)
	if oa := args[agentproto.TaskOutputsArgs](t, out); oa.TaskID != tk.ID || oa.Dir != "ckpt" {
		t.Fatalf("outputs args %+v", oa)
	}
	host.succeed(out.ID, agentproto.TaskOutputsResult{Files: []agentproto.OutputFile{{Path: "ckpt/e1.pt", Size: 10, ModTime: time.Now().UTC()}}})
	r := <-listed
	var files api.TaskOutputs
	if r.Status != 200 {
		t.Fatalf("outputs: %d %s", r.Status, r.Data)
	}
	r.decode(t, &files)
	if len(files.Files) != 1 || files.Files[0].Path != "ckpt/e1.pt" {
		t.Fatalf("outputs %+v", files)
	}
	owner.must(400, "GET", "/api/customer/tasks/"+tk.ID+"/outputs?dir=../x", nil)

	// logs: a batch stored once, a gap refused, another machine's agent refused
	logPath := strings.Replace(agentproto.PathTaskLogs, "{id}", tk.ID, 1)
	now := time.Now().UTC()
	batch := agentproto.TaskLogBatch{Attempt: 1, Offset: 0, Lines: []agentproto.LogLine{
		{Time: now, Stream: "stdout", Text: "epoch 1 loss 0.9"}, {Time: now, Stream: "stderr", Text: "warning: slow\x00disk"},
		{Time: now, Stream: "stdout", Text: "epoch 2 loss 0.5"}}}
	for range 2 {
		var ack agentproto.TaskLogAck
		ag.must(200, "POST", logPath, batch).decode(t, &ack)
		if ack.Next != 3 {
			t.Fatalf("ack %+v", ack)
		}
	}
	var ack agentproto.TaskLogAck
	ag.must(200, "POST", logPath, agentproto.TaskLogBatch{Attempt: 1, Offset: 10, Lines: batch.Lines}).decode(t, &ack)
	if ack.Next != 3 {
		t.Fatalf("after a gap: %+v", ack)
	}
	stranger := addAgent(t, e, admin, "other-host", "北京")
	stranger.must(404, "POST", logPath, batch)
	var page api.TaskLogPage
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/logs", nil).decode(t, &page)
	if page.Attempt != 1 || len(page.Lines) != 3 || page.Lines[0].N != 1 || page.Lines[1].S != "stderr" || page.Total != 3 {
		t.Fatalf("log page %+v", page)
	}
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/logs?q=EPOCH&afterN=1", nil).decode(t, &page)
	if len(page.Lines) != 1 || page.Lines[0].N != 3 {
		t.Fatalf("searched %+v", page)
	}
	text := owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/logs?format=text", nil)
	if lines := strings.Split(strings.TrimSpace(string(text.Data)), "\n"); len(lines) != 3 || !strings.HasSuffix(lines[2], "stdout epoch 2 loss 0.5") ||
		!strings.Contains(text.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download %q %v", text.Data, text.Header)
	}
	owner.must(404, "GET", "/api/customer/tasks/"+tk.ID+"/logs?attempt=7", nil)

	// the live log: the backlog after afterN, then what comes
	ws, _, err := websocket.DefaultDialer.Dial(ticketURL(t, e.srv.URL, "/ws/customer/tasks/"+tk.ID+"/logs", owner.access)+"&afterN=1", nil)
	if err != nil {
		t.Fatalf("dial the log: %v", err)
	}
	defer ws.Close()
	f := waitFrame(t, ws, "the backlog", func(f live.LogFrame) bool { return f.Type == live.FrameLines })
	if len(f.Lines) != 2 || f.Lines[0].N != 2 || f.Attempt != 1 {
		t.Fatalf("backlog %+v", f)
	}
	waitFrame(t, ws, "the status", func(f live.LogFrame) bool { return f.Type == live.FrameStatus && f.Status == "running" })
	ag.must(200, "POST", logPath, agentproto.TaskLogBatch{Attempt: 1, Offset: 3, Lines: []agentproto.LogLine{{Time: now, Stream: "stdout", Text: "epoch 3"}}})
	f = waitFrame(t, ws, "the new line", func(f live.LogFrame) bool { return f.Type == live.FrameLines })
	if len(f.Lines) != 1 || f.Lines[0].N != 4 || f.Lines[0].X != "epoch 3" {
		t.Fatalf("followed %+v", f)
	}
	// another customer cannot follow it
	other404 := e.login("owner-b")
	if got := refused(t, websocket.DefaultDialer, ticketURL(t, e.srv.URL, "/ws/customer/tasks/"+tk.ID+"/logs", other404.access), nil); got != 404 {
		t.Fatalf("another customer's socket: %d", got)
	}

	// stop while it runs: SIGTERM with the grace, then the wait ends
	owner.must(202, "POST", "/api/customer/tasks/"+tk.ID+"/stop", nil)
	stop := host.next(agentproto.KindTaskStop)
	if sa := args[agentproto.TaskStopArgs](t, stop); sa.GraceSeconds != 30 || sa.Attempt != 1 || sa.TaskID != tk.ID {
		t.Fatalf("stop args %+v", sa)
	}
	host.succeed(stop.ID, agentproto.TaskStopResult{WasRunning: true})
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 143, FinishedAt: time.Now().UTC(), LogsShipped: true})
	stopped := waitStatus(t, owner, tk.ID, "stopped")
	if stopped.StatusReason != "tasks.reason.stoppedByUser" || stopped.ExitCode == nil || *stopped.ExitCode != 143 || stopped.FinishedAt == nil {
		t.Fatalf("stopped %+v", stopped)
	}
	waitFrame(t, ws, "the stopped status", func(f live.LogFrame) bool { return f.Type == live.FrameStatus && f.Status == "stopped" })
	owner.must(409, "POST", "/api/customer/tasks/"+tk.ID+"/stop", nil)
	waitFor(t, "the stop notice", func() bool { return inbox(t, owner, activities.NoticeTaskStopped) })

	// a re-run is attempt 2 of the same task; it succeeds
	var again api.Task
	owner.must(200, "POST", "/api/customer/tasks/"+tk.ID+"/restart", nil).decode(t, &again)
	if again.Attempt != 2 || again.StartedAt != nil {
		t.Fatalf("re-run %+v", again)
	}
	start = host.next(agentproto.KindTaskStart)
	if sa := args[agentproto.TaskStartArgs](t, start); sa.Attempt != 2 {
		t.Fatalf("re-run start %+v", sa)
	}
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c2", StartedAt: time.Now().UTC()})
	wait = host.next(agentproto.KindTaskWait)
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 0, FinishedAt: time.Now().UTC(), LogsShipped: true})
	done := waitStatus(t, owner, tk.ID, "succeeded")
	if done.StatusReason != "tasks.reason.completed" || done.Attempt != 2 {
		t.Fatalf("succeeded %+v", done)
	}
	var d api.TaskDetails
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/details", nil).decode(t, &d)
	if len(d.Attempts) != 2 || d.Attempts[1].Reason != "tasks.reason.stoppedByUser" || d.Attempts[1].LogLines != 4 || !d.GPUSimulated ||
		d.Command != "python train.py" || len(d.Env) != 1 || d.FirstAttempt != 2 {
		t.Fatalf("details %+v", d)
	}
	var recent []api.Task
	owner.must(200, "GET", "/api/customer/tasks/recent", nil).decode(t, &recent)
	var mine api.Page[api.Task]
	owner.must(200, "GET", "/api/customer/machines/"+ag.machineID+"/tasks", nil).decode(t, &mine)
	if len(recent) != 1 || mine.Total != 1 {
		t.Fatalf("recent %d, machine tasks %d", len(recent), mine.Total)
	}

	// delete: hidden at once; the host removes its files, then the rows go
	owner.must(200, "DELETE", "/api/customer/tasks/"+tk.ID, nil)
	owner.must(404, "GET", "/api/customer/tasks/"+tk.ID, nil)
	rm := host.next(agentproto.KindTaskRemove)
	if ra := args[agentproto.TaskRemoveArgs](t, rm); ra.TaskID != tk.ID {
		t.Fatalf("remove args %+v", ra)
	}
	host.succeed(rm.ID, agentproto.TaskRemoveResult{Containers: 2})
	waitFor(t, "the task's rows gone", func() bool {
		var n int
		_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM tasks t FULL JOIN task_logs l ON l.task_id = t.id WHERE t.id = $1 OR l.task_id = $1`, tk.ID).Scan(&n)
		return n == 0
	})
	for _, action := range []string{"task.create", "task.stop", "task.restart", "task.delete"} {
		if n := auditCount(t, e, action, true); n != 1 {
			t.Errorf("%s audited %d times", action, n)
		}
	}
}

// inbox tells whether the user has a notification with that code.
func inbox(t *testing.T, s *session, code string) bool {
	t.Helper()
	var page struct {
		List []struct {
			Code string `json:"code"`
		} `json:"list"`
	}
	s.must(200, "GET", "/api/customer/notifications", nil).decode(t, &page)
	for _, n := range page.List {
		if n.Code == code {
			return true
		}
	}
	return false
}

// The queue of a machine, an admin's stop of a queued task (the customer
// is told why) and the end of the lease, which stops the running one.
func TestTaskQueueAdminStopAndLeaseEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "queue-host", "北京")
	host := newHostAgent(t, e, ag)
	leaseOne(t, admin, e.fx.tenantA.ID, ag.machineID)
	startLease(t, host)

	var big, small api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", taskBody(ag.machineID, 8)).decode(t, &big)
	start := host.next(agentproto.KindTaskStart)
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	wait := host.next(agentproto.KindTaskWait)
	body := taskBody(ag.machineID, 1)
	body["name"] = "small"
	owner.must(201, "POST", "/api/customer/tasks/training", body).decode(t, &small)
	if small.Status != "queued" || small.QueuePosition == nil || *small.QueuePosition != 1 {
		t.Fatalf("small %+v", small)
	}
	var queue api.Page[api.Task]
	owner.must(200, "GET", "/api/customer/tasks?tab=queue", nil).decode(t, &queue)
	if queue.Total != 1 || queue.List[0].ID != small.ID {
		t.Fatalf("queue %+v", queue)
	}
	var stats api.CustomerDashboardStats
	owner.must(200, "GET", "/api/customer/dashboard/stats", nil).decode(t, &stats)
	var fleet store.FleetStats
	admin.must(200, "GET", "/api/admin/dashboard/stats", nil).decode(t, &fleet)
	var detail api.CustomerDetail
	admin.must(200, "GET", "/api/admin/customers/"+e.fx.tenantA.ID, nil).decode(t, &detail)
	if stats.RunningTasks != 1 || stats.QueuedTasks != 1 || fleet.RunningTasks != 1 || detail.Tasks.Running != 1 || detail.Tasks.Total != 2 {
		t.Fatalf("counts: customer %+v fleet %+v detail %+v", stats, fleet, detail.Tasks)
	}
	var all api.Page[api.Task]
	admin.must(200, "GET", "/api/admin/tasks?view=running&tenantId="+e.fx.tenantA.ID, nil).decode(t, &all)
	if all.Total != 2 || all.List[0].TenantName != "Company tenant-a" {
		t.Fatalf("admin list %+v", all)
	}
	admin.must(200, "GET", "/api/admin/tasks?view=finished", nil).decode(t, &all)
	if all.Total != 0 {
		t.Fatalf("finished %+v", all)
	}

	// an admin stops the queued one: it ends at once, no host command, the customer is told
	admin.must(202, "POST", "/api/admin/tasks/"+small.ID+"/stop", map[string]any{"reason": "maintenance window"})
	st := waitStatus(t, owner, small.ID, "stopped")
	if st.StatusReason != "tasks.reason.stoppedByAdmin" || st.StatusParams["reason"] != "maintenance window" {
		t.Fatalf("admin-stopped %+v", st)
	}
	waitFor(t, "the admin's notice", func() bool { return inbox(t, owner, activities.NoticeTaskStoppedByAdmin) })
	if auditCount(t, e, "task.admin_stop", true) != 1 {
		t.Fatal("the admin's stop is not audited")
	}
	var d api.TaskDetails
	admin.must(200, "GET", "/api/admin/tasks/"+big.ID, nil).decode(t, &d)
	if d.TenantName != "Company tenant-a" || d.Status != "running" {
		t.Fatalf("admin detail %+v", d)
	}
	admin.must(200, "GET", "/api/admin/tasks/"+big.ID+"/logs", nil)

	// an agent that does not answer a listing in time: 503, the page says so
	r := owner.do("GET", "/api/customer/tasks/"+big.ID+"/outputs", nil)
	var ed api.ErrorData
	r.decode(t, &ed)
	if r.Status != 503 || ed.Reason != "tasks.hostUnreachable" {
		t.Fatalf("outputs without an answer: %d %+v", r.Status, ed)
	}

	// the lease ends: the running task is stopped, its container with the tenant's
	admin.must(202, "POST", "/api/admin/machines/"+ag.machineID+"/reclaim", map[string]any{})
	ended := waitStatus(t, owner, big.ID, "stopped")
	if ended.StatusReason != "tasks.reason.leaseEnded" {
		t.Fatalf("after the lease %+v", ended)
	}
	// the task's workflow was told (it stops the container) and the lease's
	// cleanup stops the tenant's containers, in either order; the wait then ends
	cmds := host.each(agentproto.KindTaskStop, agentproto.KindStopTenant)
	host.succeed(cmds[agentproto.KindTaskStop].ID, agentproto.TaskStopResult{WasRunning: true})
	host.succeed(cmds[agentproto.KindStopTenant].ID, agentproto.StopTenantResult{Containers: 1})
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 137, FinishedAt: time.Now().UTC()})
	waitFor(t, "the task's workflow to end", func() bool {
		d, err := e.temporal.DescribeWorkflowExecution(context.Background(), "task:"+big.ID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	if tk := getTask(t, owner, big.ID); tk.Status != "stopped" || tk.StatusReason != "tasks.reason.leaseEnded" {
		t.Fatalf("the end of the attempt changed the lease's stop: %+v", tk)
	}
	// the machine is no longer the customer's: no re-run there, and its
	// agent (whose key the next customer will hold) writes nothing into the log
	owner.must(409, "POST", "/api/customer/tasks/"+big.ID+"/restart", nil)
	ag.must(404, "POST", strings.Replace(agentproto.PathTaskLogs, "{id}", big.ID, 1), agentproto.TaskLogBatch{Attempt: 1,
		Lines: []agentproto.LogLine{{Time: time.Now().UTC(), Stream: "stdout", Text: "injected after the lease"}}})
}

// each long-polls until a command of each kind arrived, in any order.
func (a *hostAgent) each(kinds ...string) map[string]agentproto.Command {
	a.t.Helper()
	out := map[string]agentproto.Command{}
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < len(kinds) && time.Now().Before(deadline) {
		status, cmds := a.poll(5)
		if status != 200 {
			a.t.Fatalf("poll: %d", status)
		}
		for _, c := range cmds {
			if !slices.Contains(kinds, c.Kind) {
				a.t.Fatalf("got a %s command while waiting for %v", c.Kind, kinds)
			}
			out[c.Kind] = c
		}
	}
	if len(out) < len(kinds) {
		a.t.Fatalf("only %v of %v came", out, kinds)
	}
	return out
}

// The live log under volume: a reader gets every line in order however the
// batches come (the socket reads Postgres after its cursor, in chunks), and
// a socket that does not read is dropped (4008) instead of buffering.
func TestTaskLogSocketVolume(t *testing.T) {
	t.Parallel()
	wsTune()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "log-host", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	id, err := e.st.CreateTask(context.Background(), store.TaskSpec{TenantID: e.fx.tenantA.ID, Name: "chatty", Type: "training",
		MachineID: ag.machineID, GPUCount: 1, Image: "img", Command: "yes", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := "/ws/customer/tasks/" + id + "/logs"
	reader := dialWS(t, e.srv.URL, path, owner.access)
	// the idle client's kernel takes little, so the server's queue fills
	small := &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}
	idle, _, err := small.Dial(ticketURL(t, e.srv.URL, path, owner.access), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	const batches, per = 4, 5000
	logPath := strings.Replace(agentproto.PathTaskLogs, "{id}", id, 1)
	now := time.Now().UTC()
	for b := range batches {
		lines := make([]agentproto.LogLine, per)
		for i := range lines {
			lines[i] = agentproto.LogLine{Time: now, Stream: "stdout", Text: fmt.Sprintf("step %06d loss 0.%04d", b*per+i, i)}
		}
		var ack agentproto.TaskLogAck
		ag.must(200, "POST", logPath, agentproto.TaskLogBatch{Attempt: 1, Offset: int64(b * per), Lines: lines}).decode(t, &ack)
		if ack.Next != int64((b+1)*per) {
			t.Fatalf("ack %+v", ack)
		}
	}
	var last int64
	waitFrame(t, reader, "every line", func(f live.LogFrame) bool {
		for _, l := range f.Lines {
			if l.N != last+1 {
				t.Fatalf("line %d after %d", l.N, last)
			}
			last = l.N
		}
		return last == batches*per
	})
	// dropped: with 4008 when the close frame gets through, else cut (1006)
	if code := closeCode(t, idle, 20*time.Second); code != live.CloseSlowConsumer && code != websocket.CloseAbnormalClosure {
		t.Fatalf("the idle socket closed with %d", code)
	}
}

// A task the api recorded but whose workflow never started (or was
// terminated) gets one from the reconciler, at its current attempt: a
// granted attempt finds its GPUs and its container again. A deleted task
// whose cleanup is not running gets it too.
func TestReconcilerGivesTasksTheirWorkflows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	ctx := context.Background()
	admin := e.login("admin1")
	ag := addAgent(t, e, admin, "orphan-host", "北京")
	host := newHostAgent(t, e, ag)
	leaseOne(t, admin, e.fx.tenantA.ID, ag.machineID) // with its workflow, which the reconciler leaves alone
	startLease(t, host)
	id, err := e.st.CreateTask(ctx, store.TaskSpec{TenantID: e.fx.tenantA.ID, Name: "orphan", Type: "training", MachineID: ag.machineID,
		GPUCount: 2, Image: "img", Command: "true", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res := reconcile(t, e); res.TasksStarted != 1 {
		t.Fatalf("reconcile %+v", res)
	}
	start := host.next(agentproto.KindTaskStart)
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	host.next(agentproto.KindTaskWait)
	if err := e.temporal.TerminateWorkflow(ctx, "task:"+id, "", "test"); err != nil {
		t.Fatal(err)
	}
	host.running = nil // the agent forgets the wait: the new run asks again
	if res := reconcile(t, e); res.TasksStarted != 1 {
		t.Fatalf("reconcile after the terminate %+v", res)
	}
	start = host.next(agentproto.KindTaskStart)
	if sa := args[agentproto.TaskStartArgs](t, start); sa.Attempt != 1 || fmt.Sprint(sa.GPUs) != "[0 1]" {
		t.Fatalf("the new run's start %+v", sa)
	}
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC(), Reused: true})
	wait := host.next(agentproto.KindTaskWait)
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 0, FinishedAt: time.Now().UTC()})
	owner := e.login("owner-a")
	waitStatus(t, owner, id, "succeeded")

	if err := e.st.MarkTaskDeleted(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(t, e); res.RemovalsStarted != 1 {
		t.Fatalf("reconcile of the deleted task %+v", res)
	}
	rm := host.next(agentproto.KindTaskRemove)
	host.succeed(rm.ID, agentproto.TaskRemoveResult{})
	waitFor(t, "the rows gone", func() bool {
		_, err := e.st.GetTask(ctx, store.TaskScope{All: true}, id, true)
		return err == store.ErrNotFound
	})
}

// A task whose workflow cannot start is not left behind: 503, no task, and
// the record says it failed.
func TestTaskCreateUndoneWithoutWorkflows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{}) // no Temporal
	admin := e.login("admin1")
	owner := e.login("owner-a")
	m := addMachine(t, admin, "undo-host", "北京", "H100").Machine
	lease(t, e, e.fx.tenantA.ID, m.ID)
	r := owner.must(503, "POST", "/api/customer/tasks/training", taskBody(m.ID, 1))
	var d api.ErrorData
	r.decode(t, &d)
	var page api.Page[api.Task]
	owner.must(200, "GET", "/api/customer/tasks", nil).decode(t, &page)
	if d.Reason != "workflowUnavailable" || page.Total != 0 || auditCount(t, e, "task.create", false) != 1 {
		t.Fatalf("reason %q, %d tasks, %d failures recorded", d.Reason, page.Total, auditCount(t, e, "task.create", false))
	}
}

// A GPU fault in a host's samples moves the task on that GPU: an XID error
// on one of its GPUs stops its container (10 s grace) and the attempt ends
// as tasks.reason.gpuFault, the next queued on the company's other machine
// (anyMachine); there a rise of the uncorrected ECC count ends the last
// attempt the same way. A program's own XID, or an ECC count first seen
// above 0, moves nothing.
func TestTaskGPUFaultMovesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag1 := addAgent(t, e, admin, "fault-host-1", "北京")
	ag2 := addAgent(t, e, admin, "fault-host-2", "北京")
	lease(t, e, e.fx.tenantA.ID, ag1.machineID)
	lease(t, e, e.fx.tenantA.ID, ag2.machineID)
	host1, host2 := newHostAgent(t, e, ag1), newHostAgent(t, e, ag2)
	withECC := func(s agentproto.Sample, gpu int, n int64) agentproto.Sample {
		s.GPUs[gpu].ECCErrors = &n
		return s
	}
	ag2.post(t, withECC(round(time.Now().UTC(), 8, 10), 0, 0)) // online, its ECC counts known

	body := taskBody(ag1.machineID, 2)
	body["anyMachine"], body["autoRestart"], body["maxAttempts"] = true, true, 2
	var tk api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", body).decode(t, &tk)
	start := host1.next(agentproto.KindTaskStart)
	host1.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	wait := host1.next(agentproto.KindTaskWait)
	waitStatus(t, owner, tk.ID, "running")

	// the program's own XID and a first ECC count above 0 on its GPU 0: nothing
	benign := withECC(round(time.Now().UTC(), 8, 40), 0, 3)
	benign.GPUs[0].XIDs = []int{13}
	ag1.post(t, benign)
	// XID 79 (fallen off the bus) on its GPU 1, the count of GPU 0 unchanged
	fault := withECC(round(time.Now().UTC(), 8, 40), 0, 3)
	fault.GPUs[1].XIDs = []int{79}
	ag1.post(t, fault)
	stop := host1.next(agentproto.KindTaskStop)
	if sa := args[agentproto.TaskStopArgs](t, stop); sa.GraceSeconds != 10 || sa.Attempt != 1 || sa.TaskID != tk.ID {
		t.Fatalf("stop args %+v", sa)
	}
	host1.succeed(stop.ID, agentproto.TaskStopResult{WasRunning: true})
	host1.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 143, FinishedAt: time.Now().UTC(), LogsShipped: true})
	moved := waitStatus(t, owner, tk.ID, "queued")
	if moved.Attempt != 2 || moved.MachineID != ag2.machineID || moved.StatusReason != "tasks.reason.restarting" ||
		moved.StatusParams["lastReason"] != "tasks.reason.gpuFault" {
		t.Fatalf("after the fault %+v", moved)
	}
	var d api.TaskDetails
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/details", nil).decode(t, &d)
	first := d.Attempts[len(d.Attempts)-1]
	if len(d.Attempts) != 2 || first.Attempt != 1 || first.MachineID != ag1.machineID || first.Reason != "tasks.reason.gpuFault" ||
		first.Params["gpuIndex"] != float64(1) || first.Params["xid"] != float64(79) || d.Attempts[0].MachineID != ag2.machineID {
		t.Fatalf("attempts %+v", d.Attempts)
	}

	// attempt 2 runs on the other machine once the backoff (10 s) is over
	start = host2.next(agentproto.KindTaskStart)
	if sa := args[agentproto.TaskStartArgs](t, start); sa.Attempt != 2 || sa.TaskID != tk.ID || fmt.Sprint(sa.GPUs) != "[0 1]" {
		t.Fatalf("start on the other machine %+v", sa)
	}
	host2.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c2", StartedAt: time.Now().UTC()})
	wait = host2.next(agentproto.KindTaskWait)
	waitStatus(t, owner, tk.ID, "running")
	// its GPU 0's uncorrected ECC count rises from 0 to 1: the last attempt fails so
	ag2.post(t, withECC(round(time.Now().UTC(), 8, 40), 0, 1))
	stop = host2.next(agentproto.KindTaskStop)
	host2.succeed(stop.ID, agentproto.TaskStopResult{WasRunning: true})
	host2.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 137, FinishedAt: time.Now().UTC(), LogsShipped: true})
	failed := waitStatus(t, owner, tk.ID, "failed")
	if failed.StatusReason != "tasks.reason.gpuFault" || failed.StatusParams["gpuIndex"] != float64(0) || failed.StatusParams["ecc"] != float64(1) ||
		failed.Attempt != 2 {
		t.Fatalf("failed %+v", failed)
	}
}
