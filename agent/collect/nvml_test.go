package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

type fakeNVML struct {
	initErr error
	devices []*fakeDevice
	cuda    int
	shut    int
}

func (f *fakeNVML) Init() error                      { return f.initErr }
func (f *fakeNVML) Shutdown() error                  { f.shut++; return nil }
func (f *fakeNVML) DriverVersion() (string, error)   { return "550.54.15", nil }
func (f *fakeNVML) CUDADriverVersion() (int, error)  { return f.cuda, nil }
func (f *fakeNVML) DeviceCount() (int, error)        { return len(f.devices), nil }
func (f *fakeNVML) Device(i int) (nvmlDevice, error) { return f.devices[i], nil }

// fakeDevice answers errNotSupported for every figure not set.
type fakeDevice struct {
	name, uuid        string
	total, used       uint64
	util, temp        *uint32
	power, limit, fan *uint32
	ecc               *uint64
	compute, graphics []nvmlProcess
	computeErr        error
	brokenTemp        bool
}

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }

func get[T any](p *T) (T, error) {
	if p == nil {
		var zero T
		return zero, errNotSupported
	}
	return *p, nil
}

func (d *fakeDevice) Name() (string, error) { return d.name, nil }
func (d *fakeDevice) UUID() (string, error) { return d.uuid, nil }
func (d *fakeDevice) Memory() (uint64, uint64, error) {
	return d.total, d.used, nil
}
func (d *fakeDevice) Utilization() (uint32, error) { return get(d.util) }
func (d *fakeDevice) Temperature() (uint32, error) {
	if d.brokenTemp {
		return 0, errors.New("NVML: ERROR_GPU_IS_LOST")
	}
	return get(d.temp)
}
func (d *fakeDevice) PowerUsage() (uint32, error)             { return get(d.power) }
func (d *fakeDevice) PowerLimit() (uint32, error)             { return get(d.limit) }
func (d *fakeDevice) FanSpeed() (uint32, error)               { return get(d.fan) }
func (d *fakeDevice) UncorrectedVolatileECC() (uint64, error) { return get(d.ecc) }
func (d *fakeDevice) ComputeProcesses() ([]nvmlProcess, error) {
	return d.compute, d.computeErr
}
func (d *fakeDevice) GraphicsProcesses() ([]nvmlProcess, error) { return d.graphics, nil }

func fakeProc(t *testing.T, names map[int]string) string {
	t.Helper()
	dir := t.TempDir()
	for pid, name := range names {
		p := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "comm"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNVMLMapping(t *testing.T) {
	const mib = 1 << 20
	full := &fakeDevice{
		name: "NVIDIA GeForce RTX 4090", uuid: "GPU-aaaa",
		total: 24564 * mib, used: 1000*mib + 5,
		util: u32(87), temp: u32(71), power: u32(312_500), limit: u32(450_000), fan: u32(64), ecc: u64(2),
		compute:  []nvmlProcess{{PID: 101, UsedMem: 800 * mib}, {PID: 102, UsedMem: 0}},
		graphics: []nvmlProcess{{PID: 101, UsedMem: 900 * mib}, {PID: 103, UsedMem: 100 * mib}},
	}
	// A data-center part: no fan, and everything optional missing.
	bare := &fakeDevice{name: "NVIDIA A100-SXM4-80GB", uuid: "GPU-bbbb", total: 81920 * mib,
		computeErr: errNotSupported, brokenTemp: true}
	lib := &fakeNVML{devices: []*fakeDevice{full, bare}, cuda: 12040}
	proc := fakeProc(t, map[int]string{101: "python3", 103: "Xorg"})
	c, err := newNVMLWith(lib, proc, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var inv agentproto.Inventory
	if err := c.Inventory(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	if inv.GPUSource != "nvml" || inv.DriverVersion != "550.54.15" || inv.CUDAVersion != "12.4" {
		t.Errorf("inventory = %+v", inv)
	}
	if len(inv.GPUs) != 2 || inv.GPUs[0] != (agentproto.GPUInfo{Index: 0, UUID: "GPU-aaaa", Model: "NVIDIA GeForce RTX 4090", MemoryMiB: 24564}) ||
		inv.GPUs[1].MemoryMiB != 81920 || inv.GPUs[1].Index != 1 {
		t.Errorf("gpus = %+v", inv.GPUs)
	}

	var s agentproto.Sample
	if err := c.Sample(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.GPUs) != 2 {
		t.Fatalf("gpus = %d", len(s.GPUs))
	}
	g := s.GPUs[0]
	if g.Index != 0 || g.UUID != "GPU-aaaa" || g.Utilization != 87 || g.MemUsedMiB != 1000 || g.MemTotalMiB != 24564 ||
		g.TempC != 71 || g.PowerW != 312.5 || g.PowerLimitW != 450 || g.FanPct == nil || *g.FanPct != 64 || g.ECCErrors == nil || *g.ECCErrors != 2 {
		t.Errorf("full gpu = %+v", g)
	}
	want := []agentproto.GPUProcess{{PID: 101, Name: "python3", MemUsedMiB: 900}, {PID: 102, Name: "", MemUsedMiB: 0}, {PID: 103, Name: "Xorg", MemUsedMiB: 100}}
	if len(g.Processes) != len(want) {
		t.Fatalf("processes = %+v", g.Processes)
	}
	for i := range want {
		if g.Processes[i] != want[i] {
			t.Errorf("process %d = %+v, want %+v", i, g.Processes[i], want[i])
		}
	}
	b := s.GPUs[1]
	if b.Index != 1 || b.FanPct != nil || b.ECCErrors != nil || b.Utilization != 0 || b.TempC != 0 || b.PowerW != 0 ||
		b.MemTotalMiB != 81920 || len(b.Processes) != 0 {
		t.Errorf("bare gpu = %+v", b)
	}
	if err := c.Close(); err != nil || lib.shut != 1 {
		t.Errorf("close: %v, shutdowns %d", err, lib.shut)
	}
}

func TestNVMLUnavailable(t *testing.T) {
	if _, err := newNVMLWith(&fakeNVML{}, "", nil); err == nil || !errors.Is(err, ErrNoNVML) ||
		!strings.Contains(err.Error(), "--gpu-source=simulated") {
		t.Errorf("no GPU: %v", err)
	}
	initErr := errors.New("boom")
	if _, err := newNVMLWith(&fakeNVML{initErr: initErr}, "", nil); !errors.Is(err, initErr) {
		t.Errorf("init: %v", err)
	}
}

// On this machine (no NVIDIA driver) the real NVML source must refuse with
// a message that points to the simulated source.
func TestNewNVMLWithoutDriver(t *testing.T) {
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		t.Skip("this host has an NVIDIA driver")
	}
	c, err := NewNVML()
	if err == nil {
		_ = c.Close()
		t.Fatal("NewNVML succeeded without a driver")
	}
	if !errors.Is(err, ErrNoNVML) || !strings.Contains(err.Error(), "--gpu-source=simulated") {
		t.Errorf("error = %v", err)
	}
}

func TestCUDAVersion(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 11080: "11.8", 12000: "12.0", 13010: "13.1", 0: "", -1: ""} {
		if got := CUDAVersion(v); got != want {
			t.Errorf("CUDAVersion(%d) = %q, want %q", v, got, want)
		}
	}
}
