package commands

import (
	"context"
	"io"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// DatasetAPI is the api's side of dataset mounts and machine imports
// (pusher.Client).
type DatasetAPI interface {
	DatasetManifest(ctx context.Context, mountID string) (agentproto.DatasetManifest, error)
	DatasetFile(ctx context.Context, mountID, filePath string) (io.ReadCloser, error)
	PutDatasetImport(ctx context.Context, commandID string, r io.Reader) (agentproto.DatasetImportResult, error)
}

// datasetHandlers are the dataset kinds, real in ModeReal and
// ModeSimulated alike (like the task containers): a mount is a copy under
// the path the customer chose, never over a non-empty directory.
func (k *Kinds) datasetHandlers() map[string]Handler {
	return map[string]Handler{
		agentproto.KindDatasetMount:   k.datasetMount,
		agentproto.KindDatasetUnmount: k.datasetUnmount,
		agentproto.KindDatasetImport:  k.datasetImport,
	}
}

func (k *Kinds) datasetOps() (*hostops.Ops, error) {
	if k.Ops == nil {
		return nil, hostops.Permanentf("HostOpsUnavailable", "this agent does no host work")
	}
	if k.Datasets == nil {
		return nil, hostops.Permanentf("DatasetsUnavailable", "this agent cannot reach the api's datasets")
	}
	return k.Ops, nil
}

func (k *Kinds) datasetMount(ctx context.Context, c *Call) (any, error) {
	var args agentproto.DatasetMountArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	ops, err := k.datasetOps()
	if err != nil {
		return nil, err
	}
	return ops.DatasetMount(ctx, args, datasetSource{k.Datasets}, func(p agentproto.DatasetMountProgress) { c.Progress(p) })
}

func (k *Kinds) datasetUnmount(ctx context.Context, c *Call) (any, error) {
	var args agentproto.DatasetUnmountArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	if k.Ops == nil {
		return nil, hostops.Permanentf("HostOpsUnavailable", "this agent does no host work")
	}
	return k.Ops.DatasetUnmount(ctx, args)
}

// datasetImport streams the tar for this command; it sends no progress:
// the api marks the command's upload as under way when the PUT comes.
func (k *Kinds) datasetImport(ctx context.Context, c *Call) (any, error) {
	var args agentproto.DatasetImportArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	ops, err := k.datasetOps()
	if err != nil {
		return nil, err
	}
	return ops.DatasetImport(ctx, args, func(ctx context.Context, r io.Reader) (agentproto.DatasetImportResult, error) {
		res, err := k.Datasets.PutDatasetImport(ctx, c.ID, r)
		switch {
		case err == nil:
			return res, nil
		case ctx.Err() != nil:
			return res, ctx.Err()
		case !pusher.Retryable(err):
			return res, hostops.Permanentf("UploadRefused", "the api refused the import: %v", err)
		}
		return res, hostops.Retryablef("UploadFailed", err, "unable to upload the import")
	})
}

// datasetSource tells the api's refusals (permanent) from failures worth
// trying again.
type datasetSource struct{ api DatasetAPI }

func (s datasetSource) DatasetManifest(ctx context.Context, mountID string) (agentproto.DatasetManifest, error) {
	m, err := s.api.DatasetManifest(ctx, mountID)
	return m, fetchError(err)
}

func (s datasetSource) DatasetFile(ctx context.Context, mountID, filePath string) (io.ReadCloser, error) {
	r, err := s.api.DatasetFile(ctx, mountID, filePath)
	return r, fetchError(err)
}

func fetchError(err error) error {
	if err == nil {
		return nil
	}
	return &hostops.DatasetFetchError{Err: err, Permanent: !pusher.Retryable(err)}
}
