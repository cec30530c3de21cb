package collect

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// SimConfig describes the simulated GPUs.
type SimConfig struct {
	GPUs      int    // default 8
	Model     string // default "NVIDIA A100-SXM4-80GB"
	MemoryMiB int64  // default from the model (80 GiB when unknown)
	PowerW    float64
	// Seed makes the numbers reproducible; the agent derives it from the
	// machine ID so that each simulated machine differs and stays itself.
	Seed uint64
	// FaultFile, when set, injects simulated GPU faults (demos and tests
	// of the task re-queue): at each sample, if the file exists, it is read
	// and removed; each line "<gpu index> <xid>" adds that critical XID to
	// the GPU's sample, "<gpu index> ecc" adds one uncorrected ECC error to
	// its counter. The agent uses <state dir>/simulate-gpu-fault.
	FaultFile string
}

// SimFaultFileName is the fault file of the simulated source in the agent's state directory.
const SimFaultFileName = "simulate-gpu-fault"

// SeedFrom derives a seed from a string (the machine ID).
func SeedFrom(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// simModels are a few parts the simulator knows the memory and power of.
var simModels = map[string]struct {
	memMiB int64
	powerW float64
	fan    bool
}{
	"NVIDIA A100-SXM4-80GB":   {81920, 400, false},
	"NVIDIA A100-PCIE-40GB":   {40960, 250, false},
	"NVIDIA H100 80GB HBM3":   {81559, 700, false},
	"NVIDIA H100 PCIe":        {81559, 350, false},
	"NVIDIA L40S":             {46068, 350, false},
	"NVIDIA GeForce RTX 4090": {24564, 450, true},
	"NVIDIA GeForce RTX 5090": {32607, 575, true},
	"NVIDIA RTX A6000":        {49140, 300, true},
	"Tesla V100-SXM2-32GB":    {32768, 300, false},
}

// Sim is a simulated GPU source for hosts without NVIDIA GPUs (the dev stack,
// demos, tests). Its numbers vary smoothly: utilisation wanders near idle
// with occasional jobs that load the GPU, memory follows the job,
// temperature lags utilisation between 35 and 85 °C, power follows
// utilisation, the fan follows temperature, and a job shows as one or two
// processes. Each Sample advances the simulation one step, so a seeded Sim
// always produces the same sequence. The inventory says "simulated". Faults
// (critical XIDs, uncorrected ECC errors) come only from SimConfig.FaultFile.
type Sim struct {
	cfg   SimConfig
	fan   bool
	mu    sync.Mutex
	rng   *rand.Rand
	gpus  []simGPU
	uuids []string
}

type simGPU struct {
	util, temp, mem float64 // %, °C, MiB
	jobLeft         int     // steps the current job still runs; 0 when idle
	jobUtil         float64 // the job's mean utilisation
	jobMem          float64 // the job's memory, MiB
	procs           []agentproto.GPUProcess
	ecc             int64 // uncorrected ECC errors injected so far
	xids            []int // XIDs injected for the next sample
}

var simProcNames = []string{"python3", "torchrun", "python", "tritonserver", "llama-server"}

// NewSim returns a simulated source.
func NewSim(cfg SimConfig) *Sim {
	if cfg.GPUs <= 0 {
		cfg.GPUs = 8
	}
	cfg.GPUs = min(cfg.GPUs, 64)
	if cfg.Model == "" {
		cfg.Model = "NVIDIA A100-SXM4-80GB"
	}
	known, ok := simModels[cfg.Model]
	if !ok {
		known.memMiB, known.powerW = 81920, 400
	}
	if cfg.MemoryMiB <= 0 {
		cfg.MemoryMiB = known.memMiB
	}
	if cfg.PowerW <= 0 {
		cfg.PowerW = known.powerW
	}
	s := &Sim{cfg: cfg, fan: known.fan, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	s.gpus = make([]simGPU, cfg.GPUs)
	for i := range s.gpus {
		s.gpus[i] = simGPU{util: s.rng.Float64() * 5, temp: 35 + s.rng.Float64()*5, mem: 0}
		b := make([]byte, 16)
		for j := range b {
			b[j] = byte(s.rng.UintN(256))
		}
		s.uuids = append(s.uuids, fmt.Sprintf("GPU-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	}
	return s
}

func (s *Sim) Close() error { return nil }

// Inventory reports the simulated GPUs, marked as such.
func (s *Sim) Inventory(_ context.Context, inv *agentproto.Inventory) error {
	inv.GPUSource = agentproto.GPUSourceSimulated
	inv.DriverVersion = "550.54.15"
	inv.CUDAVersion = "12.4"
	inv.GPUs = make([]agentproto.GPUInfo, 0, len(s.gpus))
	for i := range s.gpus {
		inv.GPUs = append(inv.GPUs, agentproto.GPUInfo{Index: i, UUID: s.uuids[i], Model: s.cfg.Model, MemoryMiB: s.cfg.MemoryMiB})
	}
	return nil
}

// Sample advances the simulation one step and reports every GPU, with the
// faults the fault file asked for.
func (s *Sim) Sample(_ context.Context, out *agentproto.Sample) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injectFaults()
	for i := range s.gpus {
		out.GPUs = append(out.GPUs, s.step(i))
	}
	return nil
}

// injectFaults reads and removes the fault file (see SimConfig.FaultFile).
// Lines it cannot use are logged and skipped.
func (s *Sim) injectFaults() {
	if s.cfg.FaultFile == "" {
		return
	}
	b, err := os.ReadFile(s.cfg.FaultFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = os.Remove(s.cfg.FaultFile)
	}
	if err != nil {
		slog.Warn("SIMULATED GPU fault: unable to take the fault file", "file", s.cfg.FaultFile, "error", err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		i, err := strconv.Atoi(f[0])
		if err != nil || i < 0 || i >= len(s.gpus) || len(f) != 2 {
			slog.Warn("SIMULATED GPU fault: skipped a line; write \"<gpu index> <xid>\" or \"<gpu index> ecc\"", "line", line, "gpus", len(s.gpus))
			continue
		}
		g := &s.gpus[i]
		if f[1] == "ecc" {
			g.ecc++
			slog.Warn("SIMULATED GPU fault: uncorrected ECC error", "gpu", i, "eccErrors", g.ecc)
			continue
		}
		xid, err := strconv.Atoi(f[1])
		if err != nil || xid <= 0 {
			slog.Warn("SIMULATED GPU fault: skipped a line; write \"<gpu index> <xid>\" or \"<gpu index> ecc\"", "line", line)
			continue
		}
		if !slices.Contains(g.xids, xid) && len(g.xids) < maxXIDs {
			g.xids = append(g.xids, xid)
		}
		slog.Warn("SIMULATED GPU fault: critical XID error", "gpu", i, "xid", xid)
	}
}

func (s *Sim) step(i int) agentproto.GPUSample {
	g, r := &s.gpus[i], s.rng
	total := float64(s.cfg.MemoryMiB)
	if g.jobLeft == 0 && r.Float64() < 0.02 { // a job starts about every 50 steps
		g.jobLeft = 60 + r.IntN(600)
		g.jobUtil = 55 + r.Float64()*43
		g.jobMem = total * (0.25 + r.Float64()*0.7)
		g.procs = g.procs[:0]
		for range 1 + r.IntN(2) {
			g.procs = append(g.procs, agentproto.GPUProcess{PID: 2000 + r.IntN(60000), Name: simProcNames[r.IntN(len(simProcNames))]})
		}
	}
	target, memTarget := 2+r.Float64()*4, 0.0
	if g.jobLeft > 0 {
		g.jobLeft--
		target, memTarget = g.jobUtil+r.NormFloat64()*6, g.jobMem
		if g.jobLeft == 0 {
			g.procs = g.procs[:0]
		}
	}
	g.util = clamp(g.util+(target-g.util)*0.35+r.NormFloat64()*1.5, 0, 100)
	g.mem = clamp(g.mem+(memTarget-g.mem)*0.5, 0, total)
	if memTarget == 0 && g.mem < 1 {
		g.mem = 0
	}
	// Temperature lags utilisation: it moves a tenth of the way each step.
	g.temp = clamp(g.temp+(35+g.util*0.5-g.temp)*0.1+r.NormFloat64()*0.3, 35, 85)
	idle := s.cfg.PowerW * 0.15
	power := clamp(idle+(s.cfg.PowerW-idle)*g.util/100+r.NormFloat64()*3, idle*0.8, s.cfg.PowerW)
	ecc := g.ecc
	gs := agentproto.GPUSample{
		Index:       i,
		UUID:        s.uuids[i],
		Utilization: round1(g.util),
		MemUsedMiB:  int64(g.mem),
		MemTotalMiB: s.cfg.MemoryMiB,
		TempC:       math.Round(g.temp),
		PowerW:      round1(power),
		PowerLimitW: s.cfg.PowerW,
		ECCErrors:   &ecc,
		XIDs:        g.xids,
	}
	g.xids = nil
	if s.fan {
		fan := math.Round(clamp(30+(g.temp-35)*1.4, 30, 100))
		gs.FanPct = &fan
	}
	if len(g.procs) > 0 {
		// The processes share the memory: the first holds most of it.
		used := gs.MemUsedMiB
		for p := range g.procs {
			share := used
			if p < len(g.procs)-1 {
				share = used * 3 / 4
			}
			gs.Processes = append(gs.Processes, agentproto.GPUProcess{PID: g.procs[p].PID, Name: g.procs[p].Name, MemUsedMiB: share})
			used -= share
		}
	}
	return gs
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
func round1(v float64) float64        { return math.Round(v*10) / 10 }
