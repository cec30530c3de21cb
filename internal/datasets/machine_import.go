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

// Import from a machine: the caller names a path of a machine leased to
// its company; the dataset is created (processing) and its DatasetIngest
// has the machine's agent stream a tar of the path (dataset_import), which
// the api stores at imports/<dataset>/<command>.tar, then extracts it.

// MachineImportInput is the form of an import from a machine.
type MachineImportInput struct {
	Name        string
	Type        string
	Description string
	Tags        []string
	Access      string // private or team
	MachineID   string
	Path        string
}

// ImportMachine creates the dataset and starts its ingest. 400 for the
// form's problems, 404 mounts.machineNotLeased.
func (s *Service) ImportMachine(ctx context.Context, in MachineImportInput) (*store.Dataset, error) {
	p := caller.From(ctx)
	if p.TenantID == "" {
		return nil, errMachineNotLeased()
	}
	meta, err := checkMeta(DatasetMeta{Name: in.Name, Type: in.Type, Description: in.Description, Tags: in.Tags, Access: in.Access}, false)
	if err != nil {
		return nil, err
	}
	if why := agentproto.ImportPathProblem(in.Path); why != "" {
		return nil, apperr.New(apperr.Invalid, "mounts.importPathInvalid", "{path} cannot be imported: {why}",
			apperr.P{"path": truncate(in.Path, 200), "why": why, "reason": "mounts.reason.path." + why}).AtField("body.path")
	}
	m, err := s.Store.GetTenantMachine(ctx, p.TenantID, in.MachineID, s.Expiring)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errMachineNotLeased()
	}
	if err != nil {
		return nil, err
	}
	by := p.Name
	if by == "" {
		by = p.Username
	}
	var id string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if id, err = store.New(tx).CreateDataset(ctx, store.NewDataset{TenantID: p.TenantID, CreatedBy: p.UserID, CreatedByName: by, Name: meta.Name,
			Type: meta.Type, Description: meta.Description, Tags: meta.Tags, Access: meta.Access, Source: "machine", SourceRef: m.Name + ":" + in.Path,
			Status: store.DatasetProcessing}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.import_machine", TargetType: "dataset", TargetID: id, Success: true,
			Detail: map[string]any{"name": meta.Name, "machineId": m.ID, "machine": m.Name, "path": in.Path}})
	})
	if err != nil {
		return nil, err
	}
	if s.Temporal == nil {
		return nil, s.importNotStarted(ctx, id)
	}
	if _, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.DatasetIngestID(id), TaskQueue: s.TaskQueue},
		workflows.DatasetIngest, workflows.DatasetIngestInput{DatasetID: id, Source: workflows.IngestMachine, MachineID: m.ID, Path: in.Path}); err != nil {
		slog.ErrorContext(ctx, "unable to start the machine import", "dataset", id, "err", err)
		return nil, s.importNotStarted(ctx, id)
	}
	return s.Store.GetDataset(ctx, scope(ctx), id)
}

// importNotStarted fails the dataset whose ingest could not start.
func (s *Service) importNotStarted(ctx context.Context, id string) error {
	if _, err := s.Store.Pool.Exec(ctx, `UPDATE datasets SET status = 'failed', status_reason = 'mounts.reason.notStarted', updated_at = now()
		WHERE id = $1`, id); err != nil {
		slog.ErrorContext(ctx, "unable to fail the dataset", "dataset", id, "err", err)
	}
	return errWorkflowDown()
}

// AgentImportUploadInput is an agent's tar for its dataset_import command.
type AgentImportUploadInput struct {
	MachineID string // the calling agent's
	CommandID string
	Body      io.Reader
}

func errImportRefused() error {
	return apperr.NotFoundErr("mounts.importUploadRefused", "no open import from this machine waits for an upload")
}

// AgentImportUpload stores the tar of an open dataset_import command of the
// caller's machine, once, while the dataset's tenant holds the machine;
// at most the company's free quota and DATASET_IMPORT_MAX (413
// mounts.importTooLarge: nothing is kept).
func (s *Service) AgentImportUpload(ctx context.Context, in AgentImportUploadInput) (agentproto.DatasetImportResult, error) {
	var res agentproto.DatasetImportResult
	cmd, err := s.Store.GetHostCommand(ctx, in.MachineID, in.CommandID, false)
	if errors.Is(err, store.ErrNotFound) {
		return res, errImportRefused()
	}
	if err != nil {
		return res, err
	}
	var args agentproto.DatasetImportArgs
	if cmd.Kind != agentproto.KindDatasetImport || !cmd.Open() || json.Unmarshal(cmd.Args, &args) != nil {
		return res, errImportRefused()
	}
	target, err := s.Store.AgentImportTarget(ctx, in.MachineID, args.DatasetID)
	if errors.Is(err, store.ErrNotFound) {
		return res, errImportRefused()
	}
	if err != nil {
		return res, err
	}
	if s.Objects == nil {
		return res, apperr.UnavailableErr("mounts.storageUnavailable", "no object store is configured")
	}
	use, err := s.Store.TenantStorage(ctx, target.TenantID, s.Config.DefaultQuota, false)
	if err != nil {
		return res, err
	}
	limit := min(s.Config.ImportMaxBytes, use.Free())
	if limit < 0 {
		limit = 0
	}
	if _, err := s.Store.ClaimHostCommandUpload(ctx, in.MachineID, in.CommandID, agentproto.KindDatasetImport); errors.Is(err, store.ErrNotFound) {
		return res, errImportRefused() // uploaded before, or ended meanwhile
	} else if err != nil {
		return res, err
	}
	key := agentproto.DatasetImportObjectKey(target.DatasetID, in.CommandID)
	body := &capped{r: in.Body, left: limit}
	size, err := s.Objects.PutUnknownSize(ctx, objstore.BucketDatasets, key, body, "application/x-tar")
	if body.over || err == nil && size > limit {
		_ = s.Objects.Remove(context.WithoutCancel(ctx), objstore.BucketDatasets, key)
		return res, apperr.New(apperr.TooLarge, "mounts.importTooLarge", "the import is larger than {bytes} bytes, what the quota and the import limit allow",
			apperr.P{"bytes": limit})
	}
	if err != nil {
		return res, err
	}
	if err := s.Store.RecordImportUpload(ctx, in.CommandID, key, size); err != nil {
		return res, err
	}
	return agentproto.DatasetImportResult{ObjectKey: key, Size: size}, nil
}

// capped reads at most left bytes; one more is an error (over).
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.over {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		c.over = true
		return 0, errTooLarge
	}
	c.left -= int64(n)
	return n, err
}

var errTooLarge = errors.New("the import is larger than allowed")
