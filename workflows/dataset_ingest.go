package workflows

import (
	"errors"

	"go.temporal.io/sdk/workflow"
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

// DatasetIngest is filled in by the uploads work (docs/datasets.md).
func DatasetIngest(ctx workflow.Context, in DatasetIngestInput) error {
	return errors.New("DatasetIngest is not built yet")
}
