package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// progress heartbeats the command with the given progress.
func (a *hostAgent) progress(id string, p any) {
	a.t.Helper()
	raw, _ := json.Marshal(p)
	a.sess().must(200, "POST", cmdPath(agentproto.PathCommandHeartbeat, id), agentproto.HeartbeatRequest{Progress: raw})
}

// An inference task's service health: the wait asks the agent to probe the
// port, the heartbeats' probes show on the task (up with its status, then
// down), and the health is unknown once the task no longer runs.
func TestTaskServiceHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "infer-host", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	host := newHostAgent(t, e, ag)
	ag.must(200, "POST", agentproto.PathImages, agentproto.ImagesReport{Images: []agentproto.HostImage{{Ref: "pytorch:2.3", ID: "sha256:1"}}})

	body := taskBody(ag.machineID, 1)
	body["type"], body["servicePort"] = "inference", 8080
	var tk api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", body).decode(t, &tk)
	if tk.ServiceHealth == nil || tk.ServiceHealth.State != store.ServiceUnknown || tk.ServiceHealth.CheckedAt != nil {
		t.Fatalf("queued: %+v", tk.ServiceHealth)
	}
	start := host.next(agentproto.KindTaskStart)
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	wait := host.next(agentproto.KindTaskWait)
	if wa := args[agentproto.TaskWaitArgs](t, wait); wa.ServicePort != 8080 || wa.TaskID != tk.ID || wa.Attempt != 1 {
		t.Fatalf("wait args %+v", wa)
	}
	running := waitStatus(t, owner, tk.ID, "running")
	if running.ServiceHealth == nil || running.ServiceHealth.State != store.ServiceUnknown {
		t.Fatalf("running, not probed yet: %+v", running.ServiceHealth)
	}

	checked := time.Now().UTC().Add(-time.Second).Truncate(time.Millisecond)
	host.progress(wait.ID, agentproto.TaskWaitProgress{Service: &agentproto.ServiceProbe{Up: true, Status: 404, CheckedAt: checked}})
	var d api.TaskDetails
	owner.must(200, "GET", "/api/customer/tasks/"+tk.ID+"/details", nil).decode(t, &d)
	h := d.ServiceHealth
	if h == nil || h.State != store.ServiceUp || h.HTTPStatus == nil || *h.HTTPStatus != 404 || h.CheckedAt == nil || !h.CheckedAt.Equal(checked) {
		t.Fatalf("up: %+v", h)
	}
	var list api.Page[api.Task]
	owner.must(200, "GET", "/api/customer/tasks", nil).decode(t, &list)
	if len(list.List) != 1 || list.List[0].ServiceHealth == nil || list.List[0].ServiceHealth.State != store.ServiceUp {
		t.Fatalf("list: %+v", list.List)
	}
	// an older probe (a heartbeat late) changes nothing; a newer one does
	host.progress(wait.ID, agentproto.TaskWaitProgress{Service: &agentproto.ServiceProbe{Up: false, CheckedAt: checked.Add(-time.Minute)}})
	if h := getTask(t, owner, tk.ID).ServiceHealth; h.State != store.ServiceUp {
		t.Fatalf("after an older probe: %+v", h)
	}
	host.progress(wait.ID, agentproto.TaskWaitProgress{Service: &agentproto.ServiceProbe{Up: false, Error: "connection refused",
		CheckedAt: checked.Add(500 * time.Millisecond)}})
	if h := getTask(t, owner, tk.ID).ServiceHealth; h.State != store.ServiceDown || h.HTTPStatus != nil {
		t.Fatalf("down: %+v", h)
	}

	// the container ends: the health is no longer known
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 0, FinishedAt: time.Now().UTC(), LogsShipped: true})
	ended := waitStatus(t, owner, tk.ID, "succeeded")
	if ended.ServiceHealth == nil || ended.ServiceHealth.State != store.ServiceUnknown || ended.ServiceHealth.CheckedAt == nil {
		t.Fatalf("ended: %+v", ended.ServiceHealth)
	}
}
