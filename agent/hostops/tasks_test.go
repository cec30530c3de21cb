package hostops

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/devstack"
	"github.com/remotegpu/remotegpu/internal/testdocker"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testdocker.Main(m)) }

// taskOps are Ops on the test Docker daemon with a state directory of their own.
func taskOps(t *testing.T) (*Ops, *client.Client) {
	t.Helper()
	cli := testdocker.Client(t)
	return &Ops{Docker: cli, StateDir: t.TempDir(), MachineID: "m-test", Log: quiet()}, cli
}

// newTaskID is unique across test runs that share a daemon.
func newTaskID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "task-" + hex.EncodeToString(b)
}

func taskCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang, not a timing assumption
	t.Cleanup(cancel)
	return ctx
}

// startTask starts an attempt and removes the task's containers after the test.
func startTask(t *testing.T, o *Ops, a agentproto.TaskStartArgs) agentproto.TaskStartResult {
	t.Helper()
	if a.Image == "" {
		a.Image = testimage.Ref
	}
	if a.TenantID == "" {
		a.TenantID = "tenant-test"
	}
	if a.Attempt == 0 {
		a.Attempt = 1
	}
	res, err := o.TaskStart(taskCtx(t), a)
	if err != nil {
		t.Fatalf("start %s: %v", a.Command, err)
	}
	t.Cleanup(func() { _, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: a.TaskID}) })
	return res
}

func wait(t *testing.T, o *Ops, task string, attempt int) agentproto.TaskWaitResult {
	t.Helper()
	res, err := o.TaskWait(taskCtx(t), agentproto.TaskWaitArgs{TaskID: task, Attempt: attempt})
	if err != nil {
		t.Fatalf("wait %s/%d: %v", task, attempt, err)
	}
	return res
}

// logsOf is the container's whole log, both streams.
func logsOf(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	rc, err := cli.ContainerLogs(taskCtx(t), id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// waitLog follows the container's log until a line holds text.
func waitLog(t *testing.T, cli *client.Client, id, text string) {
	t.Helper()
	rc, err := cli.ContainerLogs(taskCtx(t), id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { _, err := stdcopy.StdCopy(pw, pw, rc); pw.CloseWithError(err) }()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), text) {
			return
		}
	}
	t.Fatalf("the log of %s ended without %q (%v)", id, text, sc.Err())
}

func script(name string) string { return "sh " + testimage.ScriptDir + "/" + name }

func TestTaskExitCodes(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	for _, tc := range []struct {
		script string
		code   int
		log    string
	}{
		{"exit0.sh", 0, "exit0: hello from task"},
		{"exit1.sh", 1, "exit1: failing on purpose"},
	} {
		task := newTaskID()
		began := time.Now()
		start := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Command: script(tc.script)})
		t.Logf("%s: task_start answered in %s", tc.script, time.Since(began).Round(time.Millisecond))
		if start.Reused || start.GPUDevices || start.ContainerID == "" || start.StartedAt.IsZero() {
			t.Errorf("%s: start %+v", tc.script, start)
		}
		res := wait(t, o, task, 1)
		// (Docker may date the start after a quick exit: no order between the two.)
		if res.ExitCode != tc.code || res.Missing || res.OOMKilled || res.FinishedAt.IsZero() {
			t.Errorf("%s: wait %+v", tc.script, res)
		}
		if logs := logsOf(t, cli, start.ContainerID); !strings.Contains(logs, tc.log) {
			t.Errorf("%s: log %q", tc.script, logs)
		}
		// Waiting again (a wait delivered twice) answers the same.
		if again := wait(t, o, task, 1); again.ExitCode != tc.code || !again.FinishedAt.Equal(res.FinishedAt) {
			t.Errorf("%s: second wait %+v", tc.script, again)
		}
	}
}

