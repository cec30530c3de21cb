package hostops

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Tasks: one container per attempt, named agentproto.ContainerName, so that
// every command is idempotent by that name: a repeated start finds the
// container, a repeated wait (after the agent restarted) waits on it again.

// TaskLogs ships task containers' logs to the api (agent/tasklogs).
type TaskLogs interface {
	// Follow ships the attempt's container log unless that is under way.
	Follow(taskID string, attempt int, containerID string)
	// Shipped waits until every line of the attempt was shipped: false
	// when ctx ends first or the attempt is not followed.
	Shipped(ctx context.Context, taskID string, attempt int) bool
}

// shmSize: PyTorch's DataLoader workers hand batches over through
// /dev/shm, which Docker makes 64 MiB by default.
const shmSize = 8 << 30

// logsWait bounds how long a wait's answer waits for the log shipper (a
// huge backlog after a restart, an api that takes no logs).
const logsWait = 10 * time.Minute

// validTaskID keeps task IDs usable as a directory and container name.
var validTaskID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

func checkTask(taskID string, attempt int) error {
	if !validTaskID.MatchString(taskID) {
		return Permanentf("InvalidArgs", "invalid task ID %q", taskID)
	}
	if attempt < 1 {
		return Permanentf("InvalidArgs", "invalid attempt %d", attempt)
	}
	return nil
}

// reservedEnv are the variables the platform sets, which the customer's cannot change.
func reservedEnv(name string) bool {
	return strings.HasPrefix(name, "RGPU_") || name == "CUDA_VISIBLE_DEVICES" || name == "NVIDIA_VISIBLE_DEVICES"
}

// taskDocker is the Docker client of the task commands; a host without
// Docker fails them for good (nothing to retry on this host).
func (o *Ops) taskDocker() error {
	if absent, why := o.noDocker(); absent {
		return Permanentf("DockerUnavailable", "no Docker on this host (%s): tasks cannot run here", why)
	}
	return nil
}

// TaskStart creates and starts the attempt's container, or finds the one
// a previous delivery started (Reused); a container that was created but
// not started is started, one that ran already is left as it is. It
// answers once the container runs, and has its log shipped.
func (o *Ops) TaskStart(ctx context.Context, a agentproto.TaskStartArgs) (agentproto.TaskStartResult, error) {
	var res agentproto.TaskStartResult
	cfg, hc, err := o.taskConfig(a)
	if err != nil {
		return res, err
	}
	if err := o.taskDocker(); err != nil {
		return res, err
	}
	host := o.Docker.DaemonHost()
	name := agentproto.ContainerName(a.TaskID, a.Attempt)
	res.GPUDevices = len(hc.DeviceRequests) > 0
	insp, err := o.Docker.ContainerInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		if _, err = o.taskDirs(a.TaskID); err != nil {
			return res, err
		}
		_, err = o.Docker.ContainerCreate(ctx, cfg, hc, nil, nil, name)
		switch {
		case cerrdefs.IsNotFound(err):
			return res, Permanentf("ImageNotFound", "the image %s is not on this host", a.Image)
		case cerrdefs.IsConflict(err): // created meanwhile by a duplicate delivery
			res.Reused = true
		case err != nil:
			return res, dockerErr(host, "unable to create the task's container", err)
		}
		insp, err = o.Docker.ContainerInspect(ctx, name)
	} else {
		res.Reused = true
	}
	if err != nil {
		return res, dockerErr(host, "unable to inspect the task's container", err)
	}
	if insp.State != nil && insp.State.Status == container.StateCreated {
		err := o.Docker.ContainerStart(ctx, insp.ID, container.StartOptions{})
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "could not select device driver"):
			return res, Permanentf("GPUDriverUnavailable", "Docker cannot give the container its GPUs (is the NVIDIA container toolkit installed?): %v", err)
		case strings.Contains(err.Error(), "OCI runtime create failed"):
			// The same container fails the same way again (a mount or device the runtime refuses).
			return res, Permanentf("ContainerNotStartable", "the task's container cannot start: %v", err)
		}
		if err != nil {
			return res, dockerErr(host, "unable to start the task's container", err)
		}
		if insp, err = o.Docker.ContainerInspect(ctx, insp.ID); err != nil {
			return res, dockerErr(host, "unable to inspect the task's container", err)
		}
	}
	res.ContainerID = insp.ID
	if insp.State != nil {
		res.StartedAt = dockerTime(insp.State.StartedAt)
	}
	if o.Logs != nil {
		o.Logs.Follow(a.TaskID, a.Attempt, insp.ID)
	}
	o.log().Info("task container started", "task", a.TaskID, "attempt", a.Attempt, "container", name,
		"reused", res.Reused, "gpus", a.GPUs, "gpu_devices", res.GPUDevices)
	return res, nil
}

