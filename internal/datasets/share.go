package datasets

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// ShareInput sets a dataset's access and/or asks to share it read-only
// with other companies by their codes (each pending an admin's approval).
type ShareInput struct {
	Access      string // "" unchanged; private or team
	TenantCodes []string
}

// maxShareCodes bounds one share request.
const maxShareCodes = 50

// Share changes the access of a dataset and asks to share it with the
// companies named: owners and the uploader of its company. Audited.
func (s *Service) Share(ctx context.Context, id string, in ShareInput) ([]store.DatasetShare, error) {
	sc, err := customerScope(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.writable(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Access != "" && in.Access != store.AccessPrivate && in.Access != store.AccessTeam {
		return nil, apperr.New(apperr.Invalid, "datasets.accessInvalid", "access must be one of {allowed}",
			apperr.P{"allowed": "private, team"}).AtField("body.access")
	}
	var codes []string
	for _, c := range in.TenantCodes {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	if len(codes) > maxShareCodes {
		return nil, apperr.New(apperr.Invalid, "datasets.shareTooMany", "at most {max} companies at once", apperr.P{"max": maxShareCodes}).
			AtField("body.tenantCodes")
	}
	if in.Access == "" && len(codes) == 0 {
		return nil, apperr.New(apperr.Invalid, "datasets.shareEmpty", "give an access or at least one company code").AtField("body.tenantCodes")
	}
	tenants := make([]*store.Tenant, 0, len(codes))
	for i, c := range codes {
		t, err := s.Store.GetTenantByCode(ctx, c)
		if errors.Is(err, store.ErrNotFound) || (err == nil && t.Status != "active") {
			return nil, apperr.New(apperr.Invalid, "datasets.shareUnknownCompany", "no company has the code {code}", apperr.P{"code": c}).
				AtField("body.tenantCodes[" + strconv.Itoa(i) + "]")
		}
		if err != nil {
			return nil, err
		}
		if t.ID == sc.TenantID {
			return nil, apperr.New(apperr.Invalid, "datasets.shareOwnCompany", "the dataset is your company's already: share it with the team by access").
				AtField("body.tenantCodes[" + strconv.Itoa(i) + "]")
		}
		tenants = append(tenants, t)
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockDatasetForChange(ctx, id); err != nil {
			return err
		}
		if in.Access != "" && in.Access != d.Access {
			if err := q.SetDatasetAccess(ctx, id, in.Access); err != nil {
				return err
			}
		}
		var shared []string
		for _, t := range tenants {
			sh, err := q.ShareDataset(ctx, id, t.ID, caller.From(ctx).UserID)
			if err != nil {
				return err
			}
			shared = append(shared, t.Code+":"+sh.Status)
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.share", TargetType: "dataset", TargetID: id, TenantID: d.TenantID, Success: true,
			Detail: map[string]any{"name": d.Name, "access": in.Access, "before": d.Access, "companies": shared}})
	})
	if err != nil {
		return nil, datasetNotFound(err)
	}
	return s.Store.ListDatasetShares(ctx, id)
}

// Shares lists a dataset's shares: for its own company's readers (the
// companies it is shared with see nothing of each other).
func (s *Service) Shares(ctx context.Context, id string) ([]store.DatasetShare, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Shared {
		return nil, errNotFound()
	}
	return s.Store.ListDatasetShares(ctx, d.ID)
}

// Unshare revokes a share (whatever its status). Audited.
func (s *Service) Unshare(ctx context.Context, id, shareID string) error {
	if _, err := customerScope(ctx); err != nil {
		return err
	}
	d, err := s.writable(ctx, id)
	if err != nil {
		return err
	}
	// the other company may no longer read it: its mounts of it go too
	var unmount []string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		sh, err := q.GetShare(ctx, shareID)
		if err != nil || sh.DatasetID != id {
			return apperr.NotFoundErr("datasets.shareNotFound", "share not found")
		}
		if err := q.DeleteShare(ctx, id, shareID); err != nil {
			return err
		}
		if unmount, err = q.UnmountTenantDataset(ctx, id, sh.TenantID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.unshare", TargetType: "dataset", TargetID: id, TenantID: d.TenantID, Success: true,
			Detail: map[string]any{"name": d.Name, "company": sh.TenantCode, "status": sh.Status, "unmounted": len(unmount)}})
	})
	if err != nil {
		return datasetNotFound(err)
	}
	// The share is gone either way; a mount whose unmount cannot start now
	// is already refused its files by the api (unmounting) and its copy
	// goes at the latest with the lease (stop_tenant).
	for _, m := range unmount {
		if err := s.startMount(ctx, m, true); err != nil {
			slog.WarnContext(ctx, "unable to start the unmount of a revoked share's mount", "mount", m, "err", err)
		}
	}
	return nil
}
