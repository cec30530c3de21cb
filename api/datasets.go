package api

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/datasets"
	"github.com/remotegpu/remotegpu/store"
)

// datasetsHandler is the customers' dataset catalog (requirements 3.1.5,
// docs/datasets.md): the three lists, a dataset's detail, edit and delete,
// its files (listing, delete, rename, preview), download links, the tasks
// that used it and its shares. HTTP over datasets.Service, which checks
// who may read and change what, in SQL.
type datasetsHandler struct{ s *Server }

// The answers, as the service gives them.
type (
	DatasetItem    = datasets.Item
	DatasetEntry   = store.DatasetEntry
	DatasetShare   = store.DatasetShare
	DatasetTaskUse = store.DatasetTaskUse
	DownloadLink   = datasets.DownloadLink
	StorageUse     = store.StorageUse
)

type ListDatasetsInput struct {
	ListParams
	Q      string `query:"q" maxLength:"100" doc:"Name, description or a tag contains"`
	Type   string `query:"type" enum:"image,text,audio,video,other," doc:"image, text, audio, video or other"`
	Status string `query:"status" enum:"uploading,processing,available,failed,"`
	Sort   string `query:"sort" enum:"name,sizeBytes,createdAt,fileCount,updatedAt,downloadCount," doc:"Same as sortBy"`
}

func (in *ListDatasetsInput) input(tab string) (datasets.ListInput, error) {
	f, err := in.filters()
	if err != nil {
		return datasets.ListInput{}, err
	}
	p := in.ListParams.store()
	if p.SortBy == "" {
		p.SortBy = in.Sort
	}
	return datasets.ListInput{Page: p, Filter: store.DatasetFilter{Tab: tab, Q: pick(in.Q, f, "q"), Type: pick(in.Type, f, "type"),
		Status: pick(in.Status, f, "status")}}, nil
}

type DatasetIDInput struct {
	ID string `path:"id" format:"uuid"`
}

// DatasetEditBody is the edit form; fields left out stay as they are.
type DatasetEditBody struct {
	Name        *string  `json:"name,omitempty" maxLength:"200" doc:"1 to 100 characters"`
	Type        *string  `json:"type,omitempty" enum:"image,text,audio,video,other"`
	Description *string  `json:"description,omitempty" maxLength:"4000" doc:"At most 2000 characters"`
	Tags        []string `json:"tags,omitempty" maxItems:"50" doc:"At most 20 tags of at most 30 characters"`
	Access      *string  `json:"access,omitempty" enum:"private,team,public" doc:"A customer's dataset: private or team; a public one (admins): public or private"`
}

func (b DatasetEditBody) input() datasets.EditInput {
	return datasets.EditInput{Name: b.Name, Type: b.Type, Description: b.Description, Tags: b.Tags, Access: b.Access}
}

type EditDatasetInput struct {
	ID   string `path:"id" format:"uuid"`
	Body DatasetEditBody
}

type DatasetFilesInput struct {
	ListParams
	ID   string `path:"id" format:"uuid"`
	Dir  string `query:"dir" maxLength:"1024" doc:"The folder to list (empty: the root)"`
	Q    string `query:"q" maxLength:"200" doc:"Files whose path contains this, anywhere in the dataset (instead of a folder's children)"`
	Sort string `query:"sort" enum:"name,size,createdAt," doc:"Same as sortBy: name, size or createdAt (folders always first)"`
}

type DeleteDatasetFileInput struct {
	ID   string `path:"id" format:"uuid"`
	Path string `query:"path" maxLength:"1024" doc:"A file, or a folder (everything under it goes); required"`
}

type RenameDatasetFileInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		From string `json:"from" maxLength:"1024" doc:"A file or a folder"`
		To   string `json:"to" maxLength:"1024" doc:"Its new path from the dataset's root"`
	}
}

// FilesChanged is what a file delete or rename touched.
type FilesChanged struct {
	Files int `json:"files" doc:"How many files were deleted or moved"`
}

type PreviewDatasetFileInput struct {
	ID       string `path:"id" format:"uuid"`
	FilePath string `path:"filePath" doc:"The file's path from the dataset's root, URL-encoded as one segment (a/b.png as a%2Fb.png)"`
}

type DownloadLinkInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *struct {
		Path string `json:"path,omitempty" maxLength:"1024" doc:"One file; left out: the whole dataset as a zip"`
	}
}

type DatasetDownloadInput struct {
	Ticket string `query:"ticket" required:"true" maxLength:"4096" doc:"From download-link"`
}

type DatasetTasksInput struct {
	ListParams
	ID string `path:"id" format:"uuid"`
}

type ShareDatasetInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Access      string   `json:"access,omitempty" enum:"private,team," doc:"Change the access too"`
		TenantCodes []string `json:"tenantCodes,omitempty" maxItems:"50" doc:"Companies to share with, read-only, once an admin approves"`
	}
}

type UnshareDatasetInput struct {
	ID      string `path:"id" format:"uuid"`
	ShareID string `path:"shareId" format:"uuid"`
}

// binaryResponse documents a 200 that is a file.
func binaryResponse(desc string, types ...string) map[string]*huma.Response {
	content := map[string]*huma.MediaType{}
	for _, t := range types {
		content[t] = &huma.MediaType{Schema: &huma.Schema{Type: "string", Format: "binary"}}
	}
	return map[string]*huma.Response{"200": {Description: desc, Content: content}}
}

func (h *datasetsHandler) register(api huma.API) {
	const tag = "datasets"
	bad, nf, forbidden, conflict := http.StatusBadRequest, http.StatusNotFound, http.StatusForbidden, http.StatusConflict
	const sorts = "; sortBy (or sort) name|sizeBytes|createdAt|fileCount, order asc|desc"
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets", "list-my-datasets", tag,
		"我的数据集: the company's datasets the caller may see (team ones, its own private ones; an owner sees all)"+sorts, roleCustomer, bad), h.mine)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/public", "list-public-datasets", tag,
		"公共数据集: the platform's public datasets"+sorts, roleCustomer, bad), h.public)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/shared", "list-shared-datasets", tag,
		"共享给我的: other companies' datasets shared with the caller's company and approved (read-only)"+sorts, roleCustomer, bad), h.shared)
	huma.Register(api, operation(http.MethodGet, "/api/customer/storage/quota", "get-my-storage-quota", tag,
		"The company's storage: used, held by uploads in progress, and its quota", roleCustomer), h.quota)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/{id}", "get-my-dataset", tag,
		"A dataset the caller may read, with canEdit", roleCustomer, nf), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/customer/datasets/{id}", "update-my-dataset", tag,
		"Edit name, type, description, tags and access (private|team): an owner or the uploader (audited)", roleCustomer, nf, bad, forbidden), h.edit)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/datasets/{id}", "delete-my-dataset", tag,
		"Delete a dataset: an owner or the uploader; 409 datasets.inUse while mounted or used by a queued or running task (audited)",
		roleCustomer, nf, forbidden, conflict), h.delete)
	h.registerReads(api, "/api/customer", "my-", roleCustomer)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/datasets/{id}/files", "delete-my-dataset-file", tag,
		"Delete a file, or a folder with everything under it (writers, available datasets; audited)", roleCustomer, nf, bad, forbidden, conflict),
		h.deleteFile)
	huma.Register(api, operation(http.MethodPost, "/api/customer/datasets/{id}/files/rename", "rename-my-dataset-file", tag,
		"Rename or move a file or a folder; 409 datasets.pathExists when something is already there (audited)", roleCustomer, nf, bad, forbidden, conflict),
		h.rename)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/{id}/tasks", "list-my-dataset-tasks", tag,
		"The company's tasks that used the dataset", roleCustomer, nf), h.tasks)
	huma.Register(api, operation(http.MethodGet, "/api/customer/datasets/{id}/shares", "list-my-dataset-shares", tag,
		"The companies the dataset is shared with (or asked to be), with the status", roleCustomer, nf), h.shares)
	huma.Register(api, operation(http.MethodPost, "/api/customer/datasets/{id}/share", "share-my-dataset", tag,
		"Set the access and/or share read-only with other companies by code (pending an admin's approval): an owner or the uploader (audited)",
		roleCustomer, nf, bad, forbidden), h.share)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/datasets/{id}/shares/{shareId}", "revoke-my-dataset-share", tag,
		"Revoke a share (audited)", roleCustomer, nf, forbidden), h.unshare)
	dop := operation(http.MethodGet, datasets.DownloadPath, "download-dataset", tag,
		"Redeem a download link: one file, or the whole dataset as a zip (stored). No sign-in: the ticket (5 minutes) is the credential; "+
			"401 datasets.ticketExpired, 403 datasets.ticketInvalid", nil, http.StatusUnauthorized, forbidden, nf, conflict, http.StatusServiceUnavailable)
	dop.Responses = binaryResponse("The file, or the zip", "application/octet-stream", "application/zip")
	huma.Register(api, dop, h.download)
}

