package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// The part of NVML the collector uses, in plain Go types so that the mapping
// below builds and is tested without cgo or a GPU. nvml_cgo.go adapts
// github.com/NVIDIA/go-nvml to it.

// errNotSupported is what an NVML call answers with ERROR_NOT_SUPPORTED: the
// GPU has no such figure (a data-center part has no fan, a consumer part no
// ECC). The field stays empty.
var errNotSupported = errors.New("not supported")

type nvmlAPI interface {
	Init() error
	Shutdown() error
	DriverVersion() (string, error)
	CUDADriverVersion() (int, error) // 12040 for CUDA 12.4
	DeviceCount() (int, error)
	Device(index int) (nvmlDevice, error)
	// NewEvents creates an empty event set (nvmlEventSetCreate).
	NewEvents() (nvmlEvents, error)
}

// nvmlEvents is an NVML event set the devices register with.
type nvmlEvents interface {
	// Wait waits up to timeout for the next event; ok is false when none
	// came in time.
	Wait(timeout time.Duration) (ev xidEvent, ok bool, err error)
	Free() error
}

// xidEvent is a critical XID error of one GPU.
type xidEvent struct {
	GPU int // the device's index
	XID int
}

type nvmlDevice interface {
	Name() (string, error)
	UUID() (string, error)
	Memory() (total, used uint64, err error) // bytes
	Utilization() (uint32, error)            // GPU %
	Temperature() (uint32, error)            // °C of the GPU die
	PowerUsage() (uint32, error)             // mW
	PowerLimit() (uint32, error)             // enforced limit, mW
	FanSpeed() (uint32, error)               // % of the maximum
	UncorrectedVolatileECC() (uint64, error)
	ComputeProcesses() ([]nvmlProcess, error)
	GraphicsProcesses() ([]nvmlProcess, error)
	// RegisterXIDEvents adds the device's critical XID errors to the set.
	RegisterXIDEvents(set nvmlEvents) error
}

type nvmlProcess struct {
	PID     uint32
	UsedMem uint64 // bytes; 0 where NVML cannot tell
}

// ErrNoNVML says that NVML cannot be used on this host.
var ErrNoNVML = errors.New("NVML is not available on this host")

// hintSimulated ends every message about a host that cannot use NVML.
const hintSimulated = "on a machine without NVIDIA GPUs run the agent with --gpu-source=simulated (it is reported as simulated)"

// NVML reads the GPUs through NVML. Critical XID errors come as NVML
// events: a goroutine waits for them and keeps them per GPU until the next
// sample reports them.
type NVML struct {
	lib     nvmlAPI
	procDir string // /proc; where process names are read
	log     *slog.Logger

	mu     sync.Mutex
	warned map[string]bool // "index/field" of failures already logged
	xids   map[int][]int   // GPU index -> XIDs seen since the last sample

	events  nvmlEvents    // nil when NVML gives no events here
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the event goroutine has ended
}

// Critical XID errors are waited for this long at a time (the event
// goroutine looks whether the collector is closing in between), and at
// most maxXIDs distinct codes per GPU go into one sample.
const (
	xidWait = 500 * time.Millisecond
	maxXIDs = 16
)

func newNVMLWith(lib nvmlAPI, procDir string, log *slog.Logger) (*NVML, error) {
	if err := lib.Init(); err != nil {
		return nil, err
	}
	n, err := lib.DeviceCount()
	if err != nil {
		_ = lib.Shutdown()
		return nil, fmt.Errorf("%w: unable to count the GPUs: %v; %s", ErrNoNVML, err, hintSimulated)
	}
	if n == 0 {
		_ = lib.Shutdown()
		return nil, fmt.Errorf("%w: NVML sees no GPU; %s", ErrNoNVML, hintSimulated)
	}
	if log == nil {
		log = slog.Default()
	}
	c := &NVML{lib: lib, procDir: procDir, log: log, warned: map[string]bool{}, xids: map[int][]int{}}
	c.watchXIDs(n)
	return c, nil
}