// A start delivered twice finds the container of the first; a wait on an
// attempt that has none says it is missing.
func TestTaskStartIdempotent(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	task := newTaskID()
	args := agentproto.TaskStartArgs{TaskID: task, Attempt: 2, Command: "echo up; sleep 600"}
	first := startTask(t, o, args)
	second := startTask(t, o, args)
	if !second.Reused || second.ContainerID != first.ContainerID || !second.StartedAt.Equal(first.StartedAt) {
		t.Errorf("first %+v, second %+v", first, second)
	}
	list, err := cli.ContainerList(taskCtx(t), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", agentproto.LabelTask+"="+task))})
	if err != nil || len(list) != 1 || list[0].Names[0] != "/"+agentproto.ContainerName(task, 2) {
		t.Fatalf("containers %+v, %v", list, err)
	}
	if res := wait(t, o, task, 1); !res.Missing {
		t.Errorf("wait on attempt 1: %+v", res)
	}
	stop, err := o.TaskStop(taskCtx(t), agentproto.TaskStopArgs{TaskID: task, Attempt: 2, GraceSeconds: 1})
	if err != nil || !stop.WasRunning {
		t.Fatalf("stop %+v, %v", stop, err)
	}
	// The init process hands SIGTERM to sh, which ends by it.
	if res := wait(t, o, task, 2); res.ExitCode != 128+15 {
		t.Errorf("wait after stop: %+v", res)
	}
	if again, err := o.TaskStop(taskCtx(t), agentproto.TaskStopArgs{TaskID: task, Attempt: 2}); err != nil || again.WasRunning {
		t.Errorf("second stop %+v, %v", again, err)
	}
}

// A stop sends SIGTERM first: a command that traps it finishes its work
// within the grace period and exits as it chooses.
func TestTaskStopGrace(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	task := newTaskID()
	start := startTask(t, o, agentproto.TaskStartArgs{TaskID: task,
		Command: `trap 'echo saved > $RGPU_OUTPUT_DIR/term; exit 0' TERM; echo ready; while :; do sleep 0.1; done`})
	waitLog(t, cli, start.ContainerID, "ready")
	began := time.Now()
	stop, err := o.TaskStop(taskCtx(t), agentproto.TaskStopArgs{TaskID: task, Attempt: 1, GraceSeconds: 60})
	if err != nil || !stop.WasRunning {
		t.Fatalf("stop %+v, %v", stop, err)
	}
	t.Logf("stopped by SIGTERM in %s", time.Since(began).Round(time.Millisecond))
	if res := wait(t, o, task, 1); res.ExitCode != 0 {
		t.Errorf("wait %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(o.StateDir, "tasks", task, "output", "term"))
	if err != nil || string(b) != "saved\n" {
		t.Errorf("the trap's file: %q, %v", b, err)
	}

	// One that ignores SIGTERM is killed when the grace period ends.
	deaf := newTaskID()
	start = startTask(t, o, agentproto.TaskStartArgs{TaskID: deaf, Command: `trap '' TERM; echo ready; while :; do sleep 0.1; done`})
	waitLog(t, cli, start.ContainerID, "ready")
	if stop, err := o.TaskStop(taskCtx(t), agentproto.TaskStopArgs{TaskID: deaf, Attempt: 1, GraceSeconds: 1}); err != nil || !stop.WasRunning {
		t.Fatalf("stop %+v, %v", stop, err)
	}
	if res := wait(t, o, deaf, 1); res.ExitCode != 128+9 {
		t.Errorf("wait after the grace period: %+v", res)
	}
}

// The checkpoint directory outlives an attempt: the second resumes where
// the first crashed.
func TestTaskCheckpointResume(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	task := newTaskID()
	env := map[string]string{"STEPS": "5", "CRASH_AT": "3"}
	first := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Attempt: 1, Command: script("checkpoint.sh"), Env: env})
	if res := wait(t, o, task, 1); res.ExitCode != 3 {
		t.Fatalf("attempt 1: %+v\n%s", res, logsOf(t, cli, first.ContainerID))
	}
	second := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Attempt: 2, Command: script("checkpoint.sh"), Env: env})
	if second.Reused || second.ContainerID == first.ContainerID {
		t.Errorf("attempt 2 reused attempt 1's container: %+v", second)
	}
	if res := wait(t, o, task, 2); res.ExitCode != 0 {
		t.Fatalf("attempt 2: %+v\n%s", res, logsOf(t, cli, second.ContainerID))
	}
	logs := logsOf(t, cli, second.ContainerID)
	if !strings.Contains(logs, "resumed from step 3") || strings.Contains(logs, "step 1 of") || !strings.Contains(logs, "step 5 of 5") {
		t.Errorf("attempt 2's log:\n%s", logs)
	}
	if b, _ := os.ReadFile(filepath.Join(o.StateDir, "tasks", task, "output", "result.txt")); string(b) != "5 steps\n" {
		t.Errorf("result.txt %q", b)
	}
}

