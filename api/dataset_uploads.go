package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/datasets"
	"github.com/remotegpu/remotegpu/store"
)

// datasetUploadsHandler is the chunked, resumable upload of datasets and
// the URL import (docs/datasets.md, Upload): HTTP over datasets.Service,
// which owns the rules, the quota, the audit and the DatasetIngest starts.
// Admins use the same operations under /api/admin for public datasets.
type datasetUploadsHandler struct{ s *Server }

// NewDatasetFields describe a new dataset.
type NewDatasetFields struct {
	Name        string   `json:"name" maxLength:"400" doc:"1 to 100 characters"`
	Type        string   `json:"type" enum:"image,text,audio,video,other"`
	Description string   `json:"description,omitempty" maxLength:"8000" doc:"At most 2000 characters"`
	Tags        []string `json:"tags,omitempty" maxItems:"100" doc:"At most 20, each at most 30 characters"`
	Access      string   `json:"access,omitempty" enum:"private,team,public," doc:"Customers: private (default) or team; admins: public or private"`
}

func (f NewDatasetFields) meta() datasets.DatasetMeta {
	return datasets.DatasetMeta{Name: f.Name, Type: f.Type, Description: f.Description, Tags: f.Tags, Access: f.Access}
}

type StartDatasetUploadInput struct {
	Body struct {
		NewDatasetFields
		TotalBytes int64 `json:"totalBytes" minimum:"0" doc:"The bytes about to be uploaded: reserved under the company's quota"`
	}
}

type ImportDatasetURLInput struct {
	Body struct {
		NewDatasetFields
		URL string `json:"url" maxLength:"4096" doc:"http or https, of a public address; an archive (zip, tar, tar.gz, tgz) is extracted"`
	}
}

// DatasetUploadFile is a file about to be uploaded.
type DatasetUploadFile struct {
	Path    string `json:"path" maxLength:"4096" doc:"Relative, / separated: folders are kept"`
	Size    int64  `json:"size" minimum:"0"`
	MD5     string `json:"md5" maxLength:"64" doc:"Hex MD5 of the whole file"`
	Archive bool   `json:"archive,omitempty" doc:"zip, tar, tar.gz or tgz to extract on the server (the archive itself is not kept)"`
}

type InitDatasetUploadsInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Files []DatasetUploadFile `json:"files" maxItems:"1000" doc:"1 to 1000 files"`
	}
}

type DatasetUploadIDInput struct {
	ID       string `path:"id" format:"uuid"`
	UploadID string `path:"uploadId" format:"uuid"`
}

type DatasetFinishInput struct {
	ID string `path:"id" format:"uuid"`
}

// PutDatasetPartInput is one chunk: its body is read by the service as it
// comes (Resolve keeps the reader), at most one chunk.
type PutDatasetPartInput struct {
	ID         string `path:"id" format:"uuid"`
	UploadID   string `path:"uploadId" format:"uuid"`
	N          string `path:"n" maxLength:"40" doc:"The part number, from 1 (a number)"`
	ContentMD5 string `header:"Content-MD5" doc:"Required: base64 of the chunk's MD5"`
	body       io.Reader
	length     int64
}

func (in *PutDatasetPartInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	in.length = -1
	if cl := ctx.Header("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			in.length = n
		}
	}
	return nil
}

type (
	DatasetUploadSlot = datasets.UploadSlot
	DatasetPart       = datasets.PartResult
	DatasetUploadDone = datasets.UploadDone
)

// maxPartBody is one chunk with room to spare.
const maxPartBody = datasets.ChunkSize + 64<<10

func (h *datasetUploadsHandler) register(api huma.API) {
	h.registerFor(api, "/api/customer", "my-", roleCustomer)
	iop := operation(http.MethodPost, "/api/customer/datasets/import-url", "import-my-dataset-url", "datasets",
		"Import a dataset from an http(s) URL (processing until the DatasetIngest downloads it; an archive is extracted); "+
			"400 uploads.urlForbidden for other schemes and for loopback, private, link-local and metadata addresses",
		roleCustomer, http.StatusBadRequest, http.StatusServiceUnavailable)
	iop.DefaultStatus = http.StatusCreated
	huma.Register(api, iop, h.importURL)
}

