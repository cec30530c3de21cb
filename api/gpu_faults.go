package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/tasks"
	"github.com/remotegpu/remotegpu/store"
)

// gpuFaultsHandler is the admins' view of the GPUs set aside after a fault
// (docs/tasks.md, GPU faults): HTTP over tasks.Service.
type gpuFaultsHandler struct{ s *Server }

type (
	FaultyGPU       = store.FaultyGPU
	GPUFaultCleared = tasks.GPUFaultCleared
)

type GPUIndexInput struct {
	ID    string `path:"id" format:"uuid"`
	Index int    `path:"index" minimum:"0"`
}

func (h *gpuFaultsHandler) register(api huma.API) {
	const tag = "machines"
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/gpu-faults", "list-machine-faulty-gpus", tag,
		"The machine's GPUs set aside after a fault (XID / uncorrected ECC) in the last 24 h that no admin cleared: no task is granted them",
		roleAdmin, http.StatusNotFound), h.list)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/gpus/{index}/clear-fault", "clear-machine-gpu-fault", tag,
		"Set a GPU that faulted back in service (audited): its faults so far no longer keep it from the tasks' queue",
		roleAdmin, http.StatusNotFound), h.clear)
}

func (h *gpuFaultsHandler) list(ctx context.Context, in *MachineIDInput) (*Resp[[]FaultyGPU], error) {
	list, err := h.s.tasks.FaultyGPUs(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *gpuFaultsHandler) clear(ctx context.Context, in *GPUIndexInput) (*Resp[GPUFaultCleared], error) {
	out, err := h.s.tasks.ClearGPUFault(ctx, in.ID, in.Index)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *out)
}
