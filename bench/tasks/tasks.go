package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

// task is the part of the api's task (list row) the bench reads.
type task struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	StatusReason string     `json:"statusReason"`
	MachineID    string     `json:"machineId"`
	Attempt      int        `json:"attempt"`
	CreatedAt    time.Time  `json:"createdAt"`
	StartedAt    *time.Time `json:"startedAt"`
	FinishedAt   *time.Time `json:"finishedAt"`
}

func (t task) ended() bool {
	return t.Status == "succeeded" || t.Status == "failed" || t.Status == "stopped"
}

// tasks creates the customer's tasks and remembers them, to remove them
// at the end of each part (and when the bench is interrupted).
type tasks struct {
	customer *session
	docker   *client.Client
	run      string

	mu      sync.Mutex
	created []string
}

// create submits a training task of the test image as the console's form does.
func (ts *tasks) create(ctx context.Context, name, machineID string, gpus int, command string, env map[string]string) (task, error) {
	var envList []map[string]string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, map[string]string{"name": k, "value": env[k]})
	}
	body := map[string]any{"name": name, "type": "training", "machineId": machineID, "gpuCount": gpus, "image": testimage.Ref,
		"command": command, "env": envList, "maxAttempts": 1, "autoRestart": false, "notifyInApp": false, "notifyMail": false}
	var t task
	err := ts.customer.do(ctx, http.MethodPost, "/api/customer/tasks/training", body, &t)
	if err == nil {
		ts.mu.Lock()
		ts.created = append(ts.created, t.ID)
		ts.mu.Unlock()
	}
	return t, err
}

func (ts *tasks) get(ctx context.Context, id string) (task, error) {
	var t task
	err := ts.customer.do(ctx, http.MethodGet, "/api/customer/tasks/"+id, nil, &t)
	return t, err
}

// removeAll stops the tasks created so far that still run, deletes them
// all (the api has the agents remove their containers and directories) and
// waits until Docker has none of their containers left.
func (ts *tasks) removeAll(ctx context.Context) error {
	ts.mu.Lock()
	ids := ts.created
	ts.created = nil
	ts.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	forEach(len(ids), 8, func(i int) {
		id := ids[i]
		t, err := ts.get(ctx, id)
		if statusOf(err) == http.StatusNotFound {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		if !t.ended() {
			if err := ts.customer.do(ctx, http.MethodPost, "/api/customer/tasks/"+id+"/stop", nil, nil); err != nil && statusOf(err) != http.StatusConflict {
				fail(err)
				return
			}
			if err := waitUntil(ctx, 2*time.Minute, "task "+id+" stopped", func() (bool, error) {
				t, err := ts.get(ctx, id)
				return err == nil && t.ended(), err
			}); err != nil {
				fail(err)
				return
			}
		}
		if err := ts.customer.do(ctx, http.MethodDelete, "/api/customer/tasks/"+id, nil, nil); err != nil && statusOf(err) != http.StatusNotFound {
			fail(err)
		}
	})
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	err := waitUntil(ctx, 5*time.Minute, "task containers removed", func() (bool, error) {
		list, err := ts.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", agentproto.LabelTask))})
		if err != nil {
			return false, err
		}
		for _, c := range list {
			if want[c.Labels[agentproto.LabelTask]] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		fail(err)
	}
	return errors.Join(errs...)
}

// forEach runs f(0..n-1), at most par at a time.
func forEach(n, par int, f func(i int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// ---- statistics ---------------------------------------------------------------

type durations []time.Duration

// pct is the nearest-rank percentile: of 50 samples p99 is the largest.
func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(len(s)-1, i))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// row prints a distribution: n, p50, p90, p99, max.
func row(name string, d durations) {
	fmt.Printf("  %-58s %4d %9s %9s %9s %9s\n", name, len(d), ms(d.pct(.5)), ms(d.pct(.9)), ms(d.pct(.99)), ms(d.pct(1)))
}

func header() {
	fmt.Printf("  %-58s %4s %9s %9s %9s %9s\n", "", "n", "p50", "p90", "p99", "max")
}