// The container gets the platform's variables over the customer's, the
// task's directories, its working directory and labels, and no GPU device
// with a simulated GPU source.
func TestTaskEnvAndMounts(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	task := newTaskID()
	start := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, TenantID: "tenant-x", Attempt: 3,
		Command: "env | sort; pwd; echo out > $RGPU_OUTPUT_DIR/x; echo ck > $RGPU_CHECKPOINT_DIR/y",
		WorkDir: "/tmp", GPUs: []int{1, 3}, CheckpointIntervalSeconds: 600, ServicePort: 18080,
		Env: map[string]string{"FOO": "bar baz", "RGPU_TASK_ID": "evil", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "NVIDIA_VISIBLE_DEVICES": "all"}})
	if res := wait(t, o, task, 3); res.ExitCode != 0 {
		t.Fatalf("wait %+v", res)
	}
	logs := logsOf(t, cli, start.ContainerID)
	lines := strings.Split(logs, "\n")
	for _, want := range []string{
		"FOO=bar baz", "RGPU_TASK_ID=" + task, "RGPU_ATTEMPT=3", "RGPU_OUTPUT_DIR=/rgpu/output",
		"RGPU_CHECKPOINT_DIR=/rgpu/checkpoints", "RGPU_CHECKPOINT_INTERVAL=600", "RGPU_SERVICE_PORT=18080",
		"CUDA_VISIBLE_DEVICES=1,3", "NVIDIA_VISIBLE_DEVICES=1,3", "/tmp",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "evil") || strings.Contains(logs, "=all") || strings.Contains(logs, "0,1,2,3") {
		t.Errorf("the customer's variables overrode the platform's:\n%s", logs)
	}
	for sub, want := range map[string]string{"output/x": "out\n", "checkpoints/y": "ck\n"} {
		if b, err := os.ReadFile(filepath.Join(o.StateDir, "tasks", task, sub)); string(b) != want {
			t.Errorf("%s: %q, %v", sub, b, err)
		}
	}
	insp, err := cli.ContainerInspect(taskCtx(t), start.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{LabelTenant: "tenant-x", agentproto.LabelTask: task, agentproto.LabelAttempt: "3", agentproto.LabelMachine: "m-test"}
	for k, v := range wantLabels {
		if insp.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, insp.Config.Labels[k], v)
		}
	}
	if len(insp.HostConfig.DeviceRequests) != 0 || insp.HostConfig.NetworkMode != "host" {
		t.Errorf("host config: devices %+v, network %s", insp.HostConfig.DeviceRequests, insp.HostConfig.NetworkMode)
	}
}