// Close stops the event goroutine, frees the event set and shuts NVML down.
func (c *NVML) Close() error {
	var err error
	if c.events != nil {
		close(c.stop)
		<-c.stopped
		err = c.events.Free()
	}
	return errors.Join(err, c.lib.Shutdown())
}

// watchXIDs registers the n GPUs for critical XID events and starts the
// goroutine that collects them. A host whose NVML has no events (or a GPU
// that has none) reports no XIDs; that is logged once, nothing fails.
func (c *NVML) watchXIDs(n int) {
	set, err := c.lib.NewEvents()
	if err != nil {
		c.warn(-1, "XID events", err)
		return
	}
	registered := 0
	for i := range n {
		d, err := c.lib.Device(i)
		if err == nil {
			err = d.RegisterXIDEvents(set)
		}
		if err != nil {
			c.warn(i, "XID events", err)
			continue
		}
		registered++
	}
	if registered == 0 {
		_ = set.Free()
		return
	}
	c.events, c.stop, c.stopped = set, make(chan struct{}), make(chan struct{})
	go c.collectXIDs()
}

func (c *NVML) collectXIDs() {
	defer close(c.stopped)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		ev, ok, err := c.events.Wait(xidWait)
		switch {
		case err != nil:
			c.warn(-1, "XID event wait", err)
			select { // do not spin on a broken event set
			case <-c.stop:
				return
			case <-time.After(time.Second):
			}
		case ok:
			c.addXID(ev)
		}
	}
}

func (c *NVML) addXID(ev xidEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.xids[ev.GPU]
	if len(list) >= maxXIDs || slices.Contains(list, ev.XID) {
		return
	}
	c.xids[ev.GPU] = append(list, ev.XID)
	c.log.Warn("GPU critical XID error", "gpu", ev.GPU, "xid", ev.XID)
}

// takeXIDs are the GPU's XIDs since the previous sample.
func (c *NVML) takeXIDs(i int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.xids[i]
	delete(c.xids, i)
	return list
}

// Inventory sets the driver and CUDA versions and each GPU's model, UUID and memory.
func (c *NVML) Inventory(_ context.Context, inv *agentproto.Inventory) error {
	inv.GPUSource = agentproto.GPUSourceNVML
	if v, err := c.lib.DriverVersion(); err == nil {
		inv.DriverVersion = v
	} else {
		c.warn(-1, "driver version", err)
	}
	if v, err := c.lib.CUDADriverVersion(); err == nil {
		inv.CUDAVersion = CUDAVersion(v)
	} else {
		c.warn(-1, "CUDA version", err)
	}
	n, err := c.lib.DeviceCount()
	if err != nil {
		return fmt.Errorf("unable to count the GPUs: %w", err)
	}
	inv.GPUs = make([]agentproto.GPUInfo, 0, n)
	for i := range n {
		d, err := c.lib.Device(i)
		if err != nil {
			return fmt.Errorf("unable to open GPU %d: %w", i, err)
		}
		g := agentproto.GPUInfo{Index: i}
		if g.Model, err = d.Name(); err != nil {
			c.warn(i, "name", err)
		}
		if g.UUID, err = d.UUID(); err != nil {
			c.warn(i, "uuid", err)
		}
		if total, _, err := d.Memory(); err == nil {
			g.MemoryMiB = int64(total >> 20)
		} else {
			c.warn(i, "memory", err)
		}
		inv.GPUs = append(inv.GPUs, g)
	}
	return nil
}

// Sample reads every GPU. A figure a GPU does not have stays empty; a GPU
// that cannot be opened at all fails the round (it has fallen off the bus).
func (c *NVML) Sample(_ context.Context, s *agentproto.Sample) error {
	n, err := c.lib.DeviceCount()
	if err != nil {
		return fmt.Errorf("unable to count the GPUs: %w", err)
	}
	for i := range n {
		d, err := c.lib.Device(i)
		if err != nil {
			return fmt.Errorf("unable to open GPU %d: %w", i, err)
		}
		s.GPUs = append(s.GPUs, c.sampleDevice(i, d))
	}
	return nil
}

