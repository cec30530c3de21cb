package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/agent/collect"
	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// temporalAddress is the Temporal server of the end-to-end tests: the one
// `remotegpu testenv` (make test) starts. Outside CI the test is skipped
// when none is given; in CI it fails.
func temporalAddress(t *testing.T) string {
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		const how = "TEMPORAL_ADDRESS is not set: run under `bin/remotegpu testenv -- go test ./agent/...` (make test does), or start `bin/temporal server start-dev` and set TEMPORAL_ADDRESS=127.0.0.1:7233"
		if os.Getenv("CI") != "" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	return addr
}

type hostStepsResult struct {
	Stopped hostops.StopTenantContainersResult
	SSH     hostops.SetSSHPasswordResult
}

// hostStepsWorkflow runs both host activities on the machine's queue, as
// the Allocation workflow does when a lease ends.
func hostStepsWorkflow(ctx workflow.Context, machineID string) (hostStepsResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              hostops.TaskQueue(machineID),
		ScheduleToStartTimeout: 30 * time.Second,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res hostStepsResult
	if err := workflow.ExecuteActivity(ctx, hostops.NameStopTenantContainers, hostops.StopTenantContainersInput{
		MachineID: machineID, TenantID: "t1", AllocationID: "a1"}).Get(ctx, &res.Stopped); err != nil {
		return res, err
	}
	err := workflow.ExecuteActivity(ctx, hostops.NameSetSSHPassword, hostops.SetSSHPasswordInput{MachineID: machineID, User: "ubuntu"}).Get(ctx, &res.SSH)
	return res, err
}

// The agent's worker polls host.<machineID> on a real Temporal server and
// runs the host activities a workflow schedules there, against a fake
// Docker API, the fake api's password and a fake chpasswd.
func TestHostActivitiesThroughTemporal(t *testing.T) {
	addr := temporalAddress(t)
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	machineID := "agent-test-" + hex.EncodeToString(b)

	// The api: a stored token, and the machine's SSH login.
	var mu sync.Mutex
	samples := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer rgt_e2e" {
			envelope(w, http.StatusUnauthorized, nil)
			return
		}
		switch r.URL.Path {
		case agentproto.PathPassword:
			envelope(w, http.StatusOK, agentproto.PasswordResponse{User: "ubuntu", Password: "n3w-Pass"})
		case agentproto.PathSamples:
			mu.Lock()
			samples++
			mu.Unlock()
			envelope(w, http.StatusOK, agentproto.SamplesResponse{Accepted: 1})
		default:
			envelope(w, http.StatusOK, struct{}{})
		}
	}))
	defer api.Close()

	// Docker: one running container of the tenant.
	var dockerOps []string
	dockerAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := regexp.MustCompile(`^/v[0-9.]+`).ReplaceAllString(r.URL.Path, "")
		w.Header().Set("Api-Version", "1.47")
		mu.Lock()
		defer mu.Unlock()
		switch {
		case path == "/_ping":
			_, _ = w.Write([]byte("OK"))
		case path == "/containers/json":
			_ = json.NewEncoder(w).Encode([]map[string]any{{"Id": "c1", "Names": []string{"/job"}, "State": "running",
				"Labels": map[string]string{hostops.LabelTenant: "t1"}}})
		default:
			dockerOps = append(dockerOps, r.Method+" "+path)
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer dockerAPI.Close()
	du, _ := url.Parse(dockerAPI.URL)

	dir := t.TempDir()
	stdin := filepath.Join(dir, "stdin")
	chpasswd := filepath.Join(dir, "chpasswd")
	if err := os.WriteFile(chpasswd, []byte("#!/bin/sh\ncat > '"+stdin+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	if err := saveState(stateDir, &state{MachineID: machineID, Register: agentproto.RegisterResponse{
		AgentToken: "rgt_e2e", MachineID: machineID, SampleInterval: 1, TemporalAddress: addr, TemporalNS: ns, TaskQueue: hostops.TaskQueue(machineID)}}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- Run(ctx, Config{URL: api.URL, MachineID: machineID, StateDir: stateDir, Interval: 100 * time.Millisecond,
			GPUSource: agentproto.GPUSourceSimulated, Sim: collect.SimConfig{GPUs: 1}, Buffer: 10,
			DockerHost: "tcp://" + du.Host, SSHUser: "ubuntu", Chpasswd: chpasswd, StopTimeout: 2 * time.Second, Log: quiet()})
	}()
	defer func() {
		cancel()
		if err := <-agentDone; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()

	// The control plane's side: a workflow on its own queue.
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: ns, Logger: quietTemporal{}})
	if err != nil {
		t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
	}
	defer c.Close()
	queue := "agent-test-cp-" + hex.EncodeToString(b)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(hostStepsWorkflow, workflow.RegisterOptions{Name: "agentTestHostSteps"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	run, err := c.ExecuteWorkflow(wctx, client.StartWorkflowOptions{TaskQueue: queue, WorkflowExecutionTimeout: time.Minute}, "agentTestHostSteps", machineID)
	if err != nil {
		t.Fatal(err)
	}
	var res hostStepsResult
	if err := run.Get(wctx, &res); err != nil {
		t.Fatalf("host steps: %v", err)
	}
	if res.Stopped.Stopped != 1 || res.SSH.User != "ubuntu" {
		t.Errorf("result %+v", res)
	}
	if got, _ := os.ReadFile(stdin); string(got) != "ubuntu:n3w-Pass\n" {
		t.Errorf("chpasswd got %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(dockerOps, ",") != "POST /containers/c1/stop,DELETE /containers/c1" {
		t.Errorf("docker calls %v", dockerOps)
	}
	if samples == 0 {
		t.Error("no samples while the worker ran")
	}
}

type quietTemporal struct{}

func (quietTemporal) Debug(string, ...any) {}
func (quietTemporal) Info(string, ...any)  {}
func (quietTemporal) Warn(string, ...any)  {}
func (quietTemporal) Error(string, ...any) {}
