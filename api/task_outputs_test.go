package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/tasks"
)

// A customer downloads an output file: the agent is asked for it
// (task_output_fetch), uploads it once for that command, and the api sends
// it back as an attachment. Another tenant gets 404; a bad path 400; a file
// the agent finds too large 413.
func TestTaskOutputDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "output-host", "北京")
	other := addAgent(t, e, admin, "output-other", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	host := newHostAgent(t, e, ag)
	ag.must(200, "POST", agentproto.PathImages, agentproto.ImagesReport{Images: []agentproto.HostImage{{Ref: "pytorch:2.3", ID: "sha256:1"}}})
	var tk api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", taskBody(ag.machineID, 1)).decode(t, &tk)
	start := host.next(agentproto.KindTaskStart)
	host.succeed(start.ID, agentproto.TaskStartResult{ContainerID: "c1", StartedAt: time.Now().UTC()})
	wait := host.next(agentproto.KindTaskWait) // it runs on

	download := "/api/customer/tasks/" + tk.ID + "/outputs/download?path="
	got := make(chan *reply, 1)
	go func() { got <- owner.do("GET", download+"ckpt/./e1.pt", nil) }()
	cmd := host.next(agentproto.KindTaskOutputFetch)
	if fa := args[agentproto.TaskOutputFetchArgs](t, cmd); fa.TaskID != tk.ID || fa.Path != "ckpt/e1.pt" {
		t.Fatalf("fetch args %+v", fa)
	}
	upload := func(taskID, commandID string) string {
		return strings.NewReplacer("{id}", taskID, "{commandId}", commandID).Replace(agentproto.PathTaskOutputUpload)
	}
	body := multipartBody{data: []byte("the weights\x00\x01"), contentType: "application/octet-stream"}
	// only the command's own machine, for its own task
	other.must(404, "PUT", upload(tk.ID, cmd.ID), body)
	ag.must(404, "PUT", upload(e.fx.tenantA.ID, cmd.ID), body)
	ag.must(404, "PUT", upload(tk.ID, start.ID), body)
	// the agent's own client streams it
	client := &pusher.Client{BaseURL: e.srv.URL}
	client.SetToken(ag.access)
	res, err := client.PutTaskOutput(context.Background(), tk.ID, cmd.ID, bytes.NewReader(body.data), int64(len(body.data)))
	if err != nil || res.Size != int64(len(body.data)) || res.ETag == "" {
		t.Fatalf("upload result %+v, %v", res, err)
	}
	ag.must(404, "PUT", upload(tk.ID, cmd.ID), body) // once
	host.succeed(cmd.ID, res)
	r := <-got
	if r.Status != 200 || string(r.Data) != string(body.data) {
		t.Fatalf("download: %d %q", r.Status, r.Data)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != "attachment; filename=e1.pt" {
		t.Fatalf("Content-Disposition %q", cd)
	}

	// an empty file
	go func() { got <- owner.do("GET", download+"empty.txt", nil) }()
	cmd = host.next(agentproto.KindTaskOutputFetch)
	if res, err = client.PutTaskOutput(context.Background(), tk.ID, cmd.ID, bytes.NewReader(nil), 0); err != nil || res.Size != 0 {
		t.Fatalf("empty upload %+v, %v", res, err)
	}
	host.succeed(cmd.ID, res)
	if r := <-got; r.Status != 200 || len(r.Data) != 0 || r.Header.Get("Content-Disposition") != "attachment; filename=empty.txt" {
		t.Fatalf("empty download: %d %q %v", r.Status, r.Data, r.Header)
	}

	// another tenant's customer, a path out of the directory, no path
	e.login("owner-b").must(404, "GET", download+"ckpt/e1.pt", nil)
	for _, bad := range []string{"../x", "/etc/passwd", "", "a/../../b", "."} {
		if got := fields(t, owner.must(400, "GET", download+bad, nil)); got["query.path"] != "tasks.outputPathInvalid" {
			t.Errorf("path %q: %v", bad, got)
		}
	}

	// the agent refuses a file over the cap: 413
	go func() { got <- owner.do("GET", download+"big.bin", nil) }()
	cmd = host.next(agentproto.KindTaskOutputFetch)
	host.sess().must(200, "POST", cmdPath(agentproto.PathCommandResult, cmd.ID), agentproto.ResultRequest{Status: agentproto.ResultFailed,
		Error: &agentproto.CommandError{Message: "too large", Type: "TooLarge", Permanent: true}})
	r = <-got
	var ed api.ErrorData
	if r.Status != 413 || json.Unmarshal(r.Data, &ed) != nil || ed.Reason != "tasks.outputTooLarge" {
		t.Fatalf("too large: %d %s", r.Status, r.Data)
	}

	// deleting the task removes the files fetched for download with its rows
	key := tasks.OutputObjectKey(e.fx.tenantA.ID, tk.ID, "ckpt/e1.pt")
	if _, _, _, err := e.objects.Get(context.Background(), objstore.BucketTaskOutputs, key); err != nil {
		t.Fatalf("the fetched file is not kept: %v", err)
	}
	host.succeed(wait.ID, agentproto.TaskWaitResult{ExitCode: 0, FinishedAt: time.Now().UTC(), LogsShipped: true})
	waitStatus(t, owner, tk.ID, "succeeded")
	owner.must(200, "DELETE", "/api/customer/tasks/"+tk.ID, nil)
	rm := host.next(agentproto.KindTaskRemove)
	host.succeed(rm.ID, agentproto.TaskRemoveResult{Containers: 1})
	waitFor(t, "the task's rows gone", func() bool {
		var n int
		_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tasks WHERE id = $1`, tk.ID).Scan(&n)
		return n == 0
	})
	if _, _, _, err := e.objects.Get(context.Background(), objstore.BucketTaskOutputs, key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("the fetched file is still kept after the task was deleted: %v", err)
	}
}
