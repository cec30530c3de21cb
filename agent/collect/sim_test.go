package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func simRun(t *testing.T, cfg SimConfig, steps int) []agentproto.Sample {
	t.Helper()
	s := NewSim(cfg)
	out := make([]agentproto.Sample, 0, steps)
	for range steps {
		var smp agentproto.Sample
		if err := s.Sample(context.Background(), &smp); err != nil {
			t.Fatal(err)
		}
		out = append(out, smp)
	}
	return out
}

func TestSimDeterministic(t *testing.T) {
	a, _ := json.Marshal(simRun(t, SimConfig{GPUs: 4, Seed: 42}, 300))
	b, _ := json.Marshal(simRun(t, SimConfig{GPUs: 4, Seed: 42}, 300))
	c, _ := json.Marshal(simRun(t, SimConfig{GPUs: 4, Seed: 43}, 300))
	if string(a) != string(b) {
		t.Error("the same seed gave different samples")
	}
	if string(a) == string(c) {
		t.Error("different seeds gave the same samples")
	}
	if SeedFrom("m1") == SeedFrom("m2") || SeedFrom("m1") != SeedFrom("m1") {
		t.Error("SeedFrom")
	}
}

func TestSimInventory(t *testing.T) {
	var inv agentproto.Inventory
	if err := NewSim(SimConfig{GPUs: 2, Model: "NVIDIA H100 80GB HBM3", Seed: 1}).Inventory(context.Background(), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.GPUSource != agentproto.GPUSourceSimulated || len(inv.GPUs) != 2 || inv.GPUs[1].Model != "NVIDIA H100 80GB HBM3" ||
		inv.GPUs[1].MemoryMiB != 81559 || inv.GPUs[0].UUID == inv.GPUs[1].UUID || inv.CUDAVersion == "" {
		t.Errorf("inventory = %+v", inv)
	}
	var def agentproto.Inventory
	_ = NewSim(SimConfig{}).Inventory(context.Background(), &def)
	if len(def.GPUs) != 8 || def.GPUs[0].Model != "NVIDIA A100-SXM4-80GB" {
		t.Errorf("defaults = %+v", def.GPUs)
	}
}

func TestSimRangesAndSmoothness(t *testing.T) {
	const steps = 2000
	for _, model := range []string{"NVIDIA A100-SXM4-80GB", "NVIDIA GeForce RTX 4090"} {
		samples := simRun(t, SimConfig{GPUs: 8, Model: model, Seed: 7}, steps)
		var busy, idle, withProcs int
		minT, maxT := 1000.0, 0.0
		for i, s := range samples {
			if len(s.GPUs) != 8 {
				t.Fatalf("step %d: %d GPUs", i, len(s.GPUs))
			}
			for j, g := range s.GPUs {
				if g.Index != j || g.UUID == "" {
					t.Fatalf("index/uuid: %+v", g)
				}
				if g.Utilization < 0 || g.Utilization > 100 || g.MemUsedMiB < 0 || g.MemUsedMiB > g.MemTotalMiB ||
					g.TempC < 35 || g.TempC > 85 || g.PowerW <= 0 || g.PowerW > g.PowerLimitW {
					t.Fatalf("step %d gpu %d out of range: %+v", i, j, g)
				}
				if (g.FanPct != nil) != (model == "NVIDIA GeForce RTX 4090") {
					t.Fatalf("%s: fan %v", model, g.FanPct)
				}
				if g.FanPct != nil && (*g.FanPct < 30 || *g.FanPct > 100) {
					t.Fatalf("fan %v", *g.FanPct)
				}
				if g.ECCErrors == nil || *g.ECCErrors != 0 {
					t.Fatalf("ecc %v", g.ECCErrors)
				}
				minT, maxT = math.Min(minT, g.TempC), math.Max(maxT, g.TempC)
				if g.Utilization > 50 {
					busy++
				} else if g.Utilization < 15 {
					idle++
				}
				if len(g.Processes) > 0 {
					withProcs++
					var sum int64
					for _, p := range g.Processes {
						if p.PID <= 0 || p.Name == "" || p.MemUsedMiB < 0 {
							t.Fatalf("process %+v", p)
						}
						sum += p.MemUsedMiB
					}
					if sum != g.MemUsedMiB {
						t.Fatalf("process memory %d != used %d", sum, g.MemUsedMiB)
					}
				}
				if i > 0 {
					// Temperature lags: it never jumps.
					if d := math.Abs(g.TempC - samples[i-1].GPUs[j].TempC); d > 7 {
						t.Fatalf("temperature jumped by %v", d)
					}
				}
			}
		}
		total := steps * 8
		if busy < total/10 || idle < total/10 {
			t.Errorf("%s: busy %d, idle %d of %d: want jobs and idle time", model, busy, idle, total)
		}
		if withProcs == 0 || maxT < 60 || minT > 45 {
			t.Errorf("%s: processes %d, temperature %v..%v", model, withProcs, minT, maxT)
		}
	}
}

// The simulated source's fault file (simulated GPUs only): read and removed
// at the next sample, its XIDs reported once on their GPU, "ecc" adding to
// the GPU's uncorrected ECC counter for good; bad lines are skipped. The
// figures stay those of the seed.
func TestSimFaultFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), SimFaultFileName)
	sim := NewSim(SimConfig{GPUs: 4, Seed: 42, FaultFile: file})
	plain := NewSim(SimConfig{GPUs: 4, Seed: 42})
	sample := func() (agentproto.Sample, agentproto.Sample) {
		t.Helper()
		var a, b agentproto.Sample
		if err := sim.Sample(context.Background(), &a); err != nil {
			t.Fatal(err)
		}
		_ = plain.Sample(context.Background(), &b)
		return a, b
	}
	if s, _ := sample(); s.GPUs[1].XIDs != nil || *s.GPUs[1].ECCErrors != 0 {
		t.Fatalf("no file: %+v", s.GPUs[1])
	}
	if err := os.WriteFile(file, []byte("1 79\n1 79\n2 ecc\n\n9 48\nx 1\n0 nope\n3 48 extra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, p := sample()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the fault file is still there: %v", err)
	}
	if fmt.Sprint(s.GPUs[1].XIDs) != "[79]" || *s.GPUs[2].ECCErrors != 1 || s.GPUs[0].XIDs != nil || s.GPUs[3].XIDs != nil ||
		*s.GPUs[1].ECCErrors != 0 {
		t.Fatalf("after the fault file: %+v", s.GPUs)
	}
	if s.GPUs[1].Utilization != p.GPUs[1].Utilization || s.GPUs[2].TempC != p.GPUs[2].TempC {
		t.Fatal("the faults changed the simulated figures")
	}
	// the XID once, the ECC errors for good
	if s, _ = sample(); s.GPUs[1].XIDs != nil || *s.GPUs[2].ECCErrors != 1 {
		t.Fatalf("the sample after: %+v", s.GPUs)
	}
}

