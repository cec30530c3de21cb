package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// CheckTask runs one task container through the agent's own task path
// (hostops.TaskStart, TaskWait) with the given GPUs, prints its log and
// both results to w, removes it, and returns its exit code: a check of
// Docker and the GPU device request on a host, without an api
// (scripts/device-task-gpu-check.sh).
func CheckTask(ctx context.Context, cfg Config, image, command string, gpus []int, w io.Writer) (int, error) {
	dc, err := hostops.NewDocker(cfg.DockerHost)
	if err != nil {
		return 0, err
	}
	defer dc.Close()
	dir, err := os.MkdirTemp("", "remotegpu-check-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	task := "check-" + hex.EncodeToString(b)
	ops := &hostops.Ops{Docker: dc, StateDir: dir, MachineID: "check", GPUDevices: cfg.GPUSource == agentproto.GPUSourceNVML, Log: cfg.log()}
	defer func() { _, _ = ops.TaskRemove(context.WithoutCancel(ctx), agentproto.TaskRemoveArgs{TaskID: task}) }()
	started, err := ops.TaskStart(ctx, agentproto.TaskStartArgs{TaskID: task, TenantID: "check", Attempt: 1, Image: image, Command: command, GPUs: gpus})
	if err != nil {
		return 0, err
	}
	ended, err := ops.TaskWait(ctx, agentproto.TaskWaitArgs{TaskID: task, Attempt: 1})
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "== the container's log (%s)\n", agentproto.ContainerName(task, 1))
	rc, err := dc.ContainerLogs(ctx, started.ContainerID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return 0, err
	}
	_, err = stdcopy.StdCopy(w, w, rc)
	rc.Close()
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	fmt.Fprintln(w, "== task_start and task_wait results")
	if err := enc.Encode(struct {
		Start agentproto.TaskStartResult `json:"start"`
		Wait  agentproto.TaskWaitResult  `json:"wait"`
	}{started, ended}); err != nil {
		return 0, err
	}
	return ended.ExitCode, nil
}
