package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/store"
)

// MachineImports runs an Excel import of machines from the rows its preview
// saved in Postgres: each valid row already holds its normalized machine and
// its sealed SSH password, so these activities never see a plain password.
type MachineImports struct {
	Store *store.Store
}

// ImportKey is the idempotency key of the machine a row creates.
func ImportKey(importID string, row int) string { return fmt.Sprintf("%s:%d", importID, row) }

type BeginImportInput struct{ ImportID string }

type BeginImportResult struct {
	Status  string
	Pending int // rows without a result yet
}

// BeginMachineImport marks the import running (when the api has not yet) and counts what is left.
func (a *MachineImports) BeginMachineImport(ctx context.Context, in BeginImportInput) (BeginImportResult, error) {
	status, pending, err := a.Store.BeginMachineImport(ctx, in.ImportID)
	if errors.Is(err, store.ErrNotFound) {
		return BeginImportResult{}, temporal.NewNonRetryableApplicationError("machine import not found", "NotFound", err)
	}
	if err != nil {
		return BeginImportResult{}, fmt.Errorf("unable to begin machine import: %w", err)
	}
	return BeginImportResult{Status: status, Pending: pending}, nil
}

type ImportBatchInput struct {
	ImportID string
	Size     int
}

// ImportCounts are rows by outcome.
type ImportCounts struct {
	Processed, Created, Skipped, Invalid int
}

type ImportBatchResult struct {
	Batch     ImportCounts // this batch
	Import    ImportCounts // the whole import so far, from the database
	Remaining int          // rows without a result
}

// Reasons recorded for skipped rows (English; the console shows the row's
// coded errors, or for a valid row skipped the text of machines.import.nameExists).
const (
	ReasonDuplicate      = "duplicate: a machine with this name exists"
	ReasonDuplicateInRow = "duplicate: "
)

