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