func (c *NVML) sampleDevice(i int, d nvmlDevice) agentproto.GPUSample {
	g := agentproto.GPUSample{Index: i}
	var err error
	if g.UUID, err = d.UUID(); err != nil {
		c.warn(i, "uuid", err)
	}
	if u, err := d.Utilization(); err == nil {
		g.Utilization = min(float64(u), 100)
	} else {
		c.warn(i, "utilization", err)
	}
	if total, used, err := d.Memory(); err == nil {
		g.MemTotalMiB, g.MemUsedMiB = int64(total>>20), int64(used>>20)
	} else {
		c.warn(i, "memory", err)
	}
	if t, err := d.Temperature(); err == nil {
		g.TempC = float64(t)
	} else {
		c.warn(i, "temperature", err)
	}
	if p, err := d.PowerUsage(); err == nil {
		g.PowerW = milliWatts(p)
	} else {
		c.warn(i, "power usage", err)
	}
	if p, err := d.PowerLimit(); err == nil {
		g.PowerLimitW = milliWatts(p)
	} else {
		c.warn(i, "power limit", err)
	}
	if f, err := d.FanSpeed(); err == nil {
		v := float64(f)
		g.FanPct = &v
	} else {
		c.warn(i, "fan speed", err)
	}
	if e, err := d.UncorrectedVolatileECC(); err == nil {
		v := int64(e)
		g.ECCErrors = &v
	} else {
		c.warn(i, "ECC errors", err)
	}
	g.Processes = c.processes(i, d)
	g.XIDs = c.takeXIDs(i)
	return g
}

// processes merges the compute and graphics processes (a process can be
// both) and names them from /proc/<pid>/comm.
func (c *NVML) processes(i int, d nvmlDevice) []agentproto.GPUProcess {
	var out []agentproto.GPUProcess
	seen := map[uint32]int{}
	for _, list := range []struct {
		what string
		get  func() ([]nvmlProcess, error)
	}{{"compute processes", d.ComputeProcesses}, {"graphics processes", d.GraphicsProcesses}} {
		ps, err := list.get()
		if err != nil {
			c.warn(i, list.what, err)
			continue
		}
		for _, p := range ps {
			mib := int64(p.UsedMem >> 20)
			if j, ok := seen[p.PID]; ok {
				out[j].MemUsedMiB = max(out[j].MemUsedMiB, mib)
				continue
			}
			seen[p.PID] = len(out)
			out = append(out, agentproto.GPUProcess{PID: int(p.PID), Name: processName(c.procDir, int(p.PID)), MemUsedMiB: mib})
		}
	}
	return out
}

// warn logs a failed NVML call once per GPU and figure: not-supported ones
// at debug level (they are expected), others as warnings.
func (c *NVML) warn(i int, what string, err error) {
	key := strconv.Itoa(i) + "/" + what
	c.mu.Lock()
	seen := c.warned[key]
	c.warned[key] = true
	c.mu.Unlock()
	if seen {
		return
	}
	if errors.Is(err, errNotSupported) {
		c.log.Debug("NVML figure not supported; left empty", "gpu", i, "figure", what)
		return
	}
	c.log.Warn("unable to read an NVML figure; left empty", "gpu", i, "figure", what, "error", err)
}

// CUDAVersion formats NVML's CUDA driver version (major*1000 + minor*10) as "12.4".
func CUDAVersion(v int) string {
	if v <= 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
}

func milliWatts(mw uint32) float64 { return float64(mw) / 1000 }

// processName is the command name of a process (/proc/<pid>/comm), or "" when
// it has gone or lives in another PID namespace.
func processName(procDir string, pid int) string {
	if procDir == "" {
		procDir = "/proc"
	}
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
