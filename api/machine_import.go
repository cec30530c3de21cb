package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/machineimport"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// machineImportHandler is the Excel import of machines (requirements
// 2.1.2.3): template, upload with a per-cell preview, confirmation that
// starts the MachineImport workflow, progress and history.
type machineImportHandler struct{ s *Server }

// MachineImportDetail is an import with its rows.
type MachineImportDetail struct {
	store.MachineImport
	Rows []store.MachineImportRow `json:"rows" doc:"Every data row in file order; empty when includeRows=false"`
}

type MachineImportTemplateOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               []byte
}

type ImportMachinesInput struct {
	RawBody huma.MultipartFormFiles[struct {
		File huma.FormFile `form:"file" contentType:"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/octet-stream" required:"true" doc:"The filled-in template: .xlsx, at most 10 MB and 5,000 rows, no formulas"`
	}]
}

type MachineImportIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type GetMachineImportInput struct {
	ID          string `path:"id" format:"uuid"`
	IncludeRows bool   `query:"includeRows" default:"true" doc:"false answers only the status and counters (for polling)"`
}

type ListMachineImportsInput struct {
	ListParams
	Status  string `query:"status" enum:"previewed,running,done,failed,"`
	Keyword string `query:"keyword" maxLength:"100" doc:"Search file name and uploader"`
}

const (
	machineImportTemplateName = "machine-import-template.xlsx"
	// maxImportUploadBytes caps the multipart body (uploadLimits): the file plus the form's overhead.
	maxImportUploadBytes = machineimport.MaxFileBytes + 64<<10
)

