package datasets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// AdminItem is a dataset of the admins' library, with its pending shares
// (the 待审核 tab) and the company each would share it with.
type AdminItem struct {
	Item
	PendingShares []store.DatasetShare `json:"pendingShares" doc:"Shares waiting for approval (the pending tab; empty elsewhere)"`
}

// Admin tabs, as the api names them.
var adminTabs = map[string]string{"public": store.DatasetTabPlatform, "customer": store.DatasetTabCustomer, "pending": store.DatasetTabPending}

func adminScope(ctx context.Context) (store.DatasetScope, error) {
	s := scope(ctx)
	if !s.Admin {
		return s, apperr.ForbiddenErr(apperr.CodeForbidden, "forbidden")
	}
	return s, nil
}

// AdminList pages a tab of the library: public (the platform's datasets),
// customer (every company's) or pending (with shares to decide).
func (s *Service) AdminList(ctx context.Context, tab string, in ListInput) ([]AdminItem, int, error) {
	sc, err := adminScope(ctx)
	if err != nil {
		return nil, 0, err
	}
	if tab == "" {
		tab = "public"
	}
	t, ok := adminTabs[tab]
	if !ok {
		return nil, 0, apperr.New(apperr.Invalid, "datasets.tabInvalid", "tab must be public, customer or pending").AtField("query.tab")
	}
	in.Filter.Tab = t
	if err := in.check(); err != nil {
		return nil, 0, err
	}
	list, total, err := s.list(ctx, sc, in)
	if err != nil {
		return nil, 0, err
	}
	out := make([]AdminItem, len(list))
	ids := make([]string, len(list))
	for i := range list {
		out[i] = AdminItem{Item: list[i], PendingShares: []store.DatasetShare{}}
		ids[i] = list[i].ID
	}
	if t == store.DatasetTabPending && len(ids) > 0 {
		shares, err := s.Store.PendingShares(ctx, ids)
		if err != nil {
			return nil, 0, err
		}
		for _, sh := range shares {
			for i := range out {
				if out[i].ID == sh.DatasetID {
					out[i].PendingShares = append(out[i].PendingShares, sh)
				}
			}
		}
	}
	return out, total, nil
}

// AdminGet is any dataset.
func (s *Service) AdminGet(ctx context.Context, id string) (*Item, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// AdminEdit edits any dataset (access within its kind's). Audited.
func (s *Service) AdminEdit(ctx context.Context, id string, in EditInput) (*Item, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	return s.edit(ctx, id, in, "dataset.admin_update")
}

// AdminDelete deletes any dataset, refused while mounted or used by a task. Audited.
func (s *Service) AdminDelete(ctx context.Context, id string) error {
	if _, err := adminScope(ctx); err != nil {
		return err
	}
	return s.delete(ctx, id, "dataset.admin_delete")
}

// SetPublic lists a public (platform) dataset to every customer (public)
// or takes it back (private); a customer's dataset is refused 409: the
// platform does not publish customers' data. Audited.
func (s *Service) SetPublic(ctx context.Context, id string, public bool) (*Item, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if !d.Public {
		return nil, apperr.ConflictErr("datasets.notPlatformDataset",
			"{name} belongs to a customer: only the platform's datasets can be made public or private here", apperr.P{"name": d.Name})
	}
	access, action := store.AccessPrivate, "dataset.set_private"
	if public {
		access, action = store.AccessPublic, "dataset.set_public"
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockDatasetForChange(ctx, id); err != nil {
			return err
		}
		if err := q.SetDatasetAccess(ctx, id, access); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "dataset", TargetID: id, Success: true,
			Detail: map[string]any{"name": d.Name, "before": d.Access, "access": access}})
	})
	if err != nil {
		return nil, datasetNotFound(err)
	}
	return s.Get(ctx, id)
}

// Notice codes of share decisions (datasets.notice.*: a title and a content).
const (
	NoticeShareApproved = "datasets.notice.shareApproved"
	NoticeShareRejected = "datasets.notice.shareRejected"
)

// DecideShare approves or rejects (with a reason) a pending share; the
// dataset's company (its owners and whoever asked) is told in-app, in the
// same transaction as the decision and its audit record.
func (s *Service) DecideShare(ctx context.Context, shareID string, approve bool, reason string) (*store.DatasetShare, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return nil, apperr.New(apperr.Invalid, "datasets.rejectReasonRequired", "give the reason of the rejection").AtField("body.reason")
	}
	if _, err := uuid.Parse(shareID); err != nil {
		return nil, errShareNotFound()
	}
	status, action, code := store.ShareApproved, "dataset.share_approve", NoticeShareApproved
	if !approve {
		status, action, code = store.ShareRejected, "dataset.share_reject", NoticeShareRejected
	}
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		sh, err := q.LockShare(ctx, shareID)
		if errors.Is(err, store.ErrNotFound) {
			return errShareNotFound()
		}
		if err != nil {
			return err
		}
		if sh.Status != store.SharePending {
			return apperr.ConflictErr("datasets.shareNotPending", "the share was {status} already", apperr.P{"status": sh.Status})
		}
		if err := q.DecideShare(ctx, shareID, status, reason, caller.From(ctx).UserID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "dataset", TargetID: sh.DatasetID, TenantID: sh.OwnerID,
			Success: true, Detail: map[string]any{"name": sh.DatasetName, "shareId": sh.ID, "company": sh.TenantCode, "reason": reason}}); err != nil {
			return err
		}
		if sh.OwnerID == "" {
			return nil
		}
		users, err := q.TenantOwnerIDs(ctx, sh.OwnerID)
		if err != nil {
			return err
		}
		if sh.RequestedBy != "" && !contains(users, sh.RequestedBy) {
			users = append(users, sh.RequestedBy)
		}
		params := map[string]any{"datasetId": sh.DatasetID, "name": sh.DatasetName, "company": sh.TenantName, "reason": reason}
		title, content := fmt.Sprintf("Dataset shared: %s", sh.DatasetName),
			fmt.Sprintf("Your dataset %s is now shared read-only with %s.", sh.DatasetName, sh.TenantName)
		level := "info"
		if !approve {
			title = fmt.Sprintf("Dataset share rejected: %s", sh.DatasetName)
			content = fmt.Sprintf("Sharing your dataset %s with %s was rejected: %s", sh.DatasetName, sh.TenantName, reason)
			level = "warning"
		}
		_, err = q.DeliverSystemNotice(ctx, &store.NotificationBatch{ID: uuid.NewString(), TenantID: sh.OwnerID, Title: title, Content: content,
			Code: code, Params: params, Level: level, SenderName: "system"}, users)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Store.GetShare(ctx, shareID)
}

func errShareNotFound() error { return apperr.NotFoundErr("datasets.shareNotFound", "share not found") }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