// With NVML GPUs the container asks for exactly the granted ones.
func TestTaskGPUDeviceRequest(t *testing.T) {
	o := &Ops{StateDir: "/state", GPUDevices: true}
	_, hc, err := o.taskConfig(agentproto.TaskStartArgs{TaskID: "t1", Attempt: 1, Image: "img", GPUs: []int{2, 5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hc.DeviceRequests) != 1 {
		t.Fatalf("device requests %+v", hc.DeviceRequests)
	}
	dr := hc.DeviceRequests[0]
	if dr.Driver != "nvidia" || !slices.Equal(dr.DeviceIDs, []string{"2", "5"}) || len(dr.Capabilities) != 1 || !slices.Equal(dr.Capabilities[0], []string{"gpu"}) {
		t.Errorf("device request %+v", dr)
	}
	if hc.Mounts[0].Source != "/state/tasks/t1/output" || hc.Mounts[1].Source != "/state/tasks/t1/checkpoints" {
		t.Errorf("mounts %+v", hc.Mounts)
	}
	_, hc, _ = o.taskConfig(agentproto.TaskStartArgs{TaskID: "t1", Attempt: 1, Image: "img"})
	if len(hc.DeviceRequests) != 0 {
		t.Errorf("no GPUs granted, devices %+v", hc.DeviceRequests)
	}
	for _, bad := range []agentproto.TaskStartArgs{
		{TaskID: "../etc", Attempt: 1, Image: "img"},
		{TaskID: "t1", Attempt: 0, Image: "img"},
		{TaskID: "t1", Attempt: 1},
		{TaskID: "t1", Attempt: 1, Image: "img", WorkDir: "rel"},
		{TaskID: "t1", Attempt: 1, Image: "img", GPUs: []int{-1}},
		{TaskID: "t1", Attempt: 1, Image: "img", Env: map[string]string{"A=B": "c"}},
	} {
		_, _, err := o.taskConfig(bad)
		assertErr(t, err, "InvalidArgs", true, "")
	}
}

// An inference task's service answers on the host's port of the same number.
func TestTaskServicePort(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	task := newTaskID()
	start := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Command: script("serve.sh"), ServicePort: port})
	waitLog(t, cli, start.ContainerID, "serving on port "+strconv.Itoa(port))
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	var body []byte
	deadline := time.Now().Add(30 * time.Second) // httpd binds right after the line
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(body), "task "+task) {
		t.Errorf("page %q", body)
	}
}

func TestTaskImageNotFound(t *testing.T) {
	t.Parallel()
	o, _ := taskOps(t)
	_, err := o.TaskStart(taskCtx(t), agentproto.TaskStartArgs{TaskID: newTaskID(), Attempt: 1, Image: "remotegpu/none:never", Command: "true"})
	assertErr(t, err, "ImageNotFound", true, "remotegpu/none:never")
}

