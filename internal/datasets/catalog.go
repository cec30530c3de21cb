package datasets

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// Item is a dataset as the console shows it, with what the caller may do.
type Item struct {
	store.Dataset
	CanEdit bool `json:"canEdit" doc:"The caller may edit, delete, change files of and share it (an owner of its company, or its uploader)"`
}

// DatasetTypes are the dataset types.
var DatasetTypes = []string{"image", "text", "audio", "video", "other"}

// scope is the calling user's read scope (admins: every dataset).
func scope(ctx context.Context) store.DatasetScope {
	p := caller.From(ctx)
	if p.IsAdmin() {
		return store.DatasetScope{Admin: true, UserID: p.UserID}
	}
	return store.DatasetScope{TenantID: p.TenantID, UserID: p.UserID, Owner: p.Role == "owner"}
}

// customerScope is scope for the customers' operations, which refuse a caller without a company.
func customerScope(ctx context.Context) (store.DatasetScope, error) {
	s := scope(ctx)
	if s.Admin || s.TenantID == "" {
		return s, apperr.ForbiddenErr(apperr.CodeForbidden, "forbidden")
	}
	return s, nil
}

// canEdit: an admin edits any dataset; a customer its company's own ones
// when it is an owner or the uploader (never a shared or public one).
func canEdit(ctx context.Context, d *store.Dataset) bool {
	p := caller.From(ctx)
	if p.IsAdmin() {
		return true
	}
	return !d.Public && p.TenantID != "" && d.TenantID == p.TenantID && (p.Role == "owner" || (d.CreatedBy != "" && d.CreatedBy == p.UserID))
}

func errNotFound() error { return apperr.NotFoundErr("datasets.notFound", "dataset not found") }

func datasetNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound()
	}
	return err
}

func errNotEditable() error {
	return apperr.ForbiddenErr("datasets.notEditable", "only an owner of the company or the dataset's uploader may change it")
}

// read is a dataset the caller may read.
func (s *Service) read(ctx context.Context, id string) (*store.Dataset, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, errNotFound()
	}
	d, err := s.Store.GetDataset(ctx, scope(ctx), id)
	return d, datasetNotFound(err)
}

// writable is a dataset the caller may change (404 when it may not read
// it, 403 when it reads but may not change it).
func (s *Service) writable(ctx context.Context, id string) (*store.Dataset, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canEdit(ctx, d) {
		if d.Shared {
			return nil, errNotFound()
		}
		return nil, errNotEditable()
	}
	return d, nil
}

// ListInput is a page of one tab of datasets.
type ListInput struct {
	Filter store.DatasetFilter
	Page   store.Page
}

func (in *ListInput) check() error {
	f := &in.Filter
	f.Q = strings.TrimSpace(f.Q)
	if f.Type != "" && !slices.Contains(DatasetTypes, f.Type) {
		return apperr.New(apperr.Invalid, "datasets.typeInvalid", "type must be image, text, audio, video or other").AtField("query.type")
	}
	if f.Status != "" && !slices.Contains([]string{store.DatasetUploading, store.DatasetProcessing, store.DatasetAvailable, store.DatasetFailed}, f.Status) {
		return apperr.New(apperr.Invalid, "datasets.statusInvalid", "status must be uploading, processing, available or failed").AtField("query.status")
	}
	return nil
}