// registerReads registers the reads admins and customers share: files,
// preview and download links (the admin's under /api/admin).
func (h *datasetsHandler) registerReads(api huma.API, prefix, idPrefix string, roles []string) {
	const tag = "datasets"
	bad, nf, conflict := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	who := "a dataset the caller may read"
	if prefix == "/api/admin" {
		who = "any dataset"
	}
	huma.Register(api, operation(http.MethodGet, prefix+"/datasets/{id}/files", "list-"+idPrefix+"dataset-files", tag,
		"The folders (name, path, size, file count) then files (name, path, size, md5) directly in dir, or with q the files whose path contains q; "+
			"sortBy (or sort) name|size|createdAt; of "+who, roles, nf, bad), h.files)
	pop := operation(http.MethodGet, prefix+"/datasets/{id}/preview/{filePath}", "preview-"+idPrefix+"dataset-file", tag,
		"Preview a file of "+who+": an image (png, jpg, gif, webp, bmp; at most 10 MiB) as itself, a text file's first 64 KiB as text/plain; "+
			"others 415 datasets.previewUnsupported", roles, nf, bad, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge)
	pop.Responses = binaryResponse("The image, or the text", "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "text/plain")
	huma.Register(api, pop, h.preview)
	huma.Register(api, operation(http.MethodPost, prefix+"/datasets/{id}/download-link", "create-"+idPrefix+"dataset-download-link", tag,
		"A link (valid 5 minutes, no sign-in needed) that downloads one file (path) or the whole dataset as a zip, of "+who, roles, nf, bad, conflict),
		h.downloadLink)
}

func (h *datasetsHandler) list(ctx context.Context, in *ListDatasetsInput, tab string) (*Resp[Page[DatasetItem]], error) {
	li, err := in.input(tab)
	if err != nil {
		return nil, err
	}
	list, total, err := h.s.datasets.List(ctx, li)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *datasetsHandler) mine(ctx context.Context, in *ListDatasetsInput) (*Resp[Page[DatasetItem]], error) {
	return h.list(ctx, in, store.DatasetTabMine)
}

func (h *datasetsHandler) public(ctx context.Context, in *ListDatasetsInput) (*Resp[Page[DatasetItem]], error) {
	return h.list(ctx, in, store.DatasetTabPublic)
}

func (h *datasetsHandler) shared(ctx context.Context, in *ListDatasetsInput) (*Resp[Page[DatasetItem]], error) {
	return h.list(ctx, in, store.DatasetTabShared)
}

func (h *datasetsHandler) quota(ctx context.Context, _ *struct{}) (*Resp[StorageUse], error) {
	u, err := h.s.datasets.Quota(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, u)
}

// item answers with a dataset, or the error.
func item(ctx context.Context) func(*datasets.Item, error) (*Resp[DatasetItem], error) {
	return func(d *datasets.Item, err error) (*Resp[DatasetItem], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, *d)
	}
}

func (h *datasetsHandler) get(ctx context.Context, in *DatasetIDInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.Get(ctx, in.ID))
}

func (h *datasetsHandler) edit(ctx context.Context, in *EditDatasetInput) (*Resp[DatasetItem], error) {
	return item(ctx)(h.s.datasets.Edit(ctx, in.ID, in.Body.input()))
}