// ImportMachineBatch processes the next Size rows without a result in one
// transaction: invalid rows stay invalid, duplicates are skipped, valid rows
// become machines with the import key <import>:<row>. The import row is
// locked for the transaction and results are written with the machines, so
// a retried or concurrent attempt picks up where the last commit left off; a
// machine whose key exists already is reused, never created twice.
func (a *MachineImports) ImportMachineBatch(ctx context.Context, in ImportBatchInput) (ImportBatchResult, error) {
	var res ImportBatchResult
	if in.Size <= 0 {
		in.Size = 100
	}
	err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
		res = ImportBatchResult{}
		imp, err := store.New(tx).LockMachineImport(ctx, in.ImportID)
		if err != nil {
			return err
		}
		if imp.Status == "done" || imp.Status == "failed" {
			return temporal.NewNonRetryableApplicationError("machine import already finished: "+imp.Status, "Finished", nil)
		}
		rows, err := store.New(tx).PendingImportRows(ctx, in.ImportID, in.Size)
		if err != nil {
			return fmt.Errorf("unable to read import rows: %w", err)
		}
		var keys, names []string
		for _, r := range rows {
			if r.Status == "valid" && r.Spec != nil {
				keys = append(keys, ImportKey(in.ImportID, r.Row))
				names = append(names, r.Spec.Name)
			}
		}
		made, err := store.New(tx).MachinesByImportKeys(ctx, keys)
		if err != nil {
			return fmt.Errorf("unable to look up import keys: %w", err)
		}
		taken, err := store.New(tx).MachineNamesTaken(ctx, names)
		if err != nil {
			return fmt.Errorf("unable to look up machine names: %w", err)
		}
		results := make([]store.ImportRowResult, 0, len(rows))
		for i, r := range rows {
			out := store.ImportRowResult{Row: r.Row}
			key := ImportKey(in.ImportID, r.Row)
			switch {
			case r.Status == "invalid":
				out.Result, out.Reason = "invalid", invalidReason(r.Errors)
				res.Batch.Invalid++
			case r.Status == "duplicate":
				out.Result, out.Reason = "skipped", duplicateReason(r.Errors)
				res.Batch.Skipped++
			case made[key] != "": // an earlier attempt created it
				out.Result, out.MachineID = "created", made[key]
				res.Batch.Created++
			case r.Spec == nil || r.PasswordEnc == nil:
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf("row %d has no machine to create", r.Row), "BadRow", nil)
			case taken[strings.ToLower(r.Spec.Name)]:
				out.Result, out.Reason = "skipped", ReasonDuplicate
				res.Batch.Skipped++
			default:
				m := machineOf(r)
				if err := store.New(tx).CreateMachine(ctx, m, key); err != nil {
					// a name taken since the lookup: the retry sees it and skips the row
					return fmt.Errorf("unable to create machine of row %d: %w", r.Row, err)
				}
				taken[strings.ToLower(m.Name)] = true
				out.Result, out.MachineID = "created", m.ID
				res.Batch.Created++
			}
			results = append(results, out)
			if i%25 == 24 {
				activity.RecordHeartbeat(ctx, i+1)
			}
		}
		if err := store.New(tx).SetImportRowResults(ctx, in.ImportID, results); err != nil {
			return fmt.Errorf("unable to record import results: %w", err)
		}
		res.Batch.Processed = len(results)
		c := &res.Import
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE result IS NOT NULL), count(*) FILTER (WHERE result = 'created'),
			count(*) FILTER (WHERE result = 'skipped'), count(*) FILTER (WHERE result = 'invalid'), count(*) FILTER (WHERE result IS NULL)
			FROM machine_import_rows WHERE import_id = $1`, in.ImportID).Scan(&c.Processed, &c.Created, &c.Skipped, &c.Invalid, &res.Remaining); err != nil {
			return fmt.Errorf("unable to count import rows: %w", err)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return res, temporal.NewNonRetryableApplicationError("machine import not found", "NotFound", err)
	}
	if err != nil {
		return res, err
	}
	activity.RecordHeartbeat(ctx, res)
	return res, nil
}

func machineOf(r store.MachineImportRow) *store.Machine {
	s := r.Spec
	return &store.Machine{Name: s.Name, Region: s.Region, Room: s.Room, GPUModel: s.GPUModel, GPUMemoryGB: s.GPUMemoryGB,
		GPUCount: s.GPUCount, CUDAVersion: s.CUDAVersion, DriverVersion: s.DriverVersion, CPUModel: s.CPUModel, CPUCores: s.CPUCores,
		MemoryGB: s.MemoryGB, DiskGB: s.DiskGB, InternalIP: s.InternalIP, SSHHost: s.SSHHost, SSHPort: s.SSHPort,
		ContainerDomainPrefix: s.ContainerDomainPrefix, SSHUser: s.SSHUser, SSHPasswordEnc: r.PasswordEnc}
}

func invalidReason(errs []store.ImportCellError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		where := e.Field
		if e.Cell != "" {
			where = e.Cell + " " + e.Field
		}
		parts = append(parts, where+": "+e.Message)
	}
	return strings.Join(parts, "; ")
}

func duplicateReason(errs []store.ImportCellError) string {
	if len(errs) > 0 {
		return ReasonDuplicateInRow + errs[0].Message
	}
	return ReasonDuplicate
}

type FinishImportInput struct {
	ImportID string
	Failed   bool
	Error    string
}

type FinishImportResult struct {
	Status                                      string
	Total, Processed, Created, Skipped, Invalid int
}

// FinishMachineImport closes the import as done or failed and records it in
// the audit log on behalf of the admin who confirmed it; repeating it changes nothing.
func (a *MachineImports) FinishMachineImport(ctx context.Context, in FinishImportInput) (FinishImportResult, error) {
	var res FinishImportResult
	err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := store.New(tx).LockMachineImport(ctx, in.ImportID); err != nil {
			return err
		}
		status := "done"
		if in.Failed {
			status = "failed"
		}
		changed, err := store.New(tx).FinishMachineImport(ctx, in.ImportID, status, in.Error)
		if err != nil {
			return err
		}
		imp, err := store.New(tx).LockMachineImport(ctx, in.ImportID)
		if err != nil {
			return err
		}
		res = FinishImportResult{Status: imp.Status, Total: imp.Total, Processed: imp.Processed, Created: imp.Created, Skipped: imp.Skipped, Invalid: imp.Invalid}
		if !changed {
			return nil
		}
		entry := &store.AuditLog{Action: "machine.import", TargetType: "machine_import", TargetID: imp.ID, Success: !in.Failed,
			ActorID: imp.ConfirmedBy, ActorName: imp.ConfirmedByName, ActorRole: "admin",
			Detail: map[string]any{"phase": status, "file": imp.FileName, "total": imp.Total, "created": imp.Created,
				"skipped": imp.Skipped, "invalid": imp.Invalid, "error": in.Error}}
		if imp.ConfirmedBy == nil {
			entry.ActorName, entry.ActorRole = "system", ""
		}
		return store.New(tx).InsertAudit(ctx, entry)
	})
	if errors.Is(err, store.ErrNotFound) {
		return res, temporal.NewNonRetryableApplicationError("machine import not found", "NotFound", err)
	}
	if err != nil {
		return res, fmt.Errorf("unable to finish machine import: %w", err)
	}
	return res, nil
}