func TestHostFitsProtocolLimits(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	c := fitCollector{long: long}
	h := &Host{Collectors: []Collector{c}}
	inv, err := h.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hostname) > 255 || !utf8.ValidString(inv.Hostname) || len(inv.Disks) != 64 || len(inv.GPUs) != 64 {
		t.Errorf("inventory: hostname %d bytes, %d disks, %d GPUs", len(inv.Hostname), len(inv.Disks), len(inv.GPUs))
	}
	s, err := h.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Host.Disks) != 64 || len(s.GPUs) != 64 || len(s.GPUs[0].Processes) != 256 || len(s.GPUs[0].XIDs) != 16 || s.At.IsZero() {
		t.Errorf("sample: %d disks, %d GPUs, %d processes, %d XIDs", len(s.Host.Disks), len(s.GPUs), len(s.GPUs[0].Processes), len(s.GPUs[0].XIDs))
	}
}

type fitCollector struct{ long string }

func (f fitCollector) Inventory(_ context.Context, inv *agentproto.Inventory) error {
	inv.Hostname = f.long
	inv.Disks = make([]agentproto.Disk, 100)
	inv.GPUs = make([]agentproto.GPUInfo, 80)
	return nil
}

func (f fitCollector) Sample(_ context.Context, s *agentproto.Sample) error {
	s.Host.Disks = make([]agentproto.DiskSample, 100)
	s.GPUs = make([]agentproto.GPUSample, 80)
	s.GPUs[0].Processes = make([]agentproto.GPUProcess, 300)
	s.GPUs[0].XIDs = make([]int, 20)
	return nil
}

func (fitCollector) Close() error { return nil }
