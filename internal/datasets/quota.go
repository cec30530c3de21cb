package datasets

import (
	"context"
	"errors"

	"github.com/dustin/go-humanize"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// errQuotaExceeded is 409 uploads.quotaExceeded with the figures.
func errQuotaExceeded(need int64, u store.StorageUse) error {
	free := max(u.Free(), 0)
	return apperr.New(apperr.Conflict, "uploads.quotaExceeded", "Not enough storage: {need} needed, {free} left (quota {quota})",
		apperr.P{"need": humanize.IBytes(uint64(max(need, 0))), "free": humanize.IBytes(uint64(free)), "quota": humanize.IBytes(uint64(max(u.QuotaBytes, 0))),
			"needBytes": need, "freeBytes": free, "quotaBytes": u.QuotaBytes})
}

// reserve raises a dataset's reservation by n under the quota check (inside tx).
func (s *Service) reserve(ctx context.Context, tx pgx.Tx, datasetID, tenantID string, n int64) error {
	u, err := store.New(tx).ReserveStorage(ctx, datasetID, tenantID, n, s.Config.DefaultQuota)
	if errors.Is(err, store.ErrQuotaExceeded) {
		return errQuotaExceeded(n, u)
	}
	return err
}

func errDatasetNotFound() error {
	return apperr.NotFoundErr("uploads.datasetNotFound", "the dataset does not exist")
}

// writableDataset reads a dataset the caller may add files to: a customer
// its company's dataset that it uploaded (or any of them, as an owner); an
// admin a public dataset. Others' datasets are not found.
func (s *Service) writableDataset(ctx context.Context, db store.DBTX, id string, lock bool) (*store.Dataset, error) {
	sc := scope(ctx)
	q := store.New(db)
	d, err := q.GetDataset(ctx, sc, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errDatasetNotFound()
	}
	if err != nil {
		return nil, err
	}
	p := caller.From(ctx)
	switch {
	case sc.Admin && !d.Public, !sc.Admin && d.TenantID != p.TenantID:
		return nil, apperr.ForbiddenErr("uploads.notYours", "only the company that owns the dataset may add files to it")
	case !sc.Admin && d.CreatedBy != p.UserID && p.Role != "owner":
		return nil, apperr.ForbiddenErr("uploads.notUploader", "only the dataset's uploader or a company owner may add files to it")
	}
	if lock {
		if d, err = q.IngestLockDataset(ctx, id); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func errNotUploading(status string) error {
	return apperr.ConflictErr("uploads.notUploading", "the dataset is {status}: files can be added only while it is uploading",
		apperr.P{"status": status})
}
