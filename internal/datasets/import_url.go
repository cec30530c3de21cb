package datasets

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/safehttp"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// ImportURLInput imports a dataset from a URL.
type ImportURLInput struct {
	DatasetMeta
	URL string
}

const maxURLBytes = 2048

// ImportURL creates a dataset (processing) and starts its DatasetIngest,
// which downloads the URL with the safe client (an archive is extracted).
// Only http and https, and no address of the platform's own networks
// (400 uploads.urlForbidden); the quota is checked as the bytes come.
func (s *Service) ImportURL(ctx context.Context, in ImportURLInput) (*store.Dataset, error) {
	if err := s.objectsReady(); err != nil {
		return nil, err
	}
	tenant, by, byName := creator(ctx)
	meta, err := checkMeta(in.DatasetMeta, tenant == "")
	if err != nil {
		return nil, err
	}
	if len(in.URL) > maxURLBytes {
		return nil, invalid("body.url", "uploads.urlForbidden", "only http and https URLs of public addresses can be imported", nil)
	}
	u, err := safehttp.Check(ctx, in.URL, s.Config.ImportAllowPrivate)
	if err != nil {
		return nil, invalid("body.url", "uploads.urlForbidden", "only http and https URLs of public addresses can be imported", nil)
	}
	var id string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = store.New(tx).CreateDataset(ctx, store.NewDataset{TenantID: tenant, CreatedBy: by, CreatedByName: byName, Name: meta.Name,
			Type: meta.Type, Description: meta.Description, Tags: meta.Tags, Access: meta.Access, Source: workflows.IngestURL,
			SourceRef: u.String(), Status: store.DatasetProcessing})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.import", TargetType: "dataset", TargetID: id, Success: true,
			Detail: map[string]any{"name": meta.Name, "type": meta.Type, "access": meta.Access, "source": "url", "url": u.Redacted()}})
	})
	if err != nil {
		return nil, err
	}
	if err := s.startIngest(ctx, workflows.DatasetIngestInput{DatasetID: id, Source: workflows.IngestURL, URL: u.String()}); err != nil {
		_ = s.Store.DropIngestDataset(ctx, id)
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "dataset.import", TargetType: "dataset", TargetID: id, Success: false,
			Detail: map[string]any{"name": meta.Name, "error": "the workflow could not start"}})
		return nil, err
	}
	return s.Store.GetDataset(ctx, scope(ctx), id)
}

// CreatePublic is the admin's new public dataset: imported from url, or
// (url empty) uploaded like StartUpload.
func (s *Service) CreatePublic(ctx context.Context, meta DatasetMeta, url string, totalBytes int64) (*store.Dataset, error) {
	if url != "" {
		return s.ImportURL(ctx, ImportURLInput{DatasetMeta: meta, URL: url})
	}
	return s.StartUpload(ctx, UploadStart{DatasetMeta: meta, TotalBytes: totalBytes})
}
