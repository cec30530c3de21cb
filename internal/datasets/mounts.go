package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Mounts: a dataset the caller may read, copied read-only onto a path of a
// machine leased to its company (docs/datasets.md). Each mount has its
// DatasetMount workflow; an unmount is its signal (SignalWithStart, so a
// mount whose workflow ended is removed by a new run).

// MountInput asks for a dataset on a machine at a path.
type MountInput struct {
	DatasetID string
	MachineID string
	Path      string
	// DatasetField names the dataset in errors ("body.datasetId"; "" when it is the path's).
	DatasetField string
}

func errMountNotFound() error { return apperr.NotFoundErr("mounts.notFound", "mount not found") }

func errMountDatasetNotFound() error {
	return apperr.NotFoundErr("mounts.datasetNotFound", "dataset not found")
}

func errMachineNotLeased() error {
	return apperr.NotFoundErr("mounts.machineNotLeased", "machine not found among those leased to your company")
}

func errWorkflowDown() error {
	return apperr.UnavailableErr("mounts.workflowUnavailable", "the mount could not be started; try again later")
}

// checkPath refuses a path the doc does not allow (400 at field).
func checkMountPath(p, field string) error {
	if why := agentproto.MountPathProblem(p); why != "" {
		return apperr.New(apperr.Invalid, "mounts.pathInvalid", "{path} cannot hold a dataset: {why}",
			apperr.P{"path": truncate(p, 200), "why": why, "reason": "mounts.reason.path." + why}).AtField(field)
	}
	return nil
}

// Mount records a mount (mounting), audited in the same transaction, and
// starts its workflow. 400 mounts.pathInvalid, 404 for a dataset the
// caller cannot read or a machine not leased to its company, 409
// mounts.datasetNotAvailable / mounts.pathInUse.
func (s *Service) Mount(ctx context.Context, in MountInput) (*store.DatasetMount, error) {
	if err := checkMountPath(in.Path, "body.path"); err != nil {
		return nil, err
	}
	p := caller.From(ctx)
	if p.TenantID == "" {
		return nil, errMachineNotLeased()
	}
	d, err := s.Store.GetDataset(ctx, scope(ctx), in.DatasetID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errMountDatasetNotFound()
	}
	if err != nil {
		return nil, err
	}
	if d.Status != store.DatasetAvailable {
		return nil, apperr.ConflictErr("mounts.datasetNotAvailable", "dataset {name} is {status}: only an available dataset can be mounted",
			apperr.P{"name": d.Name, "status": d.Status})
	}
	m, err := s.Store.GetTenantMachine(ctx, p.TenantID, in.MachineID, s.Expiring)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errMachineNotLeased()
	}
	if err != nil {
		return nil, err
	}
	var id string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		var err error
		if id, err = q.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: p.TenantID, DatasetID: d.ID, MachineID: m.ID, Path: in.Path,
			CreatedBy: p.UserID}); err != nil {
			return err
		}
		if err := q.TouchDataset(ctx, d.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.mount", TargetType: "dataset", TargetID: d.ID, Success: true,
			Detail: map[string]any{"mountId": id, "machineId": m.ID, "machine": m.Name, "path": in.Path, "dataset": d.Name}})
	})
	if errors.Is(err, store.ErrMountPathInUse) {
		return nil, apperr.ConflictErr("mounts.pathInUse", "{machine} already has a dataset mounted at {path}",
			apperr.P{"machine": m.Name, "path": in.Path}).AtField("body.path")
	}
	if err != nil {
		return nil, err
	}
	if err := s.startMount(ctx, id, false); err != nil {
		_, _ = s.Store.SetDatasetMountStatus(ctx, id, store.MountFailed, "mounts.reason.notStarted", nil)
		return nil, err
	}
	return s.Store.GetDatasetMount(ctx, p.TenantID, id)
}

func (s *Service) startMount(ctx context.Context, id string, unmount bool) error {
	if s.Temporal == nil {
		return errWorkflowDown()
	}
	opts := client.StartWorkflowOptions{ID: workflows.DatasetMountID(id), TaskQueue: s.TaskQueue}
	in := workflows.DatasetMountInput{MountID: id, Unmount: unmount}
	var err error
	if unmount {
		_, err = s.Temporal.SignalWithStartWorkflow(ctx, opts.ID, workflows.DatasetUnmountSignal, nil, opts, workflows.DatasetMount, in)
	} else {
		_, err = s.Temporal.ExecuteWorkflow(ctx, opts, workflows.DatasetMount, in)
	}
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the dataset mount workflow", "mount", id, "unmount", unmount, "err", err)
		return errWorkflowDown()
	}
	return nil
}