// registerFor registers the upload operations under prefix (customer or admin).
func (h *datasetUploadsHandler) registerFor(api huma.API, prefix, idPart string, roles []string) {
	const tag = "datasets"
	bad, nf, conflict, down, forbidden := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable, http.StatusForbidden
	op := operation(http.MethodPost, prefix+"/datasets/upload", "start-"+idPart+"dataset-upload", tag,
		"Start uploading a dataset: created in status uploading with totalBytes reserved (409 uploads.quotaExceeded with need, free and "+
			"quota when the company has no room: nothing is created)", roles, bad, conflict, down)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.start)
	huma.Register(api, operation(http.MethodPost, prefix+"/datasets/{id}/uploads", "init-"+idPart+"dataset-uploads", tag,
		"Announce up to 1000 files: each answers done (instant upload, nothing to send) or open with the parts already confirmed "+
			"(the same path, md5 and size resume their upload). Only the uploader or an owner, while the dataset is uploading.",
		roles, bad, nf, conflict, forbidden, down), h.init)
	huma.Register(api, operation(http.MethodGet, prefix+"/datasets/{id}/uploads", "list-"+idPart+"dataset-uploads", tag,
		"The dataset's open uploads with their confirmed parts (resume after a reload)", roles, nf, forbidden), h.list)
	pop := operation(http.MethodPut, prefix+"/datasets/{id}/uploads/{uploadId}/parts/{n}", "put-"+idPart+"dataset-part", tag,
		"The raw bytes of chunk n (chunkSize bytes, the last may be shorter) with header Content-MD5; 400 uploads.chunkMd5Mismatch "+
			"(nothing stored) or uploads.partSizeInvalid. Sending a part again replaces it.", roles, bad, nf, conflict, forbidden, down)
	pop.MaxBodyBytes = maxPartBody
	pop.RequestBody = &huma.RequestBody{Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}
	huma.Register(api, pop, h.part)
	huma.Register(api, operation(http.MethodPost, prefix+"/datasets/{id}/uploads/{uploadId}/complete", "complete-"+idPart+"dataset-upload", tag,
		"Join the parts of an upload: the file is recorded (verified by the ingest). 409 uploads.partsMissing with their numbers.",
		roles, nf, conflict, forbidden, down), h.complete)
	fop := operation(http.MethodPost, prefix+"/datasets/{id}/finish", "finish-"+idPart+"dataset-upload", tag,
		"End the upload: status processing while DatasetIngest verifies the MD5s, extracts the archives and indexes the files; "+
			"409 uploads.uploadsOpen while files are still being uploaded", roles, nf, conflict, forbidden, down)
	fop.DefaultStatus = http.StatusAccepted
	huma.Register(api, fop, h.finish)
}

func uploadedDataset(ctx context.Context, d *store.Dataset, err error) (*Resp[store.Dataset], error) {
	if err != nil {
		return nil, err
	}
	return ok(ctx, *d)
}

func (h *datasetUploadsHandler) start(ctx context.Context, in *StartDatasetUploadInput) (*Resp[store.Dataset], error) {
	d, err := h.s.datasets.StartUpload(ctx, datasets.UploadStart{DatasetMeta: in.Body.meta(), TotalBytes: in.Body.TotalBytes})
	return uploadedDataset(ctx, d, err)
}

func (h *datasetUploadsHandler) importURL(ctx context.Context, in *ImportDatasetURLInput) (*Resp[store.Dataset], error) {
	d, err := h.s.datasets.ImportURL(ctx, datasets.ImportURLInput{DatasetMeta: in.Body.meta(), URL: in.Body.URL})
	return uploadedDataset(ctx, d, err)
}

func (h *datasetUploadsHandler) init(ctx context.Context, in *InitDatasetUploadsInput) (*Resp[[]DatasetUploadSlot], error) {
	files := make([]datasets.UploadFile, len(in.Body.Files))
	for i, f := range in.Body.Files {
		files[i] = datasets.UploadFile{Path: f.Path, Size: f.Size, MD5: f.MD5, Archive: f.Archive}
	}
	slots, err := h.s.datasets.InitUploads(ctx, in.ID, files)
	if err != nil {
		return nil, err
	}
	return ok(ctx, slots)
}

func (h *datasetUploadsHandler) list(ctx context.Context, in *DatasetFinishInput) (*Resp[[]DatasetUploadSlot], error) {
	slots, err := h.s.datasets.OpenUploads(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, slots)
}

func (h *datasetUploadsHandler) part(ctx context.Context, in *PutDatasetPartInput) (*Resp[DatasetPart], error) {
	n, err := strconv.Atoi(in.N)
	if err != nil {
		n = 0 // refused by the service, after its access check
	}
	res, err := h.s.datasets.PutPart(ctx, datasets.PartInput{DatasetID: in.ID, UploadID: in.UploadID, N: n, ContentMD5: in.ContentMD5,
		Body: in.body, Length: in.length})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *res)
}

func (h *datasetUploadsHandler) complete(ctx context.Context, in *DatasetUploadIDInput) (*Resp[DatasetUploadDone], error) {
	res, err := h.s.datasets.CompleteUpload(ctx, in.ID, in.UploadID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *res)
}

func (h *datasetUploadsHandler) finish(ctx context.Context, in *DatasetFinishInput) (*Resp[store.Dataset], error) {
	d, err := h.s.datasets.FinishUpload(ctx, in.ID)
	return uploadedDataset(ctx, d, err)
}
