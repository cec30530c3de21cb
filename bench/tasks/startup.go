package main

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

// pollEvery is how often the bench reads a task while it waits for it.
const pollEvery = 20 * time.Millisecond

// startLatency is part 1: submit → container running, one task at a time,
// each right after a plain `docker run -d` of the same image and command
// (interleaved, so both see the same load on this shared machine).
//
// "Running" is Docker's State.StartedAt of the container, on both sides:
// the agent reads it from Docker after the start and the api records it as
// the attempt's and the task's startedAt. It is the moment the command
// begins, independent of how often the bench polls; the task's status is
// not used, as it turns running when the GPUs are granted, before the
// container exists (docs/tasks.md). When the client first sees startedAt
// is reported beside it.
func startLatency(ctx context.Context, o options, ts *tasks, machines []machine) error {
	fmt.Printf("\n== 1. submit → container running: %d tasks `%s`, one at a time, over %d machines; each after a plain docker run -d (load %s)\n",
		o.startN, o.startCmd, len(machines), loadavg())
	var product, seen, answered, baseline, baseReturned durations
	var baseIDs []string
	defer func() {
		for _, id := range baseIDs {
			_ = ts.docker.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
		}
	}()
	for i := range o.startN {
		id, started, returned, err := dockerRun(ctx, ts.docker, o.startCmd, ts.run)
		if id != "" {
			baseIDs = append(baseIDs, id)
		}
		if err != nil {
			return fmt.Errorf("docker run: %w", err)
		}
		baseline, baseReturned = append(baseline, started), append(baseReturned, returned)

		m := machines[i%len(machines)]
		t0 := time.Now()
		t, err := ts.create(ctx, fmt.Sprintf("bench-start-%03d", i), m.ID, 1, o.startCmd, nil)
		if err != nil {
			return err
		}
		answered = append(answered, time.Since(t0))
		for t.StartedAt == nil {
			if time.Since(t0) > 2*time.Minute {
				return fmt.Errorf("task %s has no container after 2 minutes (status %s %s)", t.ID, t.Status, t.StatusReason)
			}
			time.Sleep(pollEvery)
			if t, err = ts.get(ctx, t.ID); err != nil {
				return err
			}
			if t.ended() && t.StartedAt == nil {
				return fmt.Errorf("task %s ended without a container: %s %s", t.ID, t.Status, t.StatusReason)
			}
		}
		seen = append(seen, time.Since(t0))
		product = append(product, t.StartedAt.Sub(t0))
	}
	header()
	row("task: POST → container started (startedAt)", product)
	row("task: POST → the client sees startedAt (polling every 20 ms)", seen)
	row("task: POST answered (201, queued)", answered)
	row("docker run -d: create → container started (State.StartedAt)", baseline)
	row("docker run -d: create → start call returned", baseReturned)
	d := product.pct(.5) - baseline.pct(.5)
	verdict := "within"
	if d > time.Second {
		verdict = "OVER"
	}
	fmt.Printf("  task slower than docker run -d at p50: %s (goal ≤ 1 s: %s)\n", ms(d), verdict)
	fmt.Printf("  (load %s)\n", loadavg())
	return nil
}

// dockerRun does what `docker run -d --network host <image> <command>`
// does against the Engine API (create, then start), without the CLI's own
// process start; the daemon has no bridge network, hence the host's, as
// task containers have. started is until Docker's State.StartedAt,
// returned until the start call came back.
func dockerRun(ctx context.Context, dc *client.Client, command, run string) (id string, started, returned time.Duration, err error) {
	t0 := time.Now()
	c, err := dc.ContainerCreate(ctx, &container.Config{Image: testimage.Ref, Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{command},
		Labels: map[string]string{"remotegpu.bench": run}}, &container.HostConfig{NetworkMode: "host"}, nil, nil, "")
	if err != nil {
		return "", 0, 0, err
	}
	if err := dc.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return c.ID, 0, 0, err
	}
	returned = time.Since(t0)
	insp, err := dc.ContainerInspect(ctx, c.ID)
	if err != nil {
		return c.ID, 0, 0, err
	}
	at, err := time.Parse(time.RFC3339Nano, insp.State.StartedAt)
	return c.ID, at.Sub(t0), returned, err
}

// admission is part 2: a task holding all the GPUs of a machine, a second
// one queued behind it; from the first container's exit (Docker's
// State.FinishedAt) to the second's status turning running (first seen by
// polling every 20 ms) and to its container starting (its startedAt).
func admission(ctx context.Context, o options, ts *tasks, m machine) error {
	fmt.Printf("\n== 2. queue admission: %d times, a task with all %d GPUs (`%s`) and one queued behind it, on one machine (load %s)\n",
		o.queueN, gpusPerMachine, o.holdCmd, loadavg())
	var toRunning, toContainer durations
	skipped := 0
	for i := range o.queueN {
		first, err := ts.create(ctx, fmt.Sprintf("bench-hold-%02d", i), m.ID, gpusPerMachine, o.holdCmd, nil)
		if err != nil {
			return err
		}
		if err := waitUntil(ctx, 2*time.Minute, "the holding task's container", func() (bool, error) {
			t, err := ts.get(ctx, first.ID)
			return err == nil && t.StartedAt != nil, err
		}); err != nil {
			return err
		}
		second, err := ts.create(ctx, fmt.Sprintf("bench-queued-%02d", i), m.ID, gpusPerMachine, "sleep 1", nil)
		if err != nil {
			return err
		}
		var runningAt time.Time
		t := second
		for t.StartedAt == nil {
			if t.Status == "running" && runningAt.IsZero() {
				runningAt = time.Now()
			}
			if t.ended() {
				return fmt.Errorf("queued task %s ended without a container: %s %s", t.ID, t.Status, t.StatusReason)
			}
			time.Sleep(pollEvery)
			if t, err = ts.get(ctx, second.ID); err != nil {
				return err
			}
		}
		if runningAt.IsZero() {
			runningAt = time.Now()
		}
		insp, err := ts.docker.ContainerInspect(ctx, agentproto.ContainerName(first.ID, 1))
		if err != nil {
			return err
		}
		exited, err := time.Parse(time.RFC3339Nano, insp.State.FinishedAt)
		if err != nil || exited.Year() < 2000 {
			return fmt.Errorf("the holding container has no end time %q: %v", insp.State.FinishedAt, err)
		}
		if second.Status != "queued" || !exited.After(second.CreatedAt) {
			skipped++ // it did not wait behind the first: not a measure of admission
		} else {
			toRunning, toContainer = append(toRunning, runningAt.Sub(exited)), append(toContainer, t.StartedAt.Sub(exited))
		}
		if err := waitUntil(ctx, 2*time.Minute, "the queued task's end", func() (bool, error) {
			t, err := ts.get(ctx, second.ID)
			return err == nil && t.ended(), err
		}); err != nil {
			return err
		}
	}
	header()
	row("first container exited → second's status running (seen)", toRunning)
	row("first container exited → second's container started", toContainer)
	if skipped > 0 {
		fmt.Printf("  %d of %d rounds not counted: the second task was not queued behind a running first one\n", skipped, o.queueN)
	}
	fmt.Printf("  (load %s)\n", loadavg())
	return nil
}
