package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

type fakeNVML struct {
	initErr   error
	devices   []*fakeDevice
	cuda      int
	shut      int
	events    *fakeEvents // nil: NVML has no events here
	eventsErr error
}

func (f *fakeNVML) Init() error                      { return f.initErr }
func (f *fakeNVML) Shutdown() error                  { f.shut++; return nil }
func (f *fakeNVML) DriverVersion() (string, error)   { return "550.54.15", nil }
func (f *fakeNVML) CUDADriverVersion() (int, error)  { return f.cuda, nil }
func (f *fakeNVML) DeviceCount() (int, error)        { return len(f.devices), nil }
func (f *fakeNVML) Device(i int) (nvmlDevice, error) { return f.devices[i], nil }
func (f *fakeNVML) NewEvents() (nvmlEvents, error) {
	if f.events == nil {
		return nil, errNotSupported
	}
	return f.events, f.eventsErr
}

// fakeEvents hands the collector's event goroutine what the test sends on
// its unbuffered channel: once a send returns, every event before it has
// been taken in. A send with ok false is a wait that timed out.
type fakeEvents struct {
	ch    chan fakeWait
	freed int
}

type fakeWait struct {
	ev xidEvent
	ok bool
}

func newFakeEvents() *fakeEvents { return &fakeEvents{ch: make(chan fakeWait)} }

func (e *fakeEvents) Wait(timeout time.Duration) (xidEvent, bool, error) {
	select {
	case w := <-e.ch:
		return w.ev, w.ok, nil
	case <-time.After(timeout):
		return xidEvent{}, false, nil
	}
}

func (e *fakeEvents) Free() error { e.freed++; return nil }

// xid sends an XID of a GPU.
func (e *fakeEvents) xid(gpu, code int) {
	e.ch <- fakeWait{ev: xidEvent{GPU: gpu, XID: code}, ok: true}
}

// settle returns once the collector has taken in everything sent before.
func (e *fakeEvents) settle() { e.ch <- fakeWait{} }

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
	noEvents          bool // XID events not supported
	registered        nvmlEvents
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
func (d *fakeDevice) RegisterXIDEvents(set nvmlEvents) error {
	if d.noEvents {
		return errNotSupported
	}
	d.registered = set
	return nil
}

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

// Critical XID errors, from NVML's events, go into the next sample of their
// GPU, each code once; the sample after that has none. A GPU without events
// is skipped; NVML without events reports none and still samples.
func TestNVMLXIDEvents(t *testing.T) {
	const mib = 1 << 20
	events := newFakeEvents()
	gpus := []*fakeDevice{{uuid: "GPU-0", total: 80 * 1024 * mib}, {uuid: "GPU-1", total: 80 * 1024 * mib}, {uuid: "GPU-2", noEvents: true}}
	lib := &fakeNVML{devices: gpus, events: events}
	c, err := newNVMLWith(lib, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if gpus[0].registered != events || gpus[1].registered != events || gpus[2].registered != nil {
		t.Fatalf("registered: %v %v %v", gpus[0].registered, gpus[1].registered, gpus[2].registered)
	}
	sample := func() agentproto.Sample {
		t.Helper()
		var s agentproto.Sample
		if err := c.Sample(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	events.xid(1, 79)
	events.xid(1, 79)
	events.xid(0, 48)
	events.xid(1, 94)
	events.settle()
	s := sample()
	if fmt.Sprint(s.GPUs[0].XIDs) != "[48]" || fmt.Sprint(s.GPUs[1].XIDs) != "[79 94]" || s.GPUs[2].XIDs != nil {
		t.Fatalf("xids %v %v %v", s.GPUs[0].XIDs, s.GPUs[1].XIDs, s.GPUs[2].XIDs)
	}
	if b, _ := json.Marshal(s.GPUs[2]); strings.Contains(string(b), "xids") {
		t.Errorf("a GPU without XIDs sends the field: %s", b)
	}
	if s = sample(); s.GPUs[0].XIDs != nil || s.GPUs[1].XIDs != nil {
		t.Fatalf("reported twice: %v %v", s.GPUs[0].XIDs, s.GPUs[1].XIDs)
	}
	// a storm of codes is cut to what one sample may carry
	for x := range 40 {
		events.xid(0, 100+x)
	}
	events.settle()
	if s = sample(); len(s.GPUs[0].XIDs) != maxXIDs || s.GPUs[0].XIDs[0] != 100 {
		t.Fatalf("storm: %v", s.GPUs[0].XIDs)
	}
	if err := c.Close(); err != nil || events.freed != 1 || lib.shut != 1 {
		t.Fatalf("close: %v, freed %d, shutdowns %d", err, events.freed, lib.shut)
	}

	// no events at all: samples go on without XIDs
	bare, err := newNVMLWith(&fakeNVML{devices: []*fakeDevice{{uuid: "GPU-0"}}}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b agentproto.Sample
	if err := bare.Sample(context.Background(), &b); err != nil || len(b.GPUs) != 1 || b.GPUs[0].XIDs != nil {
		t.Fatalf("without events: %v %+v", err, b)
	}
	if err := bare.Close(); err != nil {
		t.Fatal(err)
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
