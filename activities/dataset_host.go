package activities

// DatasetMachineImportInput fetches a path of a leased machine into the
// object store for a dataset's ingest (the dataset_import host command):
// activity "DatasetImportFromMachine" of DatasetHost.
type DatasetMachineImportInput struct {
	DatasetID string
	TenantID  string
	MachineID string
	Path      string
}

// DatasetMachineImportResult is where the host's tar of the path was stored
// (bucket datasets) and its size; the ingest extracts it as a tar.
type DatasetMachineImportResult struct {
	ObjectKey string
	Size      int64
}
