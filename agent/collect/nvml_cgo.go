//go:build cgo

package collect

import (
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NewNVML opens NVML (libnvidia-ml.so.1, loaded at run time). On a host
// without the NVIDIA driver it fails with a message that says to use the
// simulated source.
func NewNVML() (*NVML, error) {
	return newNVMLWith(goNVML{}, "/proc", nil)
}

// goNVML adapts github.com/NVIDIA/go-nvml to nvmlAPI.
type goNVML struct{}

func nvmlErr(r nvml.Return) error {
	switch r {
	case nvml.SUCCESS:
		return nil
	case nvml.ERROR_NOT_SUPPORTED:
		return errNotSupported
	default:
		return fmt.Errorf("NVML: %s", nvml.ErrorString(r))
	}
}

func (goNVML) Init() error {
	switch r := nvml.Init(); r {
	case nvml.SUCCESS:
		return nil
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return fmt.Errorf("%w: libnvidia-ml.so.1 was not found (no NVIDIA driver installed); %s", ErrNoNVML, hintSimulated)
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return fmt.Errorf("%w: the NVIDIA driver is not loaded; %s", ErrNoNVML, hintSimulated)
	case nvml.ERROR_NO_PERMISSION:
		return fmt.Errorf("%w: no permission to talk to the NVIDIA driver (run the agent as root)", ErrNoNVML)
	default:
		return fmt.Errorf("%w: unable to initialise NVML: %s; %s", ErrNoNVML, nvml.ErrorString(r), hintSimulated)
	}
}

func (goNVML) Shutdown() error { return nvmlErr(nvml.Shutdown()) }

func (goNVML) DriverVersion() (string, error) {
	v, r := nvml.SystemGetDriverVersion()
	return v, nvmlErr(r)
}

func (goNVML) CUDADriverVersion() (int, error) {
	v, r := nvml.SystemGetCudaDriverVersion()
	return v, nvmlErr(r)
}

func (goNVML) DeviceCount() (int, error) {
	n, r := nvml.DeviceGetCount()
	return n, nvmlErr(r)
}

func (goNVML) Device(i int) (nvmlDevice, error) {
	d, r := nvml.DeviceGetHandleByIndex(i)
	if r != nvml.SUCCESS {
		return nil, nvmlErr(r)
	}
	return goDevice{d}, nil
}

func (goNVML) NewEvents() (nvmlEvents, error) {
	set, r := nvml.EventSetCreate()
	if r != nvml.SUCCESS {
		return nil, nvmlErr(r)
	}
	return goEvents{set}, nil
}

// goEvents is an NVML event set of critical XID errors.
type goEvents struct{ set nvml.EventSet }

func (e goEvents) Wait(timeout time.Duration) (xidEvent, bool, error) {
	data, r := e.set.Wait(uint32(timeout / time.Millisecond))
	switch {
	case r == nvml.ERROR_TIMEOUT:
		return xidEvent{}, false, nil
	case r != nvml.SUCCESS:
		return xidEvent{}, false, nvmlErr(r)
	case data.EventType&nvml.EventTypeXidCriticalError == 0 || data.Device == nil:
		return xidEvent{}, false, nil
	}
	i, r := data.Device.GetIndex()
	if r != nvml.SUCCESS {
		return xidEvent{}, false, fmt.Errorf("the index of the GPU of XID %d: %w", data.EventData, nvmlErr(r))
	}
	return xidEvent{GPU: i, XID: int(data.EventData)}, true, nil
}

func (e goEvents) Free() error { return nvmlErr(e.set.Free()) }

type goDevice struct{ d nvml.Device }

func (g goDevice) RegisterXIDEvents(set nvmlEvents) error {
	return nvmlErr(g.d.RegisterEvents(nvml.EventTypeXidCriticalError, set.(goEvents).set))
}

func (g goDevice) Name() (string, error) {
	v, r := g.d.GetName()
	return v, nvmlErr(r)
}

func (g goDevice) UUID() (string, error) {
	v, r := g.d.GetUUID()
	return v, nvmlErr(r)
}

func (g goDevice) Memory() (uint64, uint64, error) {
	m, r := g.d.GetMemoryInfo()
	return m.Total, m.Used, nvmlErr(r)
}

func (g goDevice) Utilization() (uint32, error) {
	u, r := g.d.GetUtilizationRates()
	return u.Gpu, nvmlErr(r)
}

func (g goDevice) Temperature() (uint32, error) {
	v, r := g.d.GetTemperature(nvml.TEMPERATURE_GPU)
	return v, nvmlErr(r)
}

func (g goDevice) PowerUsage() (uint32, error) {
	v, r := g.d.GetPowerUsage()
	return v, nvmlErr(r)
}

func (g goDevice) PowerLimit() (uint32, error) {
	v, r := g.d.GetEnforcedPowerLimit()
	return v, nvmlErr(r)
}

func (g goDevice) FanSpeed() (uint32, error) {
	v, r := g.d.GetFanSpeed()
	return v, nvmlErr(r)
}

func (g goDevice) UncorrectedVolatileECC() (uint64, error) {
	v, r := g.d.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
	return v, nvmlErr(r)
}

func (g goDevice) ComputeProcesses() ([]nvmlProcess, error) {
	ps, r := g.d.GetComputeRunningProcesses()
	return processes(ps), nvmlErr(r)
}

func (g goDevice) GraphicsProcesses() ([]nvmlProcess, error) {
	ps, r := g.d.GetGraphicsRunningProcesses()
	return processes(ps), nvmlErr(r)
}

func processes(ps []nvml.ProcessInfo) []nvmlProcess {
	out := make([]nvmlProcess, 0, len(ps))
	for _, p := range ps {
		used := p.UsedGpuMemory
		// NVML reports "not available" (under WDDM, or without permission)
		// as the all-ones value.
		if used == ^uint64(0) {
			used = 0
		}
		out = append(out, nvmlProcess{PID: p.Pid, UsedMem: used})
	}
	return out
}
