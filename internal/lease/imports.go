package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/machineimport"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// MachineImportDetail is an import with its rows.
type MachineImportDetail struct {
	store.MachineImport
	Rows []store.MachineImportRow `json:"rows" doc:"Every data row in file order; empty when includeRows=false"`
}

// UploadImportInput is a filled-in template (at most machineimport.MaxFileBytes).
type UploadImportInput struct {
	FileName string // as uploaded, already cleaned
	Data     []byte
}

func importNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundErr("machines.import.notFound", "no such import")
	}
	return err
}

// UploadImport checks a workbook and keeps it with its preview: every row
// validated (errors per cell, by code), nothing created until it is
// confirmed. A file refused as a whole answers a *machineimport.FileError.
func (s *Service) UploadImport(ctx context.Context, in UploadImportInput) (*MachineImportDetail, error) {
	if len(in.Data) > machineimport.MaxFileBytes {
		return nil, machineimport.TooLarge()
	}
	cfg := s.Config.Fleet.Config()
	parsed, err := machineimport.Parse(in.Data, cfg.Catalog)
	if err != nil {
		return nil, err
	}
	if s.Objects == nil || s.Secrets == nil {
		return nil, apperr.UnavailableErr("machines.import.notConfigured", "the object store or the secrets key is not configured")
	}
	taken, err := s.Store.MachineNamesTaken(ctx, parsed.Names())
	if err != nil {
		return nil, err
	}
	checked := machineimport.Check(parsed, cfg, taken)

	p := caller.From(ctx)
	id := uuid.NewString()
	imp := &store.MachineImport{ID: id, FileName: in.FileName, FileSize: int64(len(in.Data)), ObjectKey: id + ".xlsx",
		Sheet: parsed.Sheet, Total: len(checked), CreatedBy: &p.UserID, CreatedByName: p.Username}
	rows := make([]store.MachineImportRow, len(checked))
	for i, c := range checked {
		r := store.MachineImportRow{Row: c.Row, Name: c.Name, Values: c.Values, Generated: c.Generated, Status: c.Status,
			Errors: make([]store.ImportCellError, len(c.Errors)), Result: "pending"}
		if r.Generated == nil {
			r.Generated = []string{}
		}
		for j, e := range c.Errors {
			r.Errors[j] = store.ImportCellError{Field: e.Field, Code: e.Code, Params: e.Params, Message: e.Message, Cell: e.Cell}
		}
		switch c.Status {
		case machineimport.StatusValid:
			imp.Valid++
			spec := c.Spec
			if r.PasswordEnc, err = s.Secrets.Seal(spec.SSHPassword); err != nil {
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
	if err := s.Objects.EnsureBuckets(ctx, objstore.BucketImports); err != nil {
		return nil, err
	}
	if err := s.Objects.Put(ctx, objstore.BucketImports, imp.ObjectKey, bytes.NewReader(in.Data), int64(len(in.Data)), machineimport.ContentType); err != nil {
		return nil, err
	}
	if err := s.Store.CreateMachineImport(ctx, imp, rows); err != nil {
		_ = s.Objects.Remove(context.WithoutCancel(ctx), objstore.BucketImports, imp.ObjectKey)
		return nil, err
	}
	return &MachineImportDetail{MachineImport: *imp, Rows: rows}, nil
}

// Import is an import, with its rows when withRows.
func (s *Service) Import(ctx context.Context, id string, withRows bool) (*MachineImportDetail, error) {
	imp, err := s.Store.GetMachineImport(ctx, id)
	if err != nil {
		return nil, importNotFound(err)
	}
	d := &MachineImportDetail{MachineImport: *imp, Rows: []store.MachineImportRow{}}
	if withRows {
		if d.Rows, err = s.Store.MachineImportRows(ctx, id); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ConfirmImport starts the MachineImport workflow of a previewed import,
// audited; confirming a running or finished import again changes nothing.
func (s *Service) ConfirmImport(ctx context.Context, id string) (*MachineImportDetail, error) {
	if s.Temporal == nil {
		return nil, apperr.UnavailableErr("machines.import.noWorkflowService", "the workflow service is not configured")
	}
	p := caller.From(ctx)
	wfID := workflows.MachineImportWorkflowID(id)
	// The workflow starts while the import row is locked: its first activity
	// waits for this transaction, and a second confirmation waits and then
	// finds the import running.
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		imp, err := store.New(tx).LockMachineImport(ctx, id)
		if err != nil {
			return importNotFound(err)
		}
		switch imp.Status {
		case "running", "done":
			return nil
		case "failed":
			return apperr.ConflictErr("machines.import.failed",
				"this import failed ({error}); upload the file again: machines already created will be skipped as duplicates", apperr.P{"error": imp.Error})
		}
		if err := store.New(tx).ConfirmMachineImport(ctx, imp.ID, p.UserID, p.Username); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: "machine.import", TargetType: "machine_import", TargetID: imp.ID, Success: true,
			Detail: map[string]any{"phase": "confirmed", "file": imp.FileName, "total": imp.Total, "valid": imp.Valid,
				"invalid": imp.Invalid, "duplicates": imp.Duplicates, "workflowId": wfID}}); err != nil {
			return err
		}
		_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: s.Config.TemporalTaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
			workflows.MachineImport, workflows.MachineImportInput{ImportID: imp.ID})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			slog.ErrorContext(ctx, "unable to start machine import workflow", "import", imp.ID, "err", err)
			return errWorkflowDown()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Import(ctx, id, true)
}
