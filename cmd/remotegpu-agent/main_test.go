package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parse(nil, envOf(map[string]string{
		"REMOTEGPU_URL": "https://gpu.example.com", "REMOTEGPU_MACHINE_ID": "m-1", "REMOTEGPU_AGENT_TOKEN": "rga_x",
		"REMOTEGPU_BUFFER": "100", "REMOTEGPU_INTERVAL": "10s",
	}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.URL != "https://gpu.example.com" || c.MachineID != "m-1" || c.BootstrapToken != "rga_x" || c.Buffer != 100 ||
		c.Interval != 10*time.Second || c.GPUSource != agentproto.GPUSourceNVML || c.StateDir != "/var/lib/remotegpu-agent" || c.HostOps != "real" || c.KillGrace != 10*time.Second {
		t.Errorf("from the environment: %+v", c)
	}
	// Flags win over the environment.
	o, err = parse([]string{"--gpu-source=simulated", "--sim-gpus", "4", "--buffer=5", "--bootstrap-token=rga_flag", "--host-ops=simulated", "--state-dir", "/tmp/x"},
		envOf(map[string]string{"REMOTEGPU_AGENT_TOKEN": "rga_env", "REMOTEGPU_BUFFER": "100", "REMOTEGPU_HOST_OPS": "off", "REMOTEGPU_KILL_GRACE": "3s"}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	c = o.cfg
	if c.GPUSource != "simulated" || c.Sim.GPUs != 4 || c.Buffer != 5 || c.BootstrapToken != "rga_flag" || c.HostOps != "simulated" || c.KillGrace != 3*time.Second || c.StateDir != "/tmp/x" {
		t.Errorf("flags: %+v", c)
	}
	for _, bad := range [][]string{{"--gpu-source=fake"}, {"--sim-gpus=0"}, {"--buffer=0"}, {"--interval=1ms"}, {"extra"}, {"--host-ops=pretend"}, {"--kill-grace=0s"}, {"--no-temporal"}} {
		if _, err := parse(bad, envOf(nil), &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// The token never shows in the help.
	stderr.Reset()
	_, _ = parse([]string{"-h"}, envOf(map[string]string{"REMOTEGPU_AGENT_TOKEN": "rga_secret"}), &stderr)
	if strings.Contains(stderr.String(), "rga_secret") || !strings.Contains(stderr.String(), "--gpu-source=simulated") ||
		!strings.Contains(stderr.String(), "--host-ops=simulated") || strings.Contains(strings.ToLower(stderr.String()), "temporal") {
		t.Errorf("help:\n%s", stderr.String())
	}
}

func TestOnceSimulated(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--once", "--gpu-source=simulated", "--sim-gpus=3", "--machine-id=m-1"}, envOf(nil), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out struct {
		Inventory agentproto.Inventory `json:"inventory"`
		Sample    agentproto.Sample    `json:"sample"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if out.Inventory.GPUSource != "simulated" || len(out.Inventory.GPUs) != 3 || len(out.Sample.GPUs) != 3 || out.Sample.Host.MemTotalMiB == 0 {
		t.Errorf("once: %s", stdout.String())
	}
}

// Without an NVIDIA driver the default source fails and says what to do.
func TestOnceNVMLWithoutDriver(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--once"}, envOf(nil), &stdout, &stderr)
	if code == 0 {
		t.Skip("this host has NVML")
	}
	if code != 1 || !strings.Contains(stderr.String(), "--gpu-source=simulated") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
