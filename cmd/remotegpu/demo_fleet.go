package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/remotegpu/remotegpu/agent/runner"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// The demo machines of `make run`; each gets a simulated agent (clearly
// labelled as such in the console) so the monitoring pages show live data.
var demoMachines = []fleet.Spec{
	{Name: "bj-4090-01", Region: "北京", Room: "A-01", GPUModel: "RTX 4090", GPUMemoryGB: 24, GPUCount: 8, CUDAVersion: "12.4", DriverVersion: "550.54.15", CPUModel: "AMD EPYC 7763", CPUCores: 128, MemoryGB: 512, DiskGB: 8000},
	{Name: "bj-4090-02", Region: "北京", Room: "A-01", GPUModel: "RTX 4090", GPUMemoryGB: 24, GPUCount: 8, CUDAVersion: "12.4", DriverVersion: "550.54.15", CPUModel: "AMD EPYC 7763", CPUCores: 128, MemoryGB: 512, DiskGB: 8000},
	{Name: "cq-5090-01", Region: "重庆", Room: "C-02", GPUModel: "RTX 5090", GPUMemoryGB: 32, GPUCount: 8, CUDAVersion: "12.8", DriverVersion: "570.86.10", CPUModel: "Intel Xeon 8480+", CPUCores: 112, MemoryGB: 1024, DiskGB: 16000},
	{Name: "nm-h100-01", Region: "内蒙", Room: "N-07", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, CUDAVersion: "12.4", DriverVersion: "550.54.15", CPUModel: "Intel Xeon 8468", CPUCores: 96, MemoryGB: 2048, DiskGB: 30000},
	{Name: "sh-a100-01", Region: "上海", Room: "S-03", GPUModel: "A100 80G", GPUMemoryGB: 80, GPUCount: 4, CUDAVersion: "12.2", DriverVersion: "535.129.03", CPUModel: "AMD EPYC 7543", CPUCores: 64, MemoryGB: 1024, DiskGB: 15000},
}

// nvmlNames are the names NVML reports for the demo models.
var nvmlNames = map[string]string{"RTX 4090": "NVIDIA GeForce RTX 4090", "RTX 5090": "NVIDIA GeForce RTX 5090",
	"H100": "NVIDIA H100 80GB HBM3", "A100 80G": "NVIDIA A100-SXM4-80GB"}

// seedDemoFleet creates the demo machines that do not exist yet.
func seedDemoFleet(ctx context.Context, cfg config.Config, st *store.Store) error {
	box, err := secrets.New(cfg.SecretsKey, cfg.SecretsKeyPrevious...)
	if err != nil {
		return err
	}
	names := make([]string, len(demoMachines))
	for i, m := range demoMachines {
		names[i] = m.Name
	}
	taken, err := st.MachineNamesTaken(ctx, names)
	if err != nil {
		return err
	}
	for _, spec := range demoMachines {
		if taken[strings.ToLower(spec.Name)] {
			continue
		}
		if errs := spec.Normalize(cfg.Fleet.Config(), true); len(errs) > 0 {
			return fmt.Errorf("demo machine %s: %v", spec.Name, errs)
		}
		enc, err := box.Seal(spec.SSHPassword)
		if err != nil {
			return err
		}
		m := store.Machine{Name: spec.Name, Region: spec.Region, Room: spec.Room, GPUModel: spec.GPUModel, GPUMemoryGB: spec.GPUMemoryGB,
			GPUCount: spec.GPUCount, CUDAVersion: spec.CUDAVersion, DriverVersion: spec.DriverVersion, CPUModel: spec.CPUModel,
			CPUCores: spec.CPUCores, MemoryGB: spec.MemoryGB, DiskGB: spec.DiskGB, SSHHost: spec.SSHHost, SSHPort: spec.SSHPort,
			SSHUser: spec.SSHUser, ContainerDomainPrefix: spec.ContainerDomainPrefix, SSHPasswordEnc: enc}
		if err := st.CreateMachine(ctx, &m, ""); err != nil {
			return fmt.Errorf("unable to create demo machine %s: %w", spec.Name, err)
		}
	}
	return nil
}

