package api_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/testdocker"
	"github.com/remotegpu/remotegpu/internal/testimage"
	"github.com/remotegpu/remotegpu/store"
)

// runAgent runs the agent's command loop in this process against the
// test's api (simulated host ops: the login account is left alone; the
// dataset copies are made for real under the test's directories).
func runAgent(t *testing.T, e *env, ag agent) *hostops.Ops {
	t.Helper()
	c := &pusher.Client{BaseURL: e.srv.URL}
	c.SetToken(ag.access)
	ops := &hostops.Ops{StateDir: t.TempDir(), MachineID: ag.machineID, OwnContainersOnly: true, Docker: testdocker.Client(t),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	kinds := &commands.Kinds{Ops: ops, Simulated: true, Datasets: c, PutTaskOutput: c.PutTaskOutput, SetToken: c.SetToken,
		SaveToken: func(string) error { return nil }, Log: ops.Log}
	loop := &commands.Loop{API: c, Handlers: kinds.Handlers(), Wait: 2 * time.Second, Log: ops.Log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = loop.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ops
}

// seedDataset makes an available dataset of the tenant with its files
// stored in the datasets bucket, as the ingest leaves it.
func seedDataset(t *testing.T, e *env, tenantID, name, access string, files map[string][]byte) string {
	t.Helper()
	ctx := context.Background()
	if err := e.objects.EnsureBuckets(ctx, objstore.BucketDatasets); err != nil {
		t.Fatal(err)
	}
	id, err := e.st.CreateDataset(ctx, store.NewDataset{TenantID: tenantID, Name: name, Type: "other", Access: access, Source: "upload", Status: store.DatasetAvailable})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for p, b := range files {
		sum := md5.Sum(b)
		key := tenantID + "/blobs/" + hex.EncodeToString(sum[:]) + "-" + id
		if err := e.objects.Put(ctx, objstore.BucketDatasets, key, bytes.NewReader(b), int64(len(b)), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		var blob string
		if err := e.st.Pool.QueryRow(ctx, `INSERT INTO dataset_blobs (tenant_id, md5, size, object_key, verified) VALUES ($1, $2, $3, $4, false)
			RETURNING id`, tenantID, hex.EncodeToString(sum[:]), len(b), key).Scan(&blob); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Pool.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5) VALUES ($1, $2, $3, $4, $5)`,
			id, p, blob, len(b), hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	if _, err := e.st.Pool.Exec(ctx, `UPDATE datasets SET size_bytes = $2, file_count = $3 WHERE id = $1`, id, total, len(files)); err != nil {
		t.Fatal(err)
	}
	return id
}

func getMount(t *testing.T, s *session, id string) api.DatasetMount {
	t.Helper()
	var page api.Page[api.DatasetMount]
	s.must(200, "GET", "/api/customer/datasets/mounts?pageSize=200", nil).decode(t, &page)
	for _, m := range page.List {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mount %s not listed", id)
	return api.DatasetMount{}
}

func waitMount(t *testing.T, s *session, id, status string) api.DatasetMount {
	t.Helper()
	var m api.DatasetMount
	waitFor(t, "mount "+status, func() bool {
		m = getMount(t, s, id)
		if m.Status == "failed" && status != "failed" {
			t.Fatalf("mount failed: %s %v", m.StatusReason, m.StatusParams)
		}
		return m.Status == status
	})
	return m
}

// A dataset mounted onto a leased machine by its real agent: a read-only
// copy with the right bytes; bad paths 400, another company's machine or
// dataset 404, the same path twice 409; the agent endpoints only for the
// mount's machine; unmount removes the copy; the end of the lease removes
// the next mount on the host and marks it unmounted.
func TestDatasetMountThroughTheAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	admin, owner, ownerB := e.login("admin1"), e.login("owner-a"), e.login("owner-b")
	ag := addAgent(t, e, admin, "mount-host", "北京")
	other := addAgent(t, e, admin, "mount-other", "北京")
	alloc := leaseOne(t, admin, e.fx.tenantA.ID, ag.machineID)
	lease(t, e, e.fx.tenantB.ID, other.machineID)
	ops := runAgent(t, e, ag)
	files := map[string][]byte{"labels.csv": []byte("id,label\n1,cat\n"), "train/a.bin": randomBytes(t, 300<<10), "train/deep/b.txt": []byte("b"),
		"empty.txt": {}}
	ds := seedDataset(t, e, e.fx.tenantA.ID, "imagenet mini", "team", files)
	dir := filepath.Join(t.TempDir(), "data", "imagenet")
	waitFor(t, "the lease active", func() bool {
		var avail []api.AvailableMachine
		owner.must(200, "GET", "/api/customer/machines/available", nil).decode(t, &avail)
		return len(avail) == 1 && avail[0].ID == ag.machineID
	})

	for _, bad := range []string{"relative/x", "/etc/data", "/data", "/a/../b", "/usr/share/x", "/proc/1/x"} {
		r := owner.must(400, "POST", "/api/customer/datasets/"+ds+"/mount", map[string]any{"machineId": ag.machineID, "path": bad})
		if got := fields(t, r); got["body.path"] != "mounts.pathInvalid" {
			t.Errorf("path %q: %v", bad, got)
		}
	}
	owner.must(404, "POST", "/api/customer/datasets/mount", map[string]any{"datasetId": ds, "machineId": other.machineID, "path": dir})
	ownerB.must(404, "POST", "/api/customer/datasets/mount", map[string]any{"datasetId": ds, "machineId": other.machineID, "path": dir})
	ownerB.must(404, "GET", "/api/customer/datasets/"+ds+"/mounts", nil)

	var m api.DatasetMount
	owner.must(201, "POST", "/api/customer/datasets/"+ds+"/mount", map[string]any{"machineId": ag.machineID, "path": dir}).decode(t, &m)
	if (m.Status != "mounting" && m.Status != "mounted") || m.DatasetName != "imagenet mini" || m.MachineName != "mount-host" || m.Path != dir {
		t.Fatalf("created %+v", m)
	}
	for _, p := range []string{dir, dir + "/inner", filepath.Dir(dir)} {
		owner.must(409, "POST", "/api/customer/datasets/mount", map[string]any{"datasetId": ds, "machineId": ag.machineID, "path": p})
	}
	mounted := waitMount(t, owner, m.ID, "mounted")
	if mounted.MountedAt == nil || mounted.Progress.FilesTotal != 4 || mounted.Progress.FilesDone != 4 || mounted.Progress.BytesTotal != 300<<10+16 ||
		mounted.Progress.BytesDone != mounted.Progress.BytesTotal {
		t.Fatalf("mounted %+v", mounted)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s on the host: %d bytes, %v", p, len(got), err)
		}
		if info, _ := os.Stat(filepath.Join(dir, p)); info.Mode().Perm() != 0o444 {
			t.Fatalf("%s mode %v", p, info.Mode())
		}
	}
	if info, _ := os.Stat(filepath.Join(dir, "train")); info.Mode().Perm() != 0o555 {
		t.Fatalf("train/ mode %v", info.Mode())
	}

	// a task binds it: the container reads it at /rgpu/datasets/<name>
	body := taskBody(ag.machineID, 1)
	body["image"], body["workDir"] = testimage.Ref, "/"
	body["command"] = "cat /rgpu/datasets/imagenet_mini/labels.csv > $RGPU_OUTPUT_DIR/labels.csv"
	body["datasets"] = []map[string]string{{"mountId": e.fx.tenantA.ID}}
	if got := fields(t, owner.must(400, "POST", "/api/customer/tasks/training", body)); got["body.datasets[0].mountId"] != "mounts.taskMountInvalid" {
		t.Fatalf("a task binding no mount: %v", got)
	}
	body["datasets"] = []map[string]string{{"mountId": m.ID}}
	var tk api.Task
	owner.must(201, "POST", "/api/customer/tasks/training", body).decode(t, &tk)
	waitStatus(t, owner, tk.ID, "succeeded")
	if b, err := os.ReadFile(filepath.Join(ops.StateDir, "tasks", tk.ID, "output", "labels.csv")); string(b) != string(files["labels.csv"]) {
		t.Fatalf("the task read %q, %v", b, err)
	}
	var uses int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM dataset_task_uses WHERE task_id = $1 AND dataset_id = $2
		AND container_path = '/rgpu/datasets/imagenet_mini'`, tk.ID, ds).Scan(&uses); err != nil || uses != 1 {
		t.Fatalf("uses %d, %v", uses, err)
	}

	// the agent endpoints: only the mount's machine; the path must be a file of the dataset
	manifest := strings.Replace(agentproto.PathDatasetMountManifest, "{id}", m.ID, 1)
	var man agentproto.DatasetManifest
	ag.must(200, "GET", manifest, nil).decode(t, &man)
	if len(man.Files) != len(files) || man.DatasetID != ds {
		t.Fatalf("manifest %+v", man)
	}
	other.must(404, "GET", manifest, nil)
	file := strings.Replace(agentproto.PathDatasetMountFile, "{id}", m.ID, 1) + "?path="
	other.must(404, "GET", file+"labels.csv", nil)
	ag.must(404, "GET", file+"nope.txt", nil)
	ag.must(400, "GET", file+"../etc/passwd", nil)
	if r := ag.must(200, "GET", file+"labels.csv", nil); string(r.Data) != string(files["labels.csv"]) {
		t.Fatalf("file %q", r.Data)
	}

	// lists and another company
	var page api.Page[api.DatasetMount]
	owner.must(200, "GET", "/api/customer/datasets/"+ds+"/mounts", nil).decode(t, &page)
	if page.Total != 1 || page.List[0].ID != m.ID {
		t.Fatalf("dataset mounts %+v", page)
	}
	owner.must(200, "GET", "/api/customer/datasets/mounts?status=mounted&machineId="+ag.machineID, nil).decode(t, &page)
	if page.Total != 1 {
		t.Fatalf("filtered %+v", page)
	}
	ownerB.must(200, "GET", "/api/customer/datasets/mounts", nil).decode(t, &page)
	if page.Total != 0 {
		t.Fatalf("another company sees %+v", page)
	}
	ownerB.must(404, "DELETE", "/api/customer/datasets/mounts/"+m.ID, nil)

	// unmount: the copy goes
	var um api.DatasetMount
	owner.must(200, "POST", "/api/customer/datasets/"+ds+"/unmount", map[string]any{"mountId": m.ID}).decode(t, &um)
	if um.Status != "unmounting" && um.Status != "unmounted" {
		t.Fatalf("unmount %+v", um)
	}
	waitMount(t, owner, m.ID, "unmounted")
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the copy is still on the host: %v", err)
	}
	owner.must(409, "DELETE", "/api/customer/datasets/mounts/"+m.ID, nil)

	// a directory with the customer's own files: the host refuses it, the unmount leaves it alone
	busy := filepath.Join(t.TempDir(), "data", "busy")
	_ = os.MkdirAll(busy, 0o755)
	_ = os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o644)
	owner.must(201, "POST", "/api/customer/datasets/mount", map[string]any{"datasetId": ds, "machineId": ag.machineID, "path": busy}).decode(t, &m)
	if failed := waitMount(t, owner, m.ID, "failed"); failed.StatusReason != "mounts.reason.pathNotEmpty" || failed.StatusParams["error"] == nil {
		t.Fatalf("failed %+v", failed)
	}
	owner.must(200, "DELETE", "/api/customer/datasets/mounts/"+m.ID, nil)
	waitMount(t, owner, m.ID, "unmounted")
	if b, err := os.ReadFile(filepath.Join(busy, "notes.txt")); string(b) != "mine" {
		t.Fatalf("the customer's file: %q, %v", b, err)
	}

	// mounted again elsewhere, then the lease ends: the host removes it, the mount is unmounted
	dir2 := filepath.Join(t.TempDir(), "data", "again")
	owner.must(201, "POST", "/api/customer/datasets/mount", map[string]any{"datasetId": ds, "machineId": ag.machineID, "path": dir2}).decode(t, &m)
	waitMount(t, owner, m.ID, "mounted")
	if l, _ := ops.Mounts(); len(l) != 1 || !strings.HasSuffix(l[0], dir2) {
		t.Fatalf("the agent lists %v", l)
	}
	admin.must(202, "POST", "/api/admin/allocations/"+alloc.ID+"/reclaim", nil)
	ended := waitMount(t, owner, m.ID, "unmounted")
	if ended.StatusReason != "mounts.reason.leaseEnded" {
		t.Fatalf("after the lease %+v", ended)
	}
	if _, err := os.Lstat(dir2); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the copy outlived the lease: %v", err)
	}
	ag.must(404, "GET", strings.Replace(agentproto.PathDatasetMountManifest, "{id}", m.ID, 1), nil)
	if n := auditCount(t, e, "dataset.mount", true); n != 3 {
		t.Errorf("dataset.mount audited %d times", n)
	}
	if n := auditCount(t, e, "dataset.unmount", true); n != 2 {
		t.Errorf("dataset.unmount audited %d times", n)
	}
}

