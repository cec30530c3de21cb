package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/datasets"
)

// adminDatasetsHandler is the admins' dataset library (requirements 2.1.7):
// the platform's public datasets, every customer's, the shares waiting for
// approval; edit, delete, publish, and the reads of any dataset.
type adminDatasetsHandler struct{ s *Server }

type AdminDatasetItem = datasets.AdminItem

type ListAdminDatasetsInput struct {
	ListDatasetsInput
	Tab string `query:"tab" enum:"public,customer,pending," doc:"public: the platform's datasets (公共); customer: every company's (客户); pending: those with shares to approve (待审核), each with its pending shares"`
}

type DecideShareInput struct {
	ID   string `path:"id" format:"uuid" doc:"The share"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500" doc:"Required to reject; told to the dataset's company"`
	}
}

func (h *adminDatasetsHandler) register(api huma.API) {
	const tag = "admin-datasets"
	bad, nf, conflict := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	huma.Register(api, operation(http.MethodGet, "/api/admin/datasets", "list-datasets", tag,
		"The dataset library by tab (public, customer, pending); q, type, status; sortBy name|sizeBytes|createdAt|fileCount", roleAdmin, bad), h.list)
	huma.Register(api, operation(http.MethodGet, "/api/admin/datasets/{id}", "get-dataset", tag, "Any dataset", roleAdmin, nf), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/datasets/{id}", "update-dataset", tag,
		"Edit any dataset's name, type, description, tags (and access within its kind's) (audited)", roleAdmin, nf, bad), h.edit)
	huma.Register(api, operation(http.MethodDelete, "/api/admin/datasets/{id}", "delete-dataset", tag,
		"Delete any dataset; 409 datasets.inUse while mounted or used by a queued or running task (audited)", roleAdmin, nf, conflict), h.delete)
	huma.Register(api, operation(http.MethodPost, "/api/admin/datasets/{id}/set-public", "set-dataset-public", tag,
		"List a platform dataset to every customer; a customer's dataset is 409 datasets.notPlatformDataset (audited)", roleAdmin, nf, conflict),
		h.setPublic)
	huma.Register(api, operation(http.MethodPost, "/api/admin/datasets/{id}/set-private", "set-dataset-private", tag,
		"Take a platform dataset back to admins only; a customer's dataset is 409 datasets.notPlatformDataset (audited)", roleAdmin, nf, conflict),
		h.setPrivate)
	huma.Register(api, operation(http.MethodPost, "/api/admin/datasets/shares/{id}/approve", "approve-dataset-share", tag,
		"Approve a pending share: the other company sees the dataset under 共享给我的; the owner company is told (audited)", roleAdmin, nf, conflict),
		h.approve)
	huma.Register(api, operation(http.MethodPost, "/api/admin/datasets/shares/{id}/reject", "reject-dataset-share", tag,
		"Reject a pending share with a reason the owner company is told (audited)", roleAdmin, nf, bad, conflict), h.reject)
	huma.Register(api, operation(http.MethodGet, "/api/admin/datasets/{id}/tasks", "list-dataset-tasks", tag,
		"Every task that used the dataset", roleAdmin, nf), (&datasetsHandler{h.s}).tasks)
	huma.Register(api, operation(http.MethodGet, "/api/admin/datasets/{id}/shares", "list-dataset-shares", tag,
		"The dataset's shares", roleAdmin, nf), (&datasetsHandler{h.s}).shares)
	(&datasetsHandler{h.s}).registerReads(api, "/api/admin", "", roleAdmin)
}

func (h *adminDatasetsHandler) list(ctx context.Context, in *ListAdminDatasetsInput) (*Resp[Page[AdminDatasetItem]], error) {
	li, err := in.input("")
	if err != nil {
		return nil, err
	}
	f, _ := in.filters()
	list, total, err := h.s.datasets.AdminList(ctx, pick(in.Tab, f, "tab"), li)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *adminDatasetsHandler) get(ctx context.Context, in *DatasetIDInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.AdminGet(ctx, in.ID))
}

func (h *adminDatasetsHandler) edit(ctx context.Context, in *EditDatasetInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.AdminEdit(ctx, in.ID, in.Body.input()))
}

func (h *adminDatasetsHandler) delete(ctx context.Context, in *DatasetIDInput) (*Resp[Empty], error) {
	if err := h.s.datasets.AdminDelete(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *adminDatasetsHandler) setPublic(ctx context.Context, in *DatasetIDInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.SetPublic(ctx, in.ID, true))
}

func (h *adminDatasetsHandler) setPrivate(ctx context.Context, in *DatasetIDInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.SetPublic(ctx, in.ID, false))
}

func (h *adminDatasetsHandler) decide(ctx context.Context, in *DecideShareInput, approve bool) (*Resp[DatasetShare], error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	sh, err := h.s.datasets.DecideShare(ctx, in.ID, approve, reason)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *sh)
}

func (h *adminDatasetsHandler) approve(ctx context.Context, in *DecideShareInput) (*Resp[DatasetShare], error) {
	return h.decide(ctx, in, true)
}

func (h *adminDatasetsHandler) reject(ctx context.Context, in *DecideShareInput) (*Resp[DatasetShare], error) {
	return h.decide(ctx, in, false)
}
