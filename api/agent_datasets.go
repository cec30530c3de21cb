package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/datasets"
)

// The agent's side of dataset mounts and machine imports: the manifest and
// files of a mount of its machine, and the tar of its dataset_import
// command; only while the mount's (dataset's) tenant holds the machine.

type AgentMountIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type AgentMountFileInput struct {
	ID   string `path:"id" format:"uuid"`
	Path string `query:"path" maxLength:"1024" required:"true" doc:"A file of the manifest"`
}

// AgentDatasetImportInput is a streamed tar: its body is handed on as it comes.
type AgentDatasetImportInput struct {
	CommandID string `path:"commandId" maxLength:"100"`
	body      io.Reader
}

func (in *AgentDatasetImportInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	return nil
}

// maxAgentImportBytes: the api bounds an import by the quota and DATASET_IMPORT_MAX itself.
const maxAgentImportBytes = 1 << 50

func (h *agentHandler) registerDatasets(agentOp func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation) {
	api := h.s.api
	huma.Register(api, agentOp(http.MethodGet, agentproto.PathDatasetMountManifest, "get-agent-dataset-manifest",
		"The files (path, size, MD5) of a mount of the caller's machine that is mounting or mounted, while its tenant holds the machine",
		0, http.StatusNotFound), h.datasetManifest)
	fop := agentOp(http.MethodGet, agentproto.PathDatasetMountFile, "get-agent-dataset-file",
		"The bytes of one file of a mount's dataset (same rule as the manifest)", 0, http.StatusNotFound, http.StatusBadRequest)
	fop.Responses = map[string]*huma.Response{"200": {Description: "The file",
		Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}}
	huma.Register(api, fop, h.datasetFile)
	op := agentOp(http.MethodPut, agentproto.PathDatasetImportUpload, "upload-agent-dataset-import",
		"The tar of the caller's open dataset_import command, streamed (chunked) into the object store, once; at most the company's free quota "+
			"and DATASET_IMPORT_MAX (413 mounts.importTooLarge)", maxAgentImportBytes,
		http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable)
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/x-tar": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}
	huma.Register(api, op, h.datasetImport)
}

func (h *agentHandler) datasetManifest(ctx context.Context, in *AgentMountIDInput) (*Resp[agentproto.DatasetManifest], error) {
	m, err := h.s.datasets.AgentManifest(ctx, agentMachine(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, m)
}

func (h *agentHandler) datasetFile(ctx context.Context, in *AgentMountFileInput) (*huma.StreamResponse, error) {
	f, err := h.s.datasets.AgentFile(ctx, agentMachine(ctx), in.ID, in.Path)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		defer f.Body.Close()
		hc.SetHeader("Content-Type", "application/octet-stream")
		hc.SetHeader("Content-Length", strconv.FormatInt(f.Size, 10))
		hc.SetHeader("Cache-Control", "no-store")
		_, _ = io.Copy(hc.BodyWriter(), f.Body)
	}}, nil
}

func (h *agentHandler) datasetImport(ctx context.Context, in *AgentDatasetImportInput) (*Resp[agentproto.DatasetImportResult], error) {
	res, err := h.s.datasets.AgentImportUpload(ctx, datasets.AgentImportUploadInput{MachineID: agentMachine(ctx), CommandID: in.CommandID, Body: in.body})
	if err != nil {
		return nil, err
	}
	return ok(ctx, res)
}
