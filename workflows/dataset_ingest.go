package workflows

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/extract"
)

// Sources of a DatasetIngest.
const (
	IngestUpload  = "upload"
	IngestURL     = "url"
	IngestMachine = "machine"
)

// DatasetIngestInput starts the ingest of a dataset (docs/datasets.md),
// workflow ID DatasetIngestID(datasetID).
type DatasetIngestInput struct {
	DatasetID string
	Source    string // IngestUpload, IngestURL or IngestMachine
	URL       string // IngestURL
	MachineID string // IngestMachine
	Path      string // IngestMachine: the path on the machine
}

// DatasetIngestID is the workflow ID of a dataset's ingest.
func DatasetIngestID(datasetID string) string { return "dataset-ingest:" + datasetID }

// DatasetImportFromMachineActivity is the mounts work's activity (by name):
// the dataset_import host command, a tar of the machine's path stored in
// the datasets bucket.
const DatasetImportFromMachineActivity = "DatasetImportFromMachine"

// ReasonPrefix prefixes the reasons a dataset failed (its status_reason).
const ReasonPrefix = "uploads.reason."

// DatasetIngest makes a dataset available (docs/datasets.md): fetch (URL
// or machine), verify the uploaded files' MD5s, extract the archives,
// then record the end in one transaction. Any refusal or error fails the
// dataset with a uploads.reason.* code and removes what it had stored.
func DatasetIngest(ctx workflow.Context, in DatasetIngestInput) error {
	var a *activities.Datasets
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{activities.ErrTypeDatasetRefused}}})
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 20}})

	err := func() error {
		var prep activities.DatasetPrepared
		if err := workflow.ExecuteActivity(long, a.DatasetVerify, in.DatasetID).Get(ctx, &prep); err != nil {
			return err
		}
		archives := prep.Archives
		format := ""
		switch in.Source {
		case IngestURL:
			var fetched []activities.DatasetArchive
			if err := workflow.ExecuteActivity(long, a.DatasetFetchURL, activities.DatasetFetchURLInput{DatasetID: in.DatasetID, URL: in.URL}).
				Get(ctx, &fetched); err != nil {
				return err
			}
			archives = append(archives, fetched...)
		case IngestMachine:
			mctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 12 * time.Hour,
				RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3,
					NonRetryableErrorTypes: []string{activities.ErrTypeDatasetRefused}}})
			var res activities.DatasetMachineImportResult
			if err := workflow.ExecuteActivity(mctx, DatasetImportFromMachineActivity, activities.DatasetMachineImportInput{
				DatasetID: in.DatasetID, TenantID: prep.TenantID, MachineID: in.MachineID, Path: in.Path}).Get(ctx, &res); err != nil {
				return machineError(err)
			}
			archives = append(archives, activities.DatasetArchive{ObjectKey: res.ObjectKey, Name: "machine.tar"})
			format = string(extract.Tar)
		}
		for _, ar := range archives {
			f := ""
			if ar.Name == "machine.tar" {
				f = format
			}
			if err := workflow.ExecuteActivity(long, a.DatasetExtract, activities.DatasetExtractInput{DatasetID: in.DatasetID, Archive: ar, Format: f}).
				Get(ctx, nil); err != nil {
				return err
			}
		}
		return workflow.ExecuteActivity(short, a.DatasetFinalize, in.DatasetID).Get(ctx, nil)
	}()
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == activities.ErrTypeEnded || appErr.Type() == activities.ErrTypeNotFound) {
		return nil // deleted or ended meanwhile: nothing to record
	}
	reason := activities.DatasetRefusal{Reason: activities.IngestReasonInternal, Params: map[string]any{}}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeDatasetRefused && appErr.HasDetails() {
		_ = appErr.Details(&reason)
	}
	workflow.GetLogger(ctx).Warn("dataset ingest failed", "dataset", in.DatasetID, "reason", reason.Reason, "err", err)
	dctx, _ := workflow.NewDisconnectedContext(short)
	code := reason.Reason
	if !strings.Contains(code, ".") {
		code = ReasonPrefix + code
	}
	return workflow.ExecuteActivity(dctx, a.DatasetFail, activities.DatasetFailInput{DatasetID: in.DatasetID, Reason: code,
		Params: reason.Params}).Get(dctx, nil)
}

// machineError keeps a refusal from the machine import (its own reason)
// and makes anything else the machineImport reason.
func machineError(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeDatasetRefused {
		return err
	}
	return temporal.NewNonRetryableApplicationError("the machine import failed", activities.ErrTypeDatasetRefused, err,
		activities.DatasetRefusal{Reason: activities.IngestReasonMachineImport, Params: map[string]any{}})
}