// taskConfig is the container of an attempt: sh -c command in WorkDir, the
// task's directories mounted, the platform's variables over the
// customer's, the granted GPUs and the host's network (a service port is
// then the host's port of the same number).
func (o *Ops) taskConfig(a agentproto.TaskStartArgs) (*container.Config, *container.HostConfig, error) {
	if err := checkTask(a.TaskID, a.Attempt); err != nil {
		return nil, nil, err
	}
	if a.Image == "" {
		return nil, nil, Permanentf("InvalidArgs", "no image given")
	}
	if a.WorkDir != "" && !strings.HasPrefix(a.WorkDir, "/") {
		return nil, nil, Permanentf("InvalidArgs", "the working directory %q is not absolute", a.WorkDir)
	}
	if a.ServicePort < 0 || a.ServicePort > 65535 {
		return nil, nil, Permanentf("InvalidArgs", "invalid service port %d", a.ServicePort)
	}
	gpus := make([]string, len(a.GPUs))
	for i, g := range a.GPUs {
		if g < 0 {
			return nil, nil, Permanentf("InvalidArgs", "invalid GPU index %d", g)
		}
		gpus[i] = strconv.Itoa(g)
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(a.Env[k], "\x00") {
			return nil, nil, Permanentf("InvalidArgs", "invalid environment variable %q", k)
		}
		if !reservedEnv(k) {
			env = append(env, k+"="+a.Env[k])
		}
	}
	visible := strings.Join(gpus, ",")
	nvidia := visible
	if nvidia == "" {
		nvidia = "void" // no GPU, also in images that say "all"
	}
	env = append(env,
		agentproto.EnvOutputDir+"="+agentproto.ContainerOutputDir,
		agentproto.EnvCheckpointDir+"="+agentproto.ContainerCheckpointDir,
		agentproto.EnvTaskID+"="+a.TaskID,
		agentproto.EnvAttempt+"="+strconv.Itoa(a.Attempt),
		"CUDA_VISIBLE_DEVICES="+visible,
		"NVIDIA_VISIBLE_DEVICES="+nvidia)
	if a.CheckpointIntervalSeconds > 0 {
		env = append(env, agentproto.EnvCheckpointInterval+"="+strconv.Itoa(a.CheckpointIntervalSeconds))
	}
	if a.ServicePort > 0 {
		env = append(env, agentproto.EnvServicePort+"="+strconv.Itoa(a.ServicePort))
	}
	cfg := &container.Config{
		Image:      a.Image,
		Env:        env,
		WorkingDir: a.WorkDir,
		Labels: map[string]string{
			LabelTenant:             a.TenantID,
			agentproto.LabelTask:    a.TaskID,
			agentproto.LabelAttempt: strconv.Itoa(a.Attempt),
		},
	}
	if o.MachineID != "" {
		cfg.Labels[agentproto.LabelMachine] = o.MachineID
	}
	if a.Command != "" {
		cfg.Entrypoint = []string{"/bin/sh", "-c"}
		cfg.Cmd = []string{a.Command}
	}
	dir := o.taskDir(a.TaskID)
	init := true // signals reach the command, zombies are reaped
	hc := &container.HostConfig{
		NetworkMode: "host",
		Init:        &init,
		ShmSize:     shmSize,
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: dir + "/output", Target: agentproto.ContainerOutputDir},
			{Type: mount.TypeBind, Source: dir + "/checkpoints", Target: agentproto.ContainerCheckpointDir},
		},
	}
	for _, d := range a.Datasets {
		m, err := datasetBind(d)
		if err != nil {
			return nil, nil, err
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	if o.GPUDevices && len(gpus) > 0 {
		hc.DeviceRequests = []container.DeviceRequest{{Driver: "nvidia", DeviceIDs: gpus, Capabilities: [][]string{{"gpu"}}}}
	}
	return cfg, hc, nil
}

// TaskWait waits until the attempt's container is no longer running and
// says how it ended, once its log is shipped (LogsShipped; at most
// logsWait). A Docker daemon that goes away meanwhile is waited for.
func (o *Ops) TaskWait(ctx context.Context, a agentproto.TaskWaitArgs) (agentproto.TaskWaitResult, error) {
	var res agentproto.TaskWaitResult
	if err := checkTask(a.TaskID, a.Attempt); err != nil {
		return res, err
	}
	if err := o.taskDocker(); err != nil {
		return res, err
	}
	host := o.Docker.DaemonHost()
	name := agentproto.ContainerName(a.TaskID, a.Attempt)
	bo := daemonBackOff()
	var insp container.InspectResponse
	for {
		var err error
		insp, err = o.Docker.ContainerInspect(ctx, name)
		switch {
		case cerrdefs.IsNotFound(err):
			res.Missing = true
			if o.Logs != nil {
				done, cancel := context.WithCancel(ctx)
				cancel() // only what was shipped already
				res.LogsShipped = o.Logs.Shipped(done, a.TaskID, a.Attempt)
			}
			o.log().Warn("task container missing", "task", a.TaskID, "attempt", a.Attempt, "container", name)
			return res, nil
		case ctx.Err() != nil:
			return res, ctx.Err()
		case client.IsErrConnectionFailed(err):
			o.log().Warn("the Docker daemon does not answer; waiting for it", "task", a.TaskID, "error", err)
			sleepCtx(ctx, bo.NextBackOff())
			continue
		case err != nil:
			return res, dockerErr(host, "unable to inspect the task's container", err)
		}
		if insp.State == nil || insp.State.Status == container.StateCreated {
			return res, Retryablef("NotStarted", nil, "the task's container %s was created but never started", name)
		}
		if insp.State.Status == container.StateExited || insp.State.Status == container.StateDead {
			break
		}
		waitC, errC := o.Docker.ContainerWait(ctx, insp.ID, container.WaitConditionNotRunning)
		select {
		case <-waitC:
			bo.Reset()
		case err := <-errC:
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			o.log().Warn("waiting on a task container failed; trying again", "task", a.TaskID, "error", err)
			sleepCtx(ctx, bo.NextBackOff())
		}
	}
	res.ExitCode, res.OOMKilled = insp.State.ExitCode, insp.State.OOMKilled
	res.FinishedAt = dockerTime(insp.State.FinishedAt)
	if o.Logs != nil {
		o.Logs.Follow(a.TaskID, a.Attempt, insp.ID)
		wait, cancel := context.WithTimeout(ctx, logsWait)
		res.LogsShipped = o.Logs.Shipped(wait, a.TaskID, a.Attempt)
		cancel()
	}
	o.log().Info("task container ended", "task", a.TaskID, "attempt", a.Attempt, "exit_code", res.ExitCode,
		"oom_killed", res.OOMKilled, "logs_shipped", res.LogsShipped)
	return res, ctx.Err()
}

// TaskStop stops the attempt's container: SIGTERM, then SIGKILL after the
// grace period (30 s when not given). A missing or ended container is
// already stopped.
func (o *Ops) TaskStop(ctx context.Context, a agentproto.TaskStopArgs) (agentproto.TaskStopResult, error) {
	var res agentproto.TaskStopResult
	if err := checkTask(a.TaskID, a.Attempt); err != nil {
		return res, err
	}
	if err := o.taskDocker(); err != nil {
		return res, err
	}
	host := o.Docker.DaemonHost()
	name := agentproto.ContainerName(a.TaskID, a.Attempt)
	insp, err := o.Docker.ContainerInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return res, nil
	}
	if err != nil {
		return res, dockerErr(host, "unable to inspect the task's container", err)
	}
	if insp.State == nil || !insp.State.Running {
		return res, nil
	}
	res.WasRunning = true
	grace := a.GraceSeconds
	if grace <= 0 {
		grace = 30
	}
	began := time.Now()
	if err := o.Docker.ContainerStop(ctx, insp.ID, container.StopOptions{Timeout: &grace}); err != nil && !cerrdefs.IsNotFound(err) {
		return res, dockerErr(host, "unable to stop the task's container", err)
	}
	o.log().Info("task container stopped", "task", a.TaskID, "attempt", a.Attempt, "grace_s", grace,
		"took", time.Since(began).Round(time.Millisecond))
	return res, nil
}

// dockerTime parses a time from Docker; its zero ("0001-01-01T00:00:00Z") is the zero time.
func dockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// daemonBackOff paces the retries while the Docker daemon is away (restarting).
func daemonBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 5*time.Second, 0
	b.Reset()
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