// List pages one of the customer's tabs: mine, public or shared.
func (s *Service) List(ctx context.Context, in ListInput) ([]Item, int, error) {
	sc, err := customerScope(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := in.check(); err != nil {
		return nil, 0, err
	}
	return s.list(ctx, sc, in)
}

func (s *Service) list(ctx context.Context, sc store.DatasetScope, in ListInput) ([]Item, int, error) {
	list, total, err := s.Store.ListDatasets(ctx, sc, in.Filter, in.Page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Item, len(list))
	for i := range list {
		out[i] = Item{Dataset: list[i], CanEdit: canEdit(ctx, &list[i])}
	}
	return out, total, nil
}

// Get is a dataset the caller may read, with canEdit.
func (s *Service) Get(ctx context.Context, id string) (*Item, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Item{Dataset: *d, CanEdit: canEdit(ctx, d)}, nil
}

// EditInput is the edit form; nil fields stay as they are.
type EditInput struct {
	Name        *string
	Type        *string
	Description *string
	Tags        []string // nil: unchanged
	Access      *string
}

// apply checks the form against the dataset and returns the edit.
func (in EditInput) apply(d *store.Dataset) (store.DatasetEdit, error) {
	e := store.DatasetEdit{Name: d.Name, Type: d.Type, Description: d.Description, Tags: d.Tags, Access: d.Access}
	var fields []apperr.FieldError
	bad := func(loc, code, msg string, p apperr.P) {
		fields = append(fields, apperr.FieldError{Location: loc, Code: code, Params: p, Message: apperr.Format(msg, p)})
	}
	if in.Name != nil {
		e.Name = strings.TrimSpace(*in.Name)
		if n := utf8.RuneCountInString(e.Name); n == 0 || n > MaxNameRunes {
			bad("body.name", "datasets.nameLength", "the name must be 1 to {max} characters", apperr.P{"max": MaxNameRunes})
		}
	}
	if in.Type != nil {
		e.Type = *in.Type
		if !slices.Contains(DatasetTypes, e.Type) {
			bad("body.type", "datasets.typeInvalid", "type must be image, text, audio, video or other", nil)
		}
	}
	if in.Description != nil {
		e.Description = strings.TrimSpace(*in.Description)
		if utf8.RuneCountInString(e.Description) > MaxDescRunes {
			bad("body.description", "datasets.descriptionTooLong", "the description must be at most {max} characters", apperr.P{"max": MaxDescRunes})
		}
	}
	if in.Tags != nil {
		e.Tags = []string{}
		for _, t := range in.Tags {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(e.Tags, t) {
				e.Tags = append(e.Tags, t)
			}
		}
		if len(e.Tags) > MaxTags || slices.ContainsFunc(e.Tags, func(t string) bool { return utf8.RuneCountInString(t) > MaxTagRunes }) {
			bad("body.tags", "datasets.tagsInvalid", "at most {max} tags of at most {len} characters each", apperr.P{"max": MaxTags, "len": MaxTagRunes})
		}
	}
	if in.Access != nil {
		e.Access = *in.Access
		allowed := []string{store.AccessPrivate, store.AccessTeam}
		if d.Public {
			allowed = []string{store.AccessPrivate, store.AccessPublic}
		}
		if !slices.Contains(allowed, e.Access) {
			bad("body.access", "datasets.accessInvalid", "access must be one of {allowed}", apperr.P{"allowed": strings.Join(allowed, ", ")})
		}
	}
	if len(fields) > 0 {
		err := apperr.New(apperr.Invalid, fields[0].Code, fields[0].Message, fields[0].Params)
		err.Fields = fields
		return e, err
	}
	return e, nil
}

// Edit changes a dataset's name, type, description, tags and access:
// owners and the uploader of its company (admins through AdminEdit). Audited.
func (s *Service) Edit(ctx context.Context, id string, in EditInput) (*Item, error) {
	if _, err := customerScope(ctx); err != nil {
		return nil, err
	}
	return s.edit(ctx, id, in, "dataset.update")
}

func (s *Service) edit(ctx context.Context, id string, in EditInput, action string) (*Item, error) {
	d, err := s.writable(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := in.apply(d)
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockDatasetForChange(ctx, id); err != nil {
			return err
		}
		if err := q.UpdateDataset(ctx, id, e); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "dataset", TargetID: id, TenantID: d.TenantID, Success: true,
			Detail: map[string]any{"name": e.Name, "before": map[string]any{"name": d.Name, "type": d.Type, "access": d.Access,
				"description": d.Description, "tags": d.Tags}, "type": e.Type, "access": e.Access, "description": e.Description, "tags": e.Tags}})
	})
	if err != nil {
		return nil, datasetNotFound(err)
	}
	return s.Get(ctx, id)
}

// Delete removes a dataset: refused while it is mounted or a queued or
// running task uses it. Its files go at once (the company's use drops when
// the DatasetCleanup started here removed their blobs). Audited.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := customerScope(ctx); err != nil {
		return err
	}
	return s.delete(ctx, id, "dataset.delete")
}

func (s *Service) delete(ctx context.Context, id, action string) error {
	d, err := s.writable(ctx, id)
	if err != nil {
		return err
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		cur, err := q.LockDatasetForChange(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status == store.DatasetProcessing {
			// its ingest is writing to it: let it end (available or failed) first
			return apperr.ConflictErr("datasets.processing", "the dataset is being processed: delete it once it is available or failed")
		}
		use, err := q.DatasetInUse(ctx, id)
		if err != nil {
			return err
		}
		if use.Mounts > 0 || use.Tasks > 0 {
			return apperr.ConflictErr("datasets.inUse", "the dataset is mounted on {mounts} machine(s) and used by {tasks} queued or running task(s): unmount it first",
				apperr.P{"mounts": use.Mounts, "tasks": use.Tasks})
		}
		if err := q.DeleteDataset(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "dataset", TargetID: id, TenantID: d.TenantID, Success: true,
			Detail: map[string]any{"name": d.Name, "sizeBytes": d.SizeBytes, "fileCount": d.FileCount, "status": d.Status}})
	})
	if err != nil {
		return datasetNotFound(err)
	}
	s.startCleanup(ctx, id)
	return nil
}

// Quota is the caller's company's storage use and quota.
func (s *Service) Quota(ctx context.Context) (store.StorageUse, error) {
	sc, err := customerScope(ctx)
	if err != nil {
		return store.StorageUse{}, err
	}
	return s.Store.TenantStorage(ctx, sc.TenantID, s.Config.DefaultQuota, false)
}

// Tasks pages the caller's company's tasks that used a dataset it reads
// (admins: every company's).
func (s *Service) Tasks(ctx context.Context, id string, p store.Page) ([]store.DatasetTaskUse, int, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return s.Store.DatasetTasks(ctx, d.ID, scope(ctx).TenantID, p)
}
