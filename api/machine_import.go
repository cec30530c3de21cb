package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/lease"
	"github.com/remotegpu/remotegpu/internal/machineimport"
	"github.com/remotegpu/remotegpu/store"
)

// machineImportHandler is the Excel import of machines (requirements
// 2.1.2.3): template, upload with a per-cell preview, confirmation that
// starts the MachineImport workflow, progress and history. The rules are
// lease.Service's.
type machineImportHandler struct{ s *Server }

// MachineImportDetail is an import with its rows.
type MachineImportDetail struct {
	store.MachineImport
	Rows []MachineImportRow `json:"rows" doc:"Every data row in file order; empty when includeRows=false"`
}

// MachineImportRow is one data row as the API answers it: its preview and,
// once processed, its result; the row's sealed password and normalized
// machine stay on the server.
type MachineImportRow struct {
	Row       int                     `json:"row" doc:"Excel row number"`
	Name      string                  `json:"name"`
	Values    map[string]string       `json:"values" doc:"Field → value as it will be created (with generated values) or, for invalid rows, as typed; passwords masked"`
	Generated []string                `json:"generated" doc:"Fields generated because the cell was empty"`
	Status    string                  `json:"status" enum:"valid,invalid,duplicate" doc:"The preview's verdict"`
	Errors    []store.ImportCellError `json:"errors"`
	Result    string                  `json:"result" enum:"pending,created,skipped,invalid" doc:"pending until the import processes the row"`
	Reason    string                  `json:"reason" doc:"Why the row was skipped or is invalid"`
	MachineID *string                 `json:"machineId,omitempty" format:"uuid"`
}

func importOut(d *lease.MachineImportDetail) MachineImportDetail {
	out := MachineImportDetail{MachineImport: d.MachineImport, Rows: make([]MachineImportRow, len(d.Rows))}
	for i, r := range d.Rows {
		out.Rows[i] = MachineImportRow{Row: r.Row, Name: r.Name, Values: r.Values, Generated: r.Generated, Status: r.Status,
			Errors: r.Errors, Result: r.Result, Reason: r.Reason, MachineID: r.MachineID}
	}
	return out
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
		"Upload a filled-in template: stores the file and answers with every row validated (errors per cell, each with a code); nothing is created until it is confirmed. "+
			"A file refused as a whole answers 413 (over 10 MB) or 400 with data.reason machines.import.<problem> and data.params "+
			"{kind (too_large, not_xlsx, encrypted, corrupt, empty, missing_columns, duplicate_columns, formulas, too_many_rows), cells, columns, and the message's figures}.",
		roleAdmin, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusBadRequest, http.StatusServiceUnavailable)
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
// is the message's code (machines.import.<problem>), data.params its figures
// with kind (the Reason: too_large, not_xlsx, encrypted, corrupt, empty,
// missing_columns, duplicate_columns, formulas, too_many_rows), the cells
// with a formula and the missing or repeated columns.
func fileProblem(ctx context.Context, fe *machineimport.FileError) error {
	status := http.StatusBadRequest
	if fe.Reason == machineimport.ReasonTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	params := map[string]any{"kind": fe.Reason, "cells": fe.Cells, "columns": fe.Columns}
	for k, v := range fe.Params {
		params[k] = v
	}
	body := newError(ctx, status, fe.Message).(*ErrorBody)
	body.Data = &ErrorData{Reason: fe.Code, Params: params,
		Errors: []FieldError{{Location: "body.file", Message: fe.Message, Reason: fe.Code, Params: fe.Params}}}
	return body
}

func (h *machineImportHandler) upload(ctx context.Context, in *ImportMachinesInput) (*Resp[MachineImportDetail], error) {
	f := in.RawBody.Data().File
	if f.Size > machineimport.MaxFileBytes {
		return nil, fileProblem(ctx, machineimport.TooLarge())
	}
	data, err := io.ReadAll(io.LimitReader(f, machineimport.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unable to read upload: %w", err)
	}
	d, err := h.s.lease.UploadImport(ctx, lease.UploadImportInput{FileName: uploadName(f.Filename), Data: data})
	var fe *machineimport.FileError
	if errors.As(err, &fe) {
		return nil, fileProblem(ctx, fe)
	}
	if err != nil {
		return nil, err
	}
	return ok(ctx, importOut(d))
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

func (h *machineImportHandler) get(ctx context.Context, in *GetMachineImportInput) (*Resp[MachineImportDetail], error) {
	d, err := h.s.lease.Import(ctx, in.ID, in.IncludeRows)
	if err != nil {
		return nil, err
	}
	return ok(ctx, importOut(d))
}

func (h *machineImportHandler) confirm(ctx context.Context, in *MachineImportIDInput) (*Resp[MachineImportDetail], error) {
	d, err := h.s.lease.ConfirmImport(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, importOut(d))
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
		return nil, apperr.InvalidErr("machines.import.badStatus", "status must be previewed, running, done or failed").AtField("query.status")
	}
	list, total, err := h.s.Store.ListMachineImports(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