// machineImportOnly runs the activity the DatasetIngest workflow calls for
// an import from a machine (the ingest itself is the uploads work).
func machineImportOnly(ctx workflow.Context, in activities.DatasetMachineImportInput) (activities.DatasetMachineImportResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	var res activities.DatasetMachineImportResult
	err := workflow.ExecuteActivity(ctx, "DatasetImportFromMachine", in).Get(ctx, &res)
	return res, err
}

// An import from a machine: the dataset is created (processing, source
// machine); the agent streams a tar of the directory (regular files and
// directories, no symlink) that the api stores once, for that command only.
func TestDatasetImportFromMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	ctx := context.Background()
	if err := e.objects.EnsureBuckets(ctx, objstore.BucketDatasets); err != nil {
		t.Fatal(err)
	}
	admin, owner := e.login("admin1"), e.login("owner-a")
	ag := addAgent(t, e, admin, "import-host", "北京")
	other := addAgent(t, e, admin, "import-other", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	runAgent(t, e, ag)
	src := t.TempDir()
	_ = os.MkdirAll(filepath.Join(src, "imgs"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "imgs", "1.png"), randomBytes(t, 200<<10), 0o644)
	_ = os.WriteFile(filepath.Join(src, "readme.txt"), []byte("hello"), 0o644)
	_ = os.Symlink("/etc/passwd", filepath.Join(src, "secret"))

	body := map[string]any{"name": "from host", "type": "image", "machineId": ag.machineID, "path": src, "tags": []string{"a"}, "access": "team"}
	bad := map[string]any{"name": "x", "type": "image", "machineId": ag.machineID, "path": "relative"}
	if got := fields(t, owner.must(400, "POST", "/api/customer/datasets/import-machine", bad)); got["body.path"] != "mounts.importPathInvalid" {
		t.Fatalf("bad path: %v", got)
	}
	bad["path"], bad["machineId"] = src, other.machineID
	owner.must(404, "POST", "/api/customer/datasets/import-machine", bad)
	var d store.Dataset
	owner.must(201, "POST", "/api/customer/datasets/import-machine", body).decode(t, &d)
	if d.Status != "processing" || d.Source != "machine" || d.SourceRef != "import-host:"+src || d.Access != "team" {
		t.Fatalf("created %+v", d)
	}
	if auditCount(t, e, "dataset.import_machine", true) != 1 {
		t.Fatal("the import is not audited")
	}

	// the activity the ingest calls, on a worker of its own queue
	queue := e.cfg.TemporalTaskQueue + "-import"
	w := tworker.New(e.temporal, queue, tworker.Options{})
	w.RegisterWorkflow(machineImportOnly)
	w.RegisterActivity(&activities.DatasetHost{Store: e.st, Issuer: &hostchan.Issuer{Store: e.st, Secrets: e.box}, Objects: e.objects})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	run, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue, WorkflowExecutionTimeout: time.Minute}, machineImportOnly,
		activities.DatasetMachineImportInput{DatasetID: d.ID, TenantID: e.fx.tenantA.ID, MachineID: ag.machineID, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.DatasetMachineImportResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.ObjectKey, "imports/"+d.ID+"/") || !strings.HasSuffix(res.ObjectKey, ".tar") || res.Size <= 200<<10 {
		t.Fatalf("result %+v", res)
	}
	obj, size, _, err := e.objects.Get(ctx, objstore.BucketDatasets, res.ObjectKey)
	if err != nil || size != res.Size {
		t.Fatalf("stored %d bytes, %v", size, err)
	}
	defer obj.Close()
	tr := tar.NewReader(obj)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "imgs/,imgs/1.png,readme.txt" {
		t.Fatalf("tar entries %v", names)
	}
	// over the company's free quota: refused, nothing kept, the host's command fails for good
	if _, err := e.st.Pool.Exec(ctx, `UPDATE tenants SET storage_quota_bytes = 1000 WHERE id = $1`, e.fx.tenantA.ID); err != nil {
		t.Fatal(err)
	}
	run, err = e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue, WorkflowExecutionTimeout: time.Minute}, machineImportOnly,
		activities.DatasetMachineImportInput{DatasetID: d.ID, TenantID: e.fx.tenantA.ID, MachineID: ag.machineID, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	var ae *temporal.ApplicationError
	if err := run.Get(ctx, &res); !errors.As(err, &ae) || ae.Type() != "UploadRefused" {
		t.Fatalf("an import over the quota: %v", err)
	}
	var second string
	if err := e.st.Pool.QueryRow(ctx, `SELECT id FROM host_commands WHERE kind = 'dataset_import' AND machine_id = $1
		ORDER BY created_at DESC LIMIT 1`, ag.machineID).Scan(&second); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.objects.Get(ctx, objstore.BucketDatasets, agentproto.DatasetImportObjectKey(d.ID, second)); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("the refused import was kept: %v", err)
	}

	// the upload was for that command, once
	var cmdID string
	if err := e.st.Pool.QueryRow(ctx, `SELECT id FROM host_commands WHERE kind = 'dataset_import' AND machine_id = $1
		ORDER BY created_at LIMIT 1`, ag.machineID).Scan(&cmdID); err != nil {
		t.Fatal(err)
	}
	put := strings.Replace(agentproto.PathDatasetImportUpload, "{commandId}", cmdID, 1)
	body2 := multipartBody{data: []byte("x"), contentType: "application/x-tar"}
	ag.must(404, "PUT", put, body2)
	other.must(404, "PUT", put, body2)
}