func (h *datasetsHandler) delete(ctx context.Context, in *DatasetIDInput) (*Resp[Empty], error) {
	if err := h.s.datasets.Delete(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *datasetsHandler) files(ctx context.Context, in *DatasetFilesInput) (*Resp[Page[DatasetEntry]], error) {
	p := in.ListParams.store()
	if p.SortBy == "" {
		p.SortBy = in.Sort
	}
	list, total, err := h.s.datasets.Files(ctx, datasets.FilesInput{DatasetID: in.ID, Dir: in.Dir, Q: in.Q, Page: p})
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *datasetsHandler) deleteFile(ctx context.Context, in *DeleteDatasetFileInput) (*Resp[FilesChanged], error) {
	n, err := h.s.datasets.DeleteFile(ctx, in.ID, in.Path)
	if err != nil {
		return nil, err
	}
	return ok(ctx, FilesChanged{Files: n})
}

func (h *datasetsHandler) rename(ctx context.Context, in *RenameDatasetFileInput) (*Resp[FilesChanged], error) {
	n, err := h.s.datasets.Rename(ctx, in.ID, in.Body.From, in.Body.To)
	if err != nil {
		return nil, err
	}
	return ok(ctx, FilesChanged{Files: n})
}

func (h *datasetsHandler) preview(ctx context.Context, in *PreviewDatasetFileInput) (*huma.StreamResponse, error) {
	pv, err := h.s.datasets.Preview(ctx, in.ID, in.FilePath)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Code == datasets.CodePreviewUnsupported {
			body := newError(ctx, http.StatusBadRequest, "", err).(*ErrorBody)
			body.status, body.Code = http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType
			return nil, body
		}
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		defer pv.Body.Close()
		hc.SetHeader("Content-Type", pv.ContentType)
		hc.SetHeader("Content-Length", strconv.FormatInt(pv.Size, 10))
		hc.SetHeader("X-Content-Type-Options", "nosniff")
		hc.SetHeader("Content-Security-Policy", "default-src 'none'; sandbox")
		hc.SetHeader("Cache-Control", "private, no-store")
		if pv.Truncated {
			hc.SetHeader("X-Preview-Truncated", "true")
		}
		_, _ = io.Copy(hc.BodyWriter(), pv.Body)
	}}, nil
}

func (h *datasetsHandler) downloadLink(ctx context.Context, in *DownloadLinkInput) (*Resp[DownloadLink], error) {
	p := ""
	if in.Body != nil {
		p = in.Body.Path
	}
	l, err := h.s.datasets.DownloadLink(ctx, in.ID, p)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *l)
}

func (h *datasetsHandler) download(ctx context.Context, in *DatasetDownloadInput) (*huma.StreamResponse, error) {
	d, err := h.s.datasets.Redeem(ctx, in.Ticket)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", d.ContentType)
		hc.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
		hc.SetHeader("X-Content-Type-Options", "nosniff")
		hc.SetHeader("Cache-Control", "private, no-store")
		if d.Size >= 0 {
			hc.SetHeader("Content-Length", strconv.FormatInt(d.Size, 10))
		}
		_ = d.Write(hc.Context(), hc.BodyWriter())
	}}, nil
}

func (h *datasetsHandler) tasks(ctx context.Context, in *DatasetTasksInput) (*Resp[Page[DatasetTaskUse]], error) {
	list, total, err := h.s.datasets.Tasks(ctx, in.ID, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *datasetsHandler) shares(ctx context.Context, in *DatasetIDInput) (*Resp[[]DatasetShare], error) {
	list, err := h.s.datasets.Shares(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *datasetsHandler) share(ctx context.Context, in *ShareDatasetInput) (*Resp[[]DatasetShare], error) {
	list, err := h.s.datasets.Share(ctx, in.ID, datasets.ShareInput{Access: in.Body.Access, TenantCodes: in.Body.TenantCodes})
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *datasetsHandler) unshare(ctx context.Context, in *UnshareDatasetInput) (*Resp[Empty], error) {
	if err := h.s.datasets.Unshare(ctx, in.ID, in.ShareID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