// Removing a task removes its containers and its directory.
func TestTaskRemove(t *testing.T) {
	t.Parallel()
	o, _ := taskOps(t)
	task := newTaskID()
	startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Attempt: 1, Command: "exit 0"})
	startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Attempt: 2, Command: "sleep 600"})
	res, err := o.TaskRemove(taskCtx(t), agentproto.TaskRemoveArgs{TaskID: task})
	if err != nil || res.Containers != 2 {
		t.Fatalf("remove %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, "tasks", task)); !os.IsNotExist(err) {
		t.Errorf("task dir: %v", err)
	}
	if w := wait(t, o, task, 2); !w.Missing {
		t.Errorf("wait after remove: %+v", w)
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	o, _ := taskOps(t)
	images, err := o.Images(taskCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(images, func(im agentproto.HostImage) bool { return im.Ref == testimage.Ref })
	if i < 0 || images[i].ID == "" || images[i].Size <= 0 || images[i].Created.IsZero() {
		t.Errorf("images %+v", images)
	}
}

// Without Docker every task command fails for good, saying so.
func TestTasksWithoutDocker(t *testing.T) {
	cli, err := NewDocker("unix://" + filepath.Join(t.TempDir(), "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	o := &Ops{Docker: cli, StateDir: t.TempDir(), Log: quiet()}
	ctx := context.Background()
	_, err = o.TaskStart(ctx, agentproto.TaskStartArgs{TaskID: "t1", Attempt: 1, Image: "img", Command: "true"})
	assertErr(t, err, "DockerUnavailable", true, "no Docker socket")
	_, err = o.TaskWait(ctx, agentproto.TaskWaitArgs{TaskID: "t1", Attempt: 1})
	assertErr(t, err, "DockerUnavailable", true, "no Docker socket")
	_, err = o.Images(ctx)
	assertErr(t, err, "DockerUnavailable", true, "no Docker socket")
}

// The outputs list one directory of the output directory; nothing leads
// out of it, neither "..", an absolute path nor a symlink.
func TestTaskOutputs(t *testing.T) {
	t.Parallel()
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	ctx := context.Background()
	list := func(dir string) (agentproto.TaskOutputsResult, error) {
		return o.TaskOutputs(ctx, agentproto.TaskOutputsArgs{TaskID: "t1", Dir: dir})
	}
	if res, err := list(""); err != nil || len(res.Files) != 0 || res.Files == nil {
		t.Errorf("before any attempt: %+v, %v", res, err)
	}
	out := filepath.Join(o.StateDir, "tasks", "t1", "output")
	for p, body := range map[string]string{"model.pt": "weights", "logs/a.txt": "a", "logs/deep/b.txt": "bb"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"etc": "/etc", "up": "..", "inside": "logs"} {
		if err := os.Symlink(target, filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := list("")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Files {
		size := strconv.FormatInt(f.Size, 10)
		if f.Dir {
			size = "dir" // its size is the file system's
		}
		got = append(got, f.Path+":"+size)
	}
	want := []string{"etc:4", "inside:4", "logs:dir", "model.pt:7", "up:2"}
	if !slices.Equal(got, want) || res.Truncated || res.Files[3].ModTime.IsZero() {
		t.Errorf("top: %v, want %v", got, want)
	}
	if res, err := list("logs/"); err != nil || len(res.Files) != 2 || res.Files[0].Path != "logs/a.txt" || res.Files[1].Path != "logs/deep" {
		t.Errorf("logs: %+v, %v", res, err)
	}
	if res, err := list("inside/deep"); err != nil || len(res.Files) != 1 || res.Files[0].Path != "inside/deep/b.txt" {
		t.Errorf("through a symlink inside: %+v, %v", res, err)
	}
	for _, bad := range []string{"..", "../..", "logs/../..", "/etc", "etc", "up", "up/t1"} {
		_, err := list(bad)
		assertErr(t, err, "InvalidPath", true, "")
	}
	_, err = list("nope")
	assertErr(t, err, "NotFound", true, "nope")
	_, err = o.TaskOutputs(ctx, agentproto.TaskOutputsArgs{TaskID: "../t1"})
	assertErr(t, err, "InvalidArgs", true, "")

	many := filepath.Join(out, "many")
	if err := os.Mkdir(many, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range MaxOutputs + 5 {
		if err := os.WriteFile(filepath.Join(many, strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := list("many"); err != nil || len(res.Files) != MaxOutputs || !res.Truncated {
		t.Errorf("many: %d files, truncated %v, %v", len(res.Files), res.Truncated, err)
	}
}

// A device request on a host without the NVIDIA container toolkit fails
// for good, saying what is missing (scripts/device-task-gpu-check.sh checks
// a host that has it).
func TestTaskGPUDriverMissing(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nvidia-container-runtime-hook"); err == nil {
		t.Skip("this host has the NVIDIA container toolkit")
	}
	o, _ := taskOps(t)
	o.GPUDevices = true
	task := newTaskID()
	t.Cleanup(func() { _, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task}) })
	_, err := o.TaskStart(taskCtx(t), agentproto.TaskStartArgs{TaskID: task, Attempt: 1, Image: testimage.Ref, Command: "true", GPUs: []int{0}})
	assertErr(t, err, "GPUDriverUnavailable", true, "NVIDIA container toolkit")
}

// An image the command cannot run in (no /bin/sh): the init process starts
// and fails to run it, so the attempt ends with its exit status and says why.
func TestTaskWithoutShell(t *testing.T) {
	t.Parallel()
	o, cli := taskOps(t)
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755})
	_ = tw.Close()
	const ref = "remotegpu/nosh:test"
	rc, err := cli.ImageImport(taskCtx(t), image.ImportSource{Source: &tarball, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	task := newTaskID()
	t.Cleanup(func() { _, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task}) })
	start := startTask(t, o, agentproto.TaskStartArgs{TaskID: task, Attempt: 1, Image: ref, Command: "echo hi"})
	res := wait(t, o, task, 1)
	t.Logf("exit %d: %s", res.ExitCode, logsOf(t, cli, start.ContainerID))
	if res.ExitCode == 0 || !strings.Contains(logsOf(t, cli, start.ContainerID), "/bin/sh") {
		t.Errorf("wait %+v", res)
	}
}