func (h *machineImportHandler) register(api huma.API) {
	const tag = "machine-imports"
	tpl := operation(http.MethodGet, "/api/admin/machines/import/template", "download-machine-import-template", tag,
		"The Excel template for importing machines (.xlsx with drop-downs and a notes sheet)", roleAdmin)
	tpl.Responses = map[string]*huma.Response{"200": {Description: "The workbook", Content: map[string]*huma.MediaType{
		machineimport.ContentType: {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}}
	huma.Register(api, tpl, h.template)

	up := operation(http.MethodPost, "/api/admin/machines/import", "import-machines", tag,
		"Upload a filled-in template: stores the file and answers with every row validated (errors per cell); nothing is created until it is confirmed. "+
			"A file refused as a whole answers 413 (over 10 MB) or 422 with data {errors, reason, cells, columns}.",
		roleAdmin, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)
	up.DefaultStatus = http.StatusCreated
	up.MaxBodyBytes = maxImportUploadBytes
	huma.Register(api, up, h.upload)

	confirm := operation(http.MethodPost, "/api/admin/machines/import/{id}/confirm", "confirm-machine-import", tag,
		"Confirm a previewed import: starts the MachineImport workflow. Confirming a running or finished import again changes nothing.",
		roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	confirm.DefaultStatus = http.StatusAccepted
	huma.Register(api, confirm, h.confirm)

	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/import/{id}", "get-machine-import", tag,
		"An import: status, counters and per-row results (poll it while it runs)", roleAdmin, http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/imports", "list-machine-imports", tag,
		"Import history, newest first; sortBy createdAt|fileName|status|total|created|finishedAt", roleAdmin, http.StatusBadRequest), h.list)
}

func (h *machineImportHandler) template(ctx context.Context, _ *struct{}) (*MachineImportTemplateOutput, error) {
	data, err := machineimport.Template(h.s.Config.Fleet.Config())
	if err != nil {
		return nil, fmt.Errorf("unable to build the import template: %w", err)
	}
	return &MachineImportTemplateOutput{ContentType: machineimport.ContentType, CacheControl: "no-store",
		ContentDisposition: `attachment; filename="` + machineImportTemplateName + `"; filename*=UTF-8''` + machineImportTemplateName, Body: data}, nil
}

// fileProblem answers a refused file: 413 when too large, else 400; data.reason
// is machineImport.<reason> (too_large, not_xlsx, encrypted, corrupt, empty,
// missing_columns, duplicate_columns, formulas, too_many_rows), data.params
// names the cells with a formula or the missing or repeated columns.
func fileProblem(ctx context.Context, fe *machineimport.FileError) error {
	status := http.StatusUnprocessableEntity
	if fe.Reason == machineimport.ReasonTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	body := newError(ctx, status, fe.Message).(*ErrorBody)
	body.Data = &ErrorData{Reason: "machineImport." + fe.Reason, Params: map[string]any{"cells": fe.Cells, "columns": fe.Columns},
		Errors: []FieldError{{Location: "body.file", Message: fe.Message, Reason: "machineImport." + fe.Reason}}}
	return body
}

func (h *machineImportHandler) upload(ctx context.Context, in *ImportMachinesInput) (*Resp[MachineImportDetail], error) {
	f := in.RawBody.Data().File
	tooLarge := &machineimport.FileError{Reason: machineimport.ReasonTooLarge,
		Message: fmt.Sprintf("文件超过 %d MB / the file is larger than %d MB", machineimport.MaxFileBytes>>20, machineimport.MaxFileBytes>>20)}
	if f.Size > machineimport.MaxFileBytes {
		return nil, fileProblem(ctx, tooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(f, machineimport.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unable to read upload: %w", err)
	}
	if len(data) > machineimport.MaxFileBytes {
		return nil, fileProblem(ctx, tooLarge)
	}
	cfg := h.s.Config.Fleet.Config()
	parsed, err := machineimport.Parse(data, cfg.Catalog)
	var fe *machineimport.FileError
	if errors.As(err, &fe) {
		return nil, fileProblem(ctx, fe)
	}
	if err != nil {
		return nil, err
	}
	if h.s.Objects == nil || h.s.Secrets == nil {
		return nil, apperr.Newf(apperr.Unavailable, "对象存储或密钥未配置 / the object store or the secrets key is not configured")
	}
	taken, err := h.s.Store.MachineNamesTaken(ctx, parsed.Names())
	if err != nil {
		return nil, err
	}
	checked := machineimport.Check(parsed, cfg, taken)

	p := principal(ctx)
	id := uuid.NewString()
	imp := &store.MachineImport{ID: id, FileName: uploadName(f.Filename), FileSize: int64(len(data)), ObjectKey: id + ".xlsx",
		Sheet: parsed.Sheet, Total: len(checked), CreatedBy: &p.UserID, CreatedByName: p.Username}
	rows := make([]store.MachineImportRow, len(checked))
	for i, c := range checked {
		r := store.MachineImportRow{Row: c.Row, Name: c.Name, Values: c.Values, Generated: c.Generated, Status: c.Status,
			Errors: make([]store.ImportCellError, len(c.Errors)), Result: "pending"}
		if r.Generated == nil {
			r.Generated = []string{}
		}
		for j, e := range c.Errors {
			r.Errors[j] = store.ImportCellError{Field: e.Field, Message: e.Message, Cell: e.Cell}
		}
		switch c.Status {
		case machineimport.StatusValid:
			imp.Valid++
			spec := c.Spec
			if r.PasswordEnc, err = h.s.Secrets.Seal(spec.SSHPassword); err != nil {
				return nil, fmt.Errorf("unable to seal a password: %w", err)
			}
			spec.SSHPassword = ""
			r.Spec = &spec
		case machineimport.StatusInvalid:
			imp.Invalid++
		default:
			imp.Duplicates++
		}
		rows[i] = r
	}
	// the file is kept as uploaded, so nothing is lost whatever happens next
	if err := h.s.Objects.EnsureBuckets(ctx, objstore.BucketImports); err != nil {
		return nil, err
	}
	if err := h.s.Objects.Put(ctx, objstore.BucketImports, imp.ObjectKey, bytes.NewReader(data), int64(len(data)), machineimport.ContentType); err != nil {
		return nil, err
	}
	if err := h.s.Store.CreateMachineImport(ctx, imp, rows); err != nil {
		_ = h.s.Objects.Remove(context.WithoutCancel(ctx), objstore.BucketImports, imp.ObjectKey)
		return nil, err
	}
	return ok(ctx, MachineImportDetail{MachineImport: *imp, Rows: rows})
}

// uploadName keeps the base name of the uploaded file, printable and at most 200 characters.
func uploadName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == "" {
		name = "import.xlsx"
	}
	for utf8.RuneCountInString(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func (h *machineImportHandler) detail(ctx context.Context, id string, withRows bool) (*Resp[MachineImportDetail], error) {
	imp, err := h.s.Store.GetMachineImport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundf("导入记录不存在 / no such import")
	}
	if err != nil {
		return nil, err
	}
	d := MachineImportDetail{MachineImport: *imp, Rows: []store.MachineImportRow{}}
	if withRows {
		if d.Rows, err = h.s.Store.MachineImportRows(ctx, id); err != nil {
			return nil, err
		}
	}
	return ok(ctx, d)
}

func (h *machineImportHandler) get(ctx context.Context, in *GetMachineImportInput) (*Resp[MachineImportDetail], error) {
	return h.detail(ctx, in.ID, in.IncludeRows)
}

func (h *machineImportHandler) confirm(ctx context.Context, in *MachineImportIDInput) (*Resp[MachineImportDetail], error) {
	if h.s.Temporal == nil {
		return nil, apperr.Newf(apperr.Unavailable, "工作流服务未配置 / the workflow service is not configured")
	}
	p := principal(ctx)
	wfID := workflows.MachineImportWorkflowID(in.ID)
	// The workflow starts while the import row is locked: its first activity
	// waits for this transaction, and a second confirmation waits and then
	// finds the import running.
	err := h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		imp, err := store.LockMachineImport(ctx, tx, in.ID)
		if errors.Is(err, store.ErrNotFound) {
			return apperr.NotFoundf("导入记录不存在 / no such import")
		}
		if err != nil {
			return err
		}
		switch imp.Status {
		case "running", "done":
			return nil
		case "failed":
			return apperr.Conflictf("该导入已失败（%s），请重新上传文件；已创建的机器会作为重复跳过 / this import failed (%s); upload the file again: machines already created will be skipped as duplicates",
				imp.Error, imp.Error)
		}
		if err := store.ConfirmMachineImport(ctx, tx, imp.ID, p.UserID, p.Username); err != nil {
			return err
		}
		if err := h.s.audit(ctx, tx, auditEntry{Action: "machine.import", TargetType: "machine_import", TargetID: imp.ID, Success: true,
			Detail: map[string]any{"phase": "confirmed", "file": imp.FileName, "total": imp.Total, "valid": imp.Valid,
				"invalid": imp.Invalid, "duplicates": imp.Duplicates, "workflowId": wfID}}); err != nil {
			return err
		}
		_, err = h.s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: h.s.Config.TemporalTaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
			workflows.MachineImport, workflows.MachineImportInput{ImportID: imp.ID})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			slog.ErrorContext(ctx, "unable to start machine import workflow", "import", imp.ID, "err", err)
			return apperr.Newf(apperr.Unavailable, "导入服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h.detail(ctx, in.ID, true)
}

func (h *machineImportHandler) list(ctx context.Context, in *ListMachineImportsInput) (*Resp[Page[store.MachineImport]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.MachineImportFilter{Status: pick(in.Status, f, "status"), Keyword: pick(in.Keyword, f, "keyword")}
	switch filter.Status {
	case "", "previewed", "running", "done", "failed":
	default:
		return nil, apperr.Invalidf("status must be previewed, running, done or failed").AtField("query.status")
	}
	list, total, err := h.s.Store.ListMachineImports(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
