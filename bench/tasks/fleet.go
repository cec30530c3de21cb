package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/remotegpu/remotegpu/agent/collect"
	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/runner"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

// gpusPerMachine: the most a machine has.
const gpusPerMachine = 8

type machine struct {
	ID, Name string
}

// fleet is the bench's machines, leased to the customer, each with its
// agent: the real agent (agent/runner, what bin/remotegpu-agent runs) in
// this process, with simulated GPUs and host ops, its task containers in
// the stack's Docker daemon.
type fleet struct {
	machines []machine
	stateDir string
	stop     func()
}

// addFleet creates n machines through the admin api, starts their agents,
// leases them to the tenant and waits until the customer sees each online
// with the test image.
func addFleet(ctx context.Context, o options, admin, customer *session, tenantID, run string, n int) (*fleet, error) {
	f := &fleet{stop: func() {}}
	var err error
	if f.stateDir, err = os.MkdirTemp("", "bench-tasks-agents-"); err != nil {
		return f, err
	}
	tokens := make([]string, n)
	for i := range n {
		body := map[string]any{"name": fmt.Sprintf("%s-%02d", run, i), "region": "北京", "gpuModel": "H100", "gpuMemoryGb": 80,
			"gpuCount": gpusPerMachine, "cpuCores": 96, "memoryGb": 2048, "diskGb": 30000}
		var out struct {
			Machine    machine `json:"machine"`
			AgentToken string  `json:"agentToken"`
		}
		if err := admin.do(ctx, http.MethodPost, "/api/admin/machines", body, &out); err != nil {
			return f, err
		}
		f.machines = append(f.machines, out.Machine)
		tokens[i] = out.AgentToken
	}

	// Agents log errors only: the simulated host ops warn at every command.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	actx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, m := range f.machines {
		cfg := runner.Config{URL: o.base, MachineID: m.ID, BootstrapToken: tokens[i], StateDir: filepath.Join(f.stateDir, m.Name),
			GPUSource: agentproto.GPUSourceSimulated, Sim: collect.SimConfig{GPUs: gpusPerMachine, Model: "NVIDIA H100 80GB HBM3"},
			HostOps: commands.ModeSimulated, DockerHost: o.dockerHost, Log: log.With("machine", m.Name),
			// its own connections, as each agent process has
			HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
		wg.Go(func() {
			if err := runner.Run(actx, cfg); err != nil {
				log.Error("agent ended", "machine", m.Name, "err", err)
			}
		})
	}
	f.stop = func() { cancel(); wg.Wait() }

	ids := make([]string, n)
	for i, m := range f.machines {
		ids[i] = m.ID
	}
	if err := admin.do(ctx, http.MethodPost, "/api/admin/allocations",
		map[string]any{"tenantId": tenantID, "machineIds": ids, "months": 1, "remark": "bench/tasks " + run}, nil); err != nil {
		return f, err
	}
	return f, waitUntil(ctx, 3*time.Minute, "the leased machines online with the test image", func() (bool, error) {
		var avail []struct {
			ID, Status, GPUSource string
			FreeGPUs              int `json:"freeGpus"`
		}
		if err := customer.do(ctx, http.MethodGet, "/api/customer/machines/available", nil, &avail); err != nil {
			return false, err
		}
		online := map[string]bool{}
		for _, a := range avail {
			online[a.ID] = a.Status == "online" && a.GPUSource == agentproto.GPUSourceSimulated && a.FreeGPUs == gpusPerMachine
		}
		for _, m := range f.machines {
			if !online[m.ID] {
				return false, nil
			}
			var images []struct{ Ref string }
			if err := customer.do(ctx, http.MethodGet, "/api/customer/images?machineId="+m.ID, nil, &images); err != nil {
				return false, err
			}
			found := false
			for _, im := range images {
				found = found || im.Ref == testimage.Ref
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	})
}

// remove ends the leases (the real reclaim: the agents stop the tenant's
// containers and rotate their keys), stops the agents once their hosts
// confirmed it, and deletes the machines.
func (f *fleet) remove(admin *session) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	defer os.RemoveAll(f.stateDir)
	var errs []error
	for _, m := range f.machines {
		err := admin.do(ctx, http.MethodPost, "/api/admin/machines/"+m.ID+"/reclaim", map[string]string{"reason": "bench/tasks done"}, nil)
		if err != nil && statusOf(err) != http.StatusConflict { // 409: not allocated (any more)
			errs = append(errs, err)
		}
	}
	for _, m := range f.machines {
		err := waitUntil(ctx, 3*time.Minute, "the lease of "+m.Name+" cleaned up", func() (bool, error) {
			var got struct {
				Allocation any `json:"allocation"`
				Cleanup    any `json:"cleanup"`
			}
			err := admin.do(ctx, http.MethodGet, "/api/admin/machines/"+m.ID, nil, &got)
			return err == nil && got.Allocation == nil && got.Cleanup == nil, err
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	f.stop()
	for _, m := range f.machines {
		if err := admin.do(ctx, http.MethodDelete, "/api/admin/machines/"+m.ID, nil, nil); err != nil {
			errs = append(errs, fmt.Errorf("machine %s (%s) left behind: %w", m.Name, m.ID, err))
		}
	}
	return errors.Join(errs...)
}

// waitUntil polls ok every 200 ms until it says true, fails, or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, what string, ok func() (bool, error)) error {
	end := time.Now().Add(limit)
	for {
		done, err := ok()
		if done {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(end) {
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			return fmt.Errorf("no %s after %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
