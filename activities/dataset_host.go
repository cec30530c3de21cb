package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

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

// DatasetHost are the host activities of datasets (docs/datasets.md):
// mounts, unmounts and machine imports through the host channel, and the
// control-plane records of the DatasetMount workflow.
type DatasetHost struct {
	Store   *store.Store
	Issuer  *hostchan.Issuer
	Objects *objstore.Store
	Config  config.Datasets
}

// DatasetImportFromMachine has the machine's agent stream a tar of the
// path to the api, which stores it at imports/<dataset>/<command>.tar in
// the datasets bucket (bounded by the company's free quota and
// DATASET_IMPORT_MAX); the host's answer is where it went. The api checks
// that answer against what it stored before the workflow gets it.
func (h *DatasetHost) DatasetImportFromMachine(ctx context.Context, in DatasetMachineImportInput) (DatasetMachineImportResult, error) {
	if in.DatasetID == "" || in.MachineID == "" || in.Path == "" {
		return DatasetMachineImportResult{}, temporal.NewNonRetryableApplicationError("dataset, machine and path are required", "InvalidArgs", nil)
	}
	r, err := hostResult[agentproto.DatasetImportResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID,
		Kind: agentproto.KindDatasetImport, Args: agentproto.DatasetImportArgs{DatasetID: in.DatasetID, Path: in.Path}}))
	if err != nil {
		return DatasetMachineImportResult{}, err
	}
	// hostchan accepted only the key derived from the command; checked
	// again here (one file right under the dataset's imports), and the size
	// is the stored object's, not the host's word
	name, ok := strings.CutPrefix(r.ObjectKey, "imports/"+in.DatasetID+"/")
	if !ok || name == "" || strings.Contains(name, "/") || strings.Contains(name, "..") {
		return DatasetMachineImportResult{}, temporal.NewNonRetryableApplicationError("the host named another object than the import's", "ImportMismatch", nil)
	}
	size, err := h.Objects.Stat(ctx, objstore.BucketDatasets, r.ObjectKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return DatasetMachineImportResult{}, temporal.NewNonRetryableApplicationError("the host reported an import the api never stored", "ImportMismatch", nil)
	}
	if err != nil {
		return DatasetMachineImportResult{}, err
	}
	return DatasetMachineImportResult{ObjectKey: r.ObjectKey, Size: size}, nil
}

type DatasetMountHostInput struct {
	MountID string
}

// DatasetMountHost has the mount's machine make (or sync) its copy.
func (h *DatasetHost) DatasetMountHost(ctx context.Context, in DatasetMountHostInput) (agentproto.DatasetMountResult, error) {
	m, err := h.mount(ctx, in.MountID)
	if err != nil {
		return agentproto.DatasetMountResult{}, err
	}
	return hostResult[agentproto.DatasetMountResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.MachineID, Kind: agentproto.KindDatasetMount,
		Serial: mountSerial(m.ID), Args: agentproto.DatasetMountArgs{MountID: m.ID, DatasetID: m.DatasetID, TenantID: m.TenantID, Path: m.Path}}))
}

// DatasetUnmountHost has the mount's machine remove its copy (only when
// the marker there names the mount).
func (h *DatasetHost) DatasetUnmountHost(ctx context.Context, in DatasetMountHostInput) (agentproto.DatasetUnmountResult, error) {
	m, err := h.mount(ctx, in.MountID)
	if err != nil {
		return agentproto.DatasetUnmountResult{}, err
	}
	return hostResult[agentproto.DatasetUnmountResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.MachineID, Kind: agentproto.KindDatasetUnmount,
		Serial: mountSerial(m.ID), Args: agentproto.DatasetUnmountArgs{MountID: m.ID, Path: m.Path}}))
}

// mountSerial: a mount's commands run one after another on the host, so an
// unmount never races the copy it follows (a cancelled one included).
func mountSerial(mountID string) string { return "dataset-mount:" + mountID }

type DatasetMountRecordInput struct {
	MountID string
	Status  string
	Reason  string
	Params  map[string]any
	// From: the statuses it may leave (none: any).
	From []string
	// Copied (mounted): the host's copy, recorded as the mount's final progress.
	Copied *agentproto.DatasetMountResult
}

// DatasetMountRecord records where a mount is; false when it had left the
// statuses of From (e.g. the lease ended meanwhile).
func (h *DatasetHost) DatasetMountRecord(ctx context.Context, in DatasetMountRecordInput) (bool, error) {
	if c := in.Copied; c != nil {
		m, err := h.mount(ctx, in.MountID)
		if err != nil {
			return false, err
		}
		if err := h.Store.SetMountProgress(ctx, m.MachineID, m.ID, store.MountProgress{FilesDone: c.Files, FilesTotal: c.Files,
			BytesDone: c.Bytes, BytesTotal: c.Bytes}); err != nil {
			return false, fmt.Errorf("unable to record the mount's progress: %w", err)
		}
	}
	ok, err := h.Store.SetDatasetMountStatus(ctx, in.MountID, in.Status, in.Reason, in.Params, in.From...)
	if err != nil {
		return false, fmt.Errorf("unable to record the mount's status: %w", err)
	}
	return ok, nil
}

// DatasetMountStatus is the mount's status now.
func (h *DatasetHost) DatasetMountStatus(ctx context.Context, in DatasetMountHostInput) (string, error) {
	m, err := h.mount(ctx, in.MountID)
	if err != nil {
		return "", err
	}
	return m.Status, nil
}

func (h *DatasetHost) mount(ctx context.Context, id string) (*store.DatasetMount, error) {
	m, err := h.Store.GetDatasetMount(ctx, "", id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("mount not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to load the mount: %w", err)
	}
	return m, nil
}