// Unmount asks for the removal of a mount of the caller's company
// (unmounting, audited), given its dataset when datasetID is not "".
// 404 for another company's mount, 409 mounts.notMounted when it is
// being removed or gone.
func (s *Service) Unmount(ctx context.Context, datasetID, mountID string) (*store.DatasetMount, error) {
	p := caller.From(ctx)
	if p.TenantID == "" {
		return nil, errMountNotFound()
	}
	m, err := s.Store.GetDatasetMount(ctx, p.TenantID, mountID)
	if errors.Is(err, store.ErrNotFound) || err == nil && datasetID != "" && m.DatasetID != datasetID {
		return nil, errMountNotFound()
	}
	if err != nil {
		return nil, err
	}
	notMounted := apperr.ConflictErr("mounts.notMounted", "the mount is {status}", apperr.P{"status": m.Status})
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		ok, err := store.New(tx).SetDatasetMountStatus(ctx, m.ID, store.MountUnmounting, "", nil, store.MountMounting, store.MountMounted, store.MountFailed)
		if err != nil {
			return err
		}
		if !ok {
			return notMounted
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.unmount", TargetType: "dataset", TargetID: m.DatasetID, Success: true,
			Detail: map[string]any{"mountId": m.ID, "machineId": m.MachineID, "machine": m.MachineName, "path": m.Path}})
	})
	if err != nil {
		return nil, err
	}
	if err := s.startMount(ctx, m.ID, true); err != nil {
		_, _ = s.Store.SetDatasetMountStatus(ctx, m.ID, m.Status, m.StatusReason, m.StatusParams, store.MountUnmounting)
		return nil, err
	}
	return s.Store.GetDatasetMount(ctx, p.TenantID, m.ID)
}

// MountsInput filters the company's mounts.
type MountsInput struct {
	DatasetID string
	MachineID string
	Status    string
	Page      store.Page
}

// Mounts lists the company's mounts (of one dataset it can read, when DatasetID is set and ForDataset).
func (s *Service) Mounts(ctx context.Context, in MountsInput, forDataset bool) ([]store.DatasetMount, int, error) {
	p := caller.From(ctx)
	if p.TenantID == "" {
		return []store.DatasetMount{}, 0, nil
	}
	if forDataset {
		if _, err := s.Store.GetDataset(ctx, scope(ctx), in.DatasetID); errors.Is(err, store.ErrNotFound) {
			return nil, 0, errMountDatasetNotFound()
		} else if err != nil {
			return nil, 0, err
		}
	}
	switch in.Status {
	case "", store.MountMounting, store.MountMounted, store.MountFailed, store.MountUnmounting, store.MountUnmounted:
	default:
		return nil, 0, apperr.New(apperr.Invalid, "mounts.statusInvalid", "status must be mounting, mounted, failed, unmounting or unmounted").
			AtField("query.status")
	}
	return s.Store.ListDatasetMounts(ctx, store.MountFilter{TenantID: p.TenantID, DatasetID: in.DatasetID, MachineID: in.MachineID,
		Status: in.Status}, in.Page)
}

// MountProgress takes the progress of a dataset_mount heartbeat (the
// host channel's hook for the kind) onto the mount, for the console.
func (s *Service) MountProgress(ctx context.Context, machineID string, args, progress json.RawMessage) error {
	var a agentproto.DatasetMountArgs
	var p agentproto.DatasetMountProgress
	if err := json.Unmarshal(args, &a); err != nil || a.MountID == "" {
		return nil
	}
	if err := json.Unmarshal(progress, &p); err != nil {
		return err
	}
	return s.Store.SetMountProgress(ctx, machineID, a.MountID, store.MountProgress{FilesDone: p.FilesDone, FilesTotal: p.FilesTotal,
		BytesDone: p.BytesDone, BytesTotal: p.BytesTotal})
}

func errMountRefused() error {
	return apperr.NotFoundErr("mounts.agentRefused", "no mount of this machine's tenant is being made or kept here")
}

// AgentManifest lists the mount's dataset for the agent of its machine,
// while the mount's tenant holds the machine and the mount is mounting or
// mounted (404 mounts.agentRefused otherwise).
func (s *Service) AgentManifest(ctx context.Context, machineID, mountID string) (agentproto.DatasetManifest, error) {
	id, files, err := s.Store.AgentMountManifest(ctx, machineID, mountID)
	if errors.Is(err, store.ErrNotFound) {
		return agentproto.DatasetManifest{}, errMountRefused()
	}
	if err != nil {
		return agentproto.DatasetManifest{}, err
	}
	out := agentproto.DatasetManifest{DatasetID: id, Files: make([]agentproto.DatasetManifestFile, len(files))}
	for i, f := range files {
		out.Files[i] = agentproto.DatasetManifestFile{Path: f.Path, Size: f.Size, MD5: f.MD5}
	}
	return out, nil
}

// AgentFileDownload is one file of a mount's dataset; the caller closes Body.
type AgentFileDownload struct {
	Size int64
	Body io.ReadCloser
}

// AgentFile opens one file of the mount's dataset for the agent of its
// machine, under the same rule as AgentManifest.
func (s *Service) AgentFile(ctx context.Context, machineID, mountID, filePath string) (*AgentFileDownload, error) {
	p, err := CleanPath(filePath, "query.path")
	if err != nil {
		return nil, err
	}
	key, size, err := s.Store.AgentMountFile(ctx, machineID, mountID, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errMountRefused()
	}
	if err != nil {
		return nil, err
	}
	if s.Objects == nil {
		return nil, apperr.UnavailableErr("mounts.storageUnavailable", "no object store is configured")
	}
	body, _, _, err := s.Objects.Get(ctx, objstore.BucketDatasets, key)
	if err != nil {
		return nil, err
	}
	return &AgentFileDownload{Size: size, Body: body}, nil
}
