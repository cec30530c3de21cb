package tasks

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// GPUFaultCleared is what an admin's clear did.
type GPUFaultCleared struct {
	Cleared    int64             `json:"cleared" doc:"Faults cleared (0: the GPU had none)"`
	FaultyGPUs []store.FaultyGPU `json:"faultyGpus" doc:"The machine's GPUs still set aside"`
}

// FaultyGPUs are the machine's GPUs set aside after a fault (admins).
func (s *Service) FaultyGPUs(ctx context.Context, machineID string) ([]store.FaultyGPU, error) {
	if _, err := s.machine(ctx, machineID); err != nil {
		return nil, err
	}
	list, err := s.Store.FaultyGPUs(ctx, machineID)
	if list == nil {
		list = []store.FaultyGPU{}
	}
	return list, err
}

func (s *Service) machine(ctx context.Context, id string) (*store.Machine, error) {
	m, err := s.Store.GetMachine(ctx, id, s.Expiring)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundErr("machines.notFound", "machine not found")
	}
	return m, err
}

// ClearGPUFault sets a GPU that faulted back in service (admins, audited):
// its faults so far no longer keep it from the queue, and the tasks queued
// on the machine look again.
func (s *Service) ClearGPUFault(ctx context.Context, machineID string, gpu int) (*GPUFaultCleared, error) {
	m, err := s.machine(ctx, machineID)
	if err != nil {
		return nil, err
	}
	if gpu < 0 || gpu >= m.GPUCount {
		return nil, apperr.NotFoundErr("machines.gpuNotFound", "the machine has no GPU {gpu}", apperr.P{"gpu": gpu})
	}
	out := &GPUFaultCleared{}
	var queued []string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out.Cleared, queued, err = store.New(tx).ClearGPUFaults(ctx, machineID, gpu, caller.From(ctx).UserID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.gpu_fault_clear", TargetType: "machine", TargetID: machineID, Success: true,
			Detail: map[string]any{"name": m.Name, "gpu": gpu, "cleared": out.Cleared}})
	})
	if err != nil {
		return nil, err
	}
	if s.Temporal != nil {
		for _, id := range queued {
			if err := s.Temporal.SignalWorkflow(ctx, workflows.TaskRunWorkflowID(id), "", workflows.TaskAdmittedSignal, nil); err != nil {
				slog.WarnContext(ctx, "unable to tell a queued task that a GPU is back", "task", id, "err", err)
			}
		}
	}
	if out.FaultyGPUs, err = s.FaultyGPUs(ctx, machineID); err != nil {
		return nil, err
	}
	return out, nil
}
