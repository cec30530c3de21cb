package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/datasets"
	"github.com/remotegpu/remotegpu/store"
)

// datasetMountsHandler is the customer's dataset mounts and imports from a
// machine (docs/datasets.md): HTTP over datasets.Service, which owns the
// rules, the records, the audit and the workflows.
type datasetMountsHandler struct{ s *Server }

type DatasetMount = store.DatasetMount

type ListDatasetMountsInput struct {
	ListParams
	Status    string `query:"status" enum:"mounting,mounted,failed,unmounting,unmounted," doc:"mounting (挂载中), mounted (已挂载), failed, unmounting, unmounted"`
	MachineID string `query:"machineId"`
	DatasetID string `query:"datasetId"`
}

func (in *ListDatasetMountsInput) input(datasetID string) (datasets.MountsInput, error) {
	f, err := in.filters()
	if err != nil {
		return datasets.MountsInput{}, err
	}
	out := datasets.MountsInput{Status: pick(in.Status, f, "status"), MachineID: pick(in.MachineID, f, "machineId"),
		DatasetID: pick(in.DatasetID, f, "datasetId"), Page: in.ListParams.store()}
	if datasetID != "" {
		out.DatasetID = datasetID
	}
	return out, validUUIDs(map[string]string{"machineId": out.MachineID, "datasetId": out.DatasetID})
}

type DatasetMountsOfInput struct {
	ListDatasetMountsInput
	ID string `path:"id" format:"uuid"`
}

type MountFields struct {
	MachineID string `json:"machineId" format:"uuid" doc:"A machine leased to the company"`
	Path      string `json:"path" maxLength:"1024" doc:"Absolute and clean, at least two levels (/data/imagenet), not a system directory; created on the host, or an empty directory"`
}

type MountDatasetInput struct {
	Body struct {
		DatasetID string `json:"datasetId" format:"uuid"`
		MountFields
	}
}

type MountDatasetOfInput struct {
	ID   string `path:"id" format:"uuid"`
	Body MountFields
}

type UnmountDatasetInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		MountID string `json:"mountId" format:"uuid"`
	}
}

type MountIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type ImportMachineInput struct {
	Body struct {
		Name        string   `json:"name" maxLength:"400" doc:"1 to 100 characters"`
		Type        string   `json:"type" enum:"image,text,audio,video,other"`
		Description string   `json:"description,omitempty" maxLength:"8000" doc:"At most 2000 characters"`
		Tags        []string `json:"tags,omitempty" maxItems:"100" doc:"At most 20, each at most 30 characters"`
		Access      string   `json:"access,omitempty" enum:"private,team," doc:"private (default) or team (团队共享)"`
		MachineID   string   `json:"machineId" format:"uuid" doc:"A machine leased to the company"`
		Path        string   `json:"path" maxLength:"1024" doc:"An absolute path on the machine: a directory (imported with its tree; symlinks are not followed) or a file"`
	}
}

func (h *datasetMountsHandler) register(api huma.API) {
	const tag = "datasets"
	bad, nf, conflict, down := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/mounts", "list-my-dataset-mounts", tag,
		"The company's dataset mounts; filters status, machineId, datasetId; sortBy createdAt|mountedAt|status|path|datasetName|machineName",
		roleCustomer, bad), h.list)
	op := operation(http.MethodPost, "/api/customer/datasets/mount", "mount-dataset", tag,
		"Mount a dataset the company can read onto a leased machine: a read-only copy at path (mounting, then mounted or failed)",
		roleCustomer, bad, nf, conflict, down)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.mount)
	op = operation(http.MethodPost, "/api/customer/datasets/{id}/mount", "mount-this-dataset", tag,
		"Mount this dataset onto a leased machine (as mount-dataset)", roleCustomer, bad, nf, conflict, down)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.mountOf)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/{id}/mounts", "list-dataset-mounts", tag,
		"The company's mounts of this dataset", roleCustomer, bad, nf), h.listOf)
	huma.Register(api, operation(http.MethodPost, "/api/customer/datasets/{id}/unmount", "unmount-this-dataset", tag,
		"Remove a mount of this dataset from its machine (unmounting, then unmounted)", roleCustomer, nf, conflict, down), h.unmountOf)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/datasets/mounts/{id}", "unmount-dataset", tag,
		"Remove a mount from its machine (unmounting, then unmounted)", roleCustomer, nf, conflict, down), h.unmount)
	op = operation(http.MethodPost, "/api/customer/datasets/import-machine", "import-dataset-from-machine", tag,
		"Create a dataset from a path of a leased machine: its agent streams a tar of it, which the ingest extracts (processing, then available or failed)",
		roleCustomer, bad, nf, down)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.importMachine)
}

func (h *datasetMountsHandler) list(ctx context.Context, in *ListDatasetMountsInput) (*Resp[Page[DatasetMount]], error) {
	li, err := in.input("")
	if err != nil {
		return nil, err
	}
	list, total, err := h.s.datasets.Mounts(ctx, li, false)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *datasetMountsHandler) listOf(ctx context.Context, in *DatasetMountsOfInput) (*Resp[Page[DatasetMount]], error) {
	li, err := in.input(in.ID)
	if err != nil {
		return nil, err
	}
	list, total, err := h.s.datasets.Mounts(ctx, li, true)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func mountResp(ctx context.Context) func(*store.DatasetMount, error) (*Resp[DatasetMount], error) {
	return func(m *store.DatasetMount, err error) (*Resp[DatasetMount], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, *m)
	}
}

func (h *datasetMountsHandler) mount(ctx context.Context, in *MountDatasetInput) (*Resp[DatasetMount], error) {
	return mountResp(ctx)(h.s.datasets.Mount(ctx, datasets.MountInput{DatasetID: in.Body.DatasetID, MachineID: in.Body.MachineID, Path: in.Body.Path}))
}

func (h *datasetMountsHandler) mountOf(ctx context.Context, in *MountDatasetOfInput) (*Resp[DatasetMount], error) {
	return mountResp(ctx)(h.s.datasets.Mount(ctx, datasets.MountInput{DatasetID: in.ID, MachineID: in.Body.MachineID, Path: in.Body.Path}))
}

func (h *datasetMountsHandler) unmountOf(ctx context.Context, in *UnmountDatasetInput) (*Resp[DatasetMount], error) {
	return mountResp(ctx)(h.s.datasets.Unmount(ctx, in.ID, in.Body.MountID))
}

func (h *datasetMountsHandler) unmount(ctx context.Context, in *MountIDInput) (*Resp[DatasetMount], error) {
	return mountResp(ctx)(h.s.datasets.Unmount(ctx, "", in.ID))
}

func (h *datasetMountsHandler) importMachine(ctx context.Context, in *ImportMachineInput) (*Resp[store.Dataset], error) {
	b := in.Body
	d, err := h.s.datasets.ImportMachine(ctx, datasets.MachineImportInput{Name: b.Name, Type: b.Type, Description: b.Description, Tags: b.Tags,
		Access: b.Access, MachineID: b.MachineID, Path: b.Path})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *d)
}
