// Package collect reads what the agent reports: the GPUs (through NVML, or a
// simulated source on hosts without NVIDIA GPUs) and the host's CPU, memory,
// disks and network. Each source is a Collector that fills in its part of
// the inventory and of every sample; Host combines them.
package collect

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Collector is one source of figures.
type Collector interface {
	// Inventory fills in what this source knows about the host.
	Inventory(ctx context.Context, inv *agentproto.Inventory) error
	// Sample fills in this source's figures of one sampling round. A
	// figure the hardware does not have is left empty; only a failure of
	// the whole source is an error.
	Sample(ctx context.Context, s *agentproto.Sample) error
	// Close releases what the source holds (NVML handles).
	Close() error
}

// Host combines the collectors of one host.
type Host struct {
	Collectors []Collector
	// AgentVersion goes into the inventory.
	AgentVersion string
	// Now is the clock of the samples (time.Now when nil).
	Now func() time.Time
}

// Inventory asks every collector in turn.
func (h *Host) Inventory(ctx context.Context) (agentproto.Inventory, error) {
	inv := agentproto.Inventory{AgentVersion: h.AgentVersion, GPUs: []agentproto.GPUInfo{}, Disks: []agentproto.Disk{}}
	for _, c := range h.Collectors {
		if err := c.Inventory(ctx, &inv); err != nil {
			return inv, err
		}
	}
	fitInventory(&inv)
	return inv, nil
}

// Sample takes one sampling round from every collector, stamped with the
// time it started.
func (h *Host) Sample(ctx context.Context) (agentproto.Sample, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	s := agentproto.Sample{At: now().UTC().Truncate(time.Millisecond), GPUs: []agentproto.GPUSample{},
		Host: agentproto.HostSample{Disks: []agentproto.DiskSample{}}}
	for _, c := range h.Collectors {
		if err := c.Sample(ctx, &s); err != nil {
			return s, err
		}
	}
	fitSample(&s)
	return s, nil
}

// Close closes every collector.
func (h *Host) Close() error {
	var errs []error
	for _, c := range h.Collectors {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NewGPU returns the GPU collector for a source name: agentproto.GPUSourceNVML
// or agentproto.GPUSourceSimulated.
func NewGPU(source string, sim SimConfig) (Collector, error) {
	switch source {
	case agentproto.GPUSourceNVML:
		return NewNVML()
	case agentproto.GPUSourceSimulated:
		return NewSim(sim), nil
	default:
		return nil, fmt.Errorf("unknown GPU source %q: use %s or %s", source, agentproto.GPUSourceNVML, agentproto.GPUSourceSimulated)
	}
}

// The api validates the limits agentproto declares (maxItems, maxLength)
// and rejects a whole batch that breaks one; an odd host (a hundred disks,
// a long hostname) must not lose all its samples for it.
const (
	maxGPUs      = 64
	maxDisks     = 64
	maxProcesses = 256
)

func fitInventory(inv *agentproto.Inventory) {
	inv.Hostname, inv.OS, inv.Kernel = cut(inv.Hostname, 255), cut(inv.OS, 255), cut(inv.Kernel, 255)
	inv.DriverVersion, inv.CUDAVersion = cut(inv.DriverVersion, 64), cut(inv.CUDAVersion, 32)
	inv.CPUModel, inv.AgentVersion = cut(inv.CPUModel, 255), cut(inv.AgentVersion, 64)
	inv.GPUs = inv.GPUs[:min(len(inv.GPUs), maxGPUs)]
	for i := range inv.GPUs {
		inv.GPUs[i].UUID, inv.GPUs[i].Model = cut(inv.GPUs[i].UUID, 128), cut(inv.GPUs[i].Model, 128)
	}
	inv.Disks = inv.Disks[:min(len(inv.Disks), maxDisks)]
	for i := range inv.Disks {
		inv.Disks[i].Mount = cut(inv.Disks[i].Mount, 255)
	}
}

func fitSample(s *agentproto.Sample) {
	s.GPUs = s.GPUs[:min(len(s.GPUs), maxGPUs)]
	for i := range s.GPUs {
		g := &s.GPUs[i]
		g.UUID = cut(g.UUID, 128)
		g.XIDs = g.XIDs[:min(len(g.XIDs), maxXIDs)]
		g.Processes = g.Processes[:min(len(g.Processes), maxProcesses)]
		for j := range g.Processes {
			g.Processes[j].Name = cut(g.Processes[j].Name, 255)
		}
	}
	s.Host.Disks = s.Host.Disks[:min(len(s.Host.Disks), maxDisks)]
	for i := range s.Host.Disks {
		s.Host.Disks[i].Mount = cut(s.Host.Disks[i].Mount, 255)
	}
}

// cut shortens s to at most n bytes without splitting a UTF-8 character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