// startDemoAgents runs a simulated agent for each demo machine, its state
// under dataDir/agents/<name>. A machine whose agent never registered gets a
// fresh bootstrap token. Their task containers run in the Docker daemon at
// dockerHost (the dev stack's own). The agents stop with ctx.
func startDemoAgents(ctx context.Context, dataDir, binDir, url, dockerHost string) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	agentBin := filepath.Join(binDir, "remotegpu-agent")
	if _, err := os.Stat(agentBin); err != nil {
		return fmt.Errorf("%s is missing (make build builds it): no simulated agents", agentBin)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := seedDemoFleet(ctx, cfg, st); err != nil {
		return err
	}
	logDir := filepath.Join(dataDir, "logs")
	for _, spec := range demoMachines {
		list, _, err := st.ListMachines(ctx, store.MachineFilter{Scope: store.AllMachines, Keyword: spec.Name}, store.Page{PageSize: 5}, time.Hour)
		if err != nil {
			return err
		}
		var id string
		for _, m := range list {
			if strings.EqualFold(m.Name, spec.Name) {
				id = m.ID
			}
		}
		if id == "" {
			continue // deleted by the admin: leave it so
		}
		stateDir := filepath.Join(dataDir, "agents", spec.Name)
		args := []string{"--url", url, "--machine-id", id, "--state-dir", stateDir, "--gpu-source=simulated",
			"--sim-gpus", fmt.Sprint(spec.GPUCount), "--sim-model", nvmlNames[spec.GPUModel],
			// host commands acknowledged without touching this machine: they
			// would change a real account's password and kill its sessions here
			"--host-ops=simulated",
			// never the developer's own Docker daemon
			"--docker-host", dockerHost}
		if _, err := os.Stat(filepath.Join(stateDir, runner.StateFile)); err != nil {
			token, _ := auth.NewRefreshToken()
			token = "rga_" + token
			if err := st.SetAgentToken(ctx, id, auth.HashToken(token), time.Now().Add(24*time.Hour)); err != nil {
				return err
			}
			args = append(args, "--bootstrap-token", token)
		}
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return err
		}
		logf, err := os.OpenFile(filepath.Join(logDir, "agent-"+spec.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, agentBin, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("unable to start the agent of %s: %w", spec.Name, err)
		}
		go func() { _ = cmd.Wait(); logf.Close() }()
	}
	return nil
}

// allocateDemo leases the first two demo machines to the demo customer acme
// through the api (so an Allocation workflow owns them), once.
func allocateDemo(ctx context.Context, url string) error {
	token, err := demoLogin(ctx, url, demoAdmin.username, demoAdmin.password)
	if err != nil {
		return err
	}
	var customers struct {
		List []struct {
			ID, Code     string
			MachineCount int `json:"machineCount"`
		} `json:"list"`
	}
	if err := demoCall(ctx, url, token, "GET", "/api/admin/customers?keyword=acme", nil, &customers); err != nil {
		return err
	}
	var tenantID string
	for _, c := range customers.List {
		if c.Code == "acme" {
			if c.MachineCount > 0 {
				return nil
			}
			tenantID = c.ID
		}
	}
	if tenantID == "" {
		return nil
	}
	var machines struct {
		List []struct{ ID, Name, AllocationStatus string } `json:"list"`
	}
	if err := demoCall(ctx, url, token, "GET", "/api/admin/machines?keyword=bj-4090&allocationStatus=unallocated", nil, &machines); err != nil {
		return err
	}
	var ids []string
	for _, m := range machines.List {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	return demoCall(ctx, url, token, "POST", "/api/admin/allocations",
		map[string]any{"tenantId": tenantID, "machineIds": ids, "months": 6, "remark": "demo"}, nil)
}

func demoLogin(ctx context.Context, url, user, password string) (string, error) {
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	err := demoCall(ctx, url, "", "POST", "/api/auth/login", map[string]string{"username": user, "password": password}, &out)
	return out.AccessToken, err
}

func demoCall(ctx context.Context, url, token, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return errors.New(method + " " + path + ": " + env.Message)
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// startDemo brings the demo fleet to life after the server answers; failures are reported, not fatal.
func startDemo(ctx context.Context, dataDir, binDir, url, dockerHost string) {
	if dockerHost == "" {
		dockerHost = "unix://" + filepath.Join(dataDir, "no-docker.sock") // tasks fail with DockerUnavailable
	}
	if err := startDemoAgents(ctx, dataDir, binDir, url, dockerHost); err != nil {
		slog.Warn("demo agents not started", "err", err)
	}
	if err := allocateDemo(ctx, url); err != nil {
		slog.Warn("demo allocation not made", "err", err)
	}
}
