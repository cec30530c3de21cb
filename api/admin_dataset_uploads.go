package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/store"
)

// adminDatasetUploadsHandler: the admins' public datasets (公共数据集),
// uploaded with the same protocol as the customers' (under /api/admin) or
// imported from a URL; no quota applies.
type adminDatasetUploadsHandler struct{ s *Server }

type CreatePublicDatasetInput struct {
	Body struct {
		NewDatasetFields
		URL        string `json:"url,omitempty" maxLength:"4096" doc:"Import from this http(s) URL; empty: upload (then use the upload operations)"`
		TotalBytes int64  `json:"totalBytes,omitempty" minimum:"0" doc:"Without url: the bytes about to be uploaded"`
	}
}

func (h *adminDatasetUploadsHandler) register(api huma.API) {
	(&datasetUploadsHandler{h.s}).registerFor(api, "/api/admin", "public-", roleAdmin)
	op := operation(http.MethodPost, "/api/admin/datasets", "create-public-dataset", "datasets",
		"Create a public dataset: with url it is imported (processing), without it is uploading (upload its files with the admin upload operations)",
		roleAdmin, http.StatusBadRequest, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
}

func (h *adminDatasetUploadsHandler) create(ctx context.Context, in *CreatePublicDatasetInput) (*Resp[store.Dataset], error) {
	d, err := h.s.datasets.CreatePublic(ctx, in.Body.meta(), in.Body.URL, in.Body.TotalBytes)
	return uploadedDataset(ctx, d, err)
}
