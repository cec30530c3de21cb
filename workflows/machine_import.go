package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
)

// MachineImportInput names the previewed import; its rows are in Postgres.
type MachineImportInput struct {
	ImportID string
}

type MachineImportResult struct {
	Status                                      string
	Total, Processed, Created, Skipped, Invalid int
	Batches                                     int
}

// MachineImportProgress is the answer of the progress query.
type MachineImportProgress struct {
	Processed, Created, Skipped, Invalid int
	Pending                              int
	Batches                              int
}

const (
	// MachineImportProgressQuery answers with MachineImportProgress.
	MachineImportProgressQuery = "progress"
	// MachineImportBatchSize rows per batch, one transaction each.
	MachineImportBatchSize = 100
)

// MachineImportWorkflowID makes a repeated confirmation of the same import a no-op.
func MachineImportWorkflowID(importID string) string { return "machine-import:" + importID }

// MachineImport creates the machines of a confirmed Excel import in batches
// of MachineImportBatchSize. Each batch is one activity and one transaction
// that writes the machines, the per-row results and the counters together,
// so the console's polling sees progress batch by batch. Machines carry the
// import key <import>:<row>: a retried batch or a re-run never creates one
// twice. The import ends done, or failed with the reason.
func MachineImport(ctx workflow.Context, in MachineImportInput) (MachineImportResult, error) {
	w := &machineImport{in: in}
	if err := w.setup(ctx); err != nil {
		return MachineImportResult{}, err
	}
	return w.run(ctx)
}

type machineImport struct {
	in       MachineImportInput
	progress MachineImportProgress
	acts     *activities.MachineImports
}

func (w *machineImport) setup(ctx workflow.Context) error {
	return workflow.SetQueryHandler(ctx, MachineImportProgressQuery, func() (MachineImportProgress, error) {
		return w.progress, nil
	})
}

func (w *machineImport) run(ctx workflow.Context) (MachineImportResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 8, NonRetryableErrorTypes: []string{"NotFound", "Finished", "BadRow"}},
	})
	var begun activities.BeginImportResult
	if err := workflow.ExecuteActivity(ctx, w.acts.BeginMachineImport, activities.BeginImportInput{ImportID: w.in.ImportID}).Get(ctx, &begun); err != nil {
		return w.fail(ctx, fmt.Errorf("unable to begin machine import: %w", err))
	}
	w.progress.Pending = begun.Pending
	// Every batch settles at least one row, so this bounds the loop even if rows were added behind our back.
	limit := begun.Pending/MachineImportBatchSize + 2
	for w.progress.Pending > 0 {
		if w.progress.Batches >= limit {
			return w.fail(ctx, errors.New("the import did not finish within the expected number of batches"))
		}
		var b activities.ImportBatchResult
		err := workflow.ExecuteActivity(ctx, w.acts.ImportMachineBatch,
			activities.ImportBatchInput{ImportID: w.in.ImportID, Size: MachineImportBatchSize}).Get(ctx, &b)
		if err != nil {
			return w.fail(ctx, fmt.Errorf("unable to import batch %d: %w", w.progress.Batches+1, err))
		}
		// totals come from the database, so a retried batch whose first reply was lost still counts once
		w.progress.Batches++
		w.progress.Processed, w.progress.Created = b.Import.Processed, b.Import.Created
		w.progress.Skipped, w.progress.Invalid = b.Import.Skipped, b.Import.Invalid
		w.progress.Pending = b.Remaining
		if b.Batch.Processed == 0 && b.Remaining > 0 {
			return w.fail(ctx, errors.New("a batch made no progress"))
		}
	}
	var fin activities.FinishImportResult
	if err := workflow.ExecuteActivity(ctx, w.acts.FinishMachineImport, activities.FinishImportInput{ImportID: w.in.ImportID}).Get(ctx, &fin); err != nil {
		return MachineImportResult{}, fmt.Errorf("unable to finish machine import: %w", err)
	}
	return w.result(fin), nil
}

// fail records the reason on the import, then fails the workflow with it.
func (w *machineImport) fail(ctx workflow.Context, cause error) (MachineImportResult, error) {
	var fin activities.FinishImportResult
	if err := workflow.ExecuteActivity(ctx, w.acts.FinishMachineImport,
		activities.FinishImportInput{ImportID: w.in.ImportID, Failed: true, Error: importFailureReason(cause)}).Get(ctx, &fin); err != nil {
		workflow.GetLogger(ctx).Error("unable to record the failure of the machine import", "err", err)
	}
	return w.result(fin), cause
}

func (w *machineImport) result(fin activities.FinishImportResult) MachineImportResult {
	return MachineImportResult{Status: fin.Status, Total: fin.Total, Processed: fin.Processed, Created: fin.Created,
		Skipped: fin.Skipped, Invalid: fin.Invalid, Batches: w.progress.Batches}
}

// importFailureReason is the innermost message of an activity failure, which is what the admin can act on.
func importFailureReason(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return app.Message()
	}
	return err.Error()
}
