package datasets

import (
	"context"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// FilesInput is a page of a dataset's listing.
type FilesInput struct {
	DatasetID string
	Dir       string // the folder ("" the root)
	Q         string // search: files whose path contains it, anywhere
	Page      store.Page
}

// Files pages the direct children of a folder (folders first), or the
// files whose path contains Q.
func (s *Service) Files(ctx context.Context, in FilesInput) ([]store.DatasetEntry, int, error) {
	d, err := s.read(ctx, in.DatasetID)
	if err != nil {
		return nil, 0, err
	}
	dir, err := CleanDir(in.Dir, "query.dir")
	if err != nil {
		return nil, 0, err
	}
	return s.Store.ListDatasetFiles(ctx, d.ID, store.FileQuery{Dir: dir, Q: strings.TrimSpace(in.Q)}, in.Page)
}

// changeable is a dataset whose files the caller may change now: it may
// edit it and it is available (not uploading, processing or failed).
func (s *Service) changeable(ctx context.Context, id string) (*store.Dataset, error) {
	d, err := s.writable(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status != store.DatasetAvailable {
		return nil, apperr.ConflictErr("datasets.notAvailable", "the dataset is {status}: its files change once it is available",
			apperr.P{"status": d.Status})
	}
	return d, nil
}

func errFileNotFound(p string) error {
	return apperr.NotFoundErr("datasets.fileNotFound", "{path} is not in the dataset", apperr.P{"path": p})
}

// DeleteFile removes a file, or a folder with everything under it; the
// dataset's size and file count follow in the same transaction. Audited.
func (s *Service) DeleteFile(ctx context.Context, id, filePath string) (int, error) {
	d, err := s.changeable(ctx, id)
	if err != nil {
		return 0, err
	}
	p, err := CleanPath(filePath, "query.path")
	if err != nil {
		return 0, err
	}
	var n int
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockDatasetForChange(ctx, id); err != nil {
			return err
		}
		var err error
		if n, err = q.DeleteDatasetFiles(ctx, id, p); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errFileNotFound(p)
			}
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.file_delete", TargetType: "dataset", TargetID: id, TenantID: d.TenantID,
			Success: true, Detail: map[string]any{"name": d.Name, "path": p, "files": n}})
	})
	if err != nil {
		return 0, datasetNotFound(err)
	}
	s.startCleanup(ctx, id)
	return n, nil
}

// Rename moves a file or a folder (every file under it) to another path of
// the dataset: 409 datasets.pathExists when something is already there. Audited.
func (s *Service) Rename(ctx context.Context, id, from, to string) (int, error) {
	f, err := CleanPath(from, "body.from")
	if err != nil {
		return 0, err
	}
	t, err := CleanPath(to, "body.to")
	if err != nil {
		return 0, err
	}
	if f == t {
		return 0, apperr.New(apperr.Invalid, "datasets.renameSame", "the new path is the same as the old one").AtField("body.to")
	}
	if strings.HasPrefix(t, f+"/") {
		return 0, apperr.New(apperr.Invalid, "datasets.renameIntoItself", "a folder cannot move into itself").AtField("body.to")
	}
	d, err := s.changeable(ctx, id)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if _, err := q.LockDatasetForChange(ctx, id); err != nil {
			return err
		}
		var err error
		n, err = q.RenameDatasetPath(ctx, id, f, t, MaxPathBytes)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errFileNotFound(f)
		case errors.Is(err, store.ErrRenameCollision):
			return apperr.ConflictErr("datasets.pathExists", "{path} already exists in the dataset", apperr.P{"path": t})
		case errors.Is(err, store.ErrRenameTooLong):
			return apperr.New(apperr.Invalid, "datasets.pathTooLong", "a path would be longer than {max} bytes", apperr.P{"max": MaxPathBytes}).
				AtField("body.to")
		case err != nil:
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.file_rename", TargetType: "dataset", TargetID: id, TenantID: d.TenantID,
			Success: true, Detail: map[string]any{"name": d.Name, "from": f, "to": t, "files": n}})
	})
	if err != nil {
		return 0, datasetNotFound(err)
	}
	return n, nil
}

// Preview limits.
const (
	PreviewImageMax = 10 << 20
	PreviewTextMax  = 64 << 10
)

// imageTypes are the images previewed as themselves (never SVG: it may
// carry script; it is previewed as text).
var imageTypes = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp"}

// textTypes are the extensions previewed as text (their first 64 KiB).
var textTypes = map[string]bool{".txt": true, ".csv": true, ".tsv": true, ".json": true, ".jsonl": true, ".ndjson": true, ".md": true,
	".log": true, ".xml": true, ".yaml": true, ".yml": true, ".svg": true, ".html": true, ".htm": true, ".py": true, ".sh": true,
	".ini": true, ".cfg": true, ".conf": true, ".toml": true, ".srt": true, ".vtt": true, ".tex": true, ".js": true, ".ts": true,
	".go": true, ".c": true, ".h": true, ".cpp": true, ".java": true, ".rs": true, ".sql": true, ".r": true, ".ipynb": true,
	".lst": true, ".names": true, ".label": true, ".labels": true, ".text": true, ".rst": true, ".properties": true}

// CodePreviewUnsupported is answered 415 by the api.
const CodePreviewUnsupported = "datasets.previewUnsupported"

// Preview is a file's preview: Body has at most Size bytes; the caller closes it.
type Preview struct {
	ContentType string
	Size        int64
	Truncated   bool // text: only the first PreviewTextMax bytes
	Body        io.ReadCloser
}

// Preview opens a file of a dataset the caller reads for preview: an
// image as itself (at most 10 MiB), text its first 64 KiB; other files
// are 415 datasets.previewUnsupported.
func (s *Service) Preview(ctx context.Context, id, filePath string) (*Preview, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := CleanPath(filePath, "path.filePath")
	if err != nil {
		return nil, err
	}
	f, err := s.Store.GetDatasetFile(ctx, d.ID, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errFileNotFound(p)
	}
	if err != nil {
		return nil, err
	}
	ext := strings.ToLower(path.Ext(p))
	img, isImage := imageTypes[ext]
	switch {
	case isImage && f.Size > PreviewImageMax:
		return nil, apperr.New(apperr.TooLarge, "datasets.previewTooLarge", "{path} is larger than {mb} MiB, the most a preview shows; download it",
			apperr.P{"path": p, "mb": PreviewImageMax >> 20})
	case !isImage && !textTypes[ext]:
		return nil, apperr.New(apperr.Invalid, CodePreviewUnsupported, "{path} cannot be previewed; download it", apperr.P{"path": p})
	}
	if s.Objects == nil {
		return nil, errDownloadUnavailable()
	}
	body, _, _, err := s.Objects.Get(ctx, objstore.BucketDatasets, f.ObjectKey)
	if err != nil {
		return nil, err
	}
	if isImage {
		return &Preview{ContentType: img, Size: f.Size, Body: body}, nil
	}
	size := min(f.Size, PreviewTextMax)
	return &Preview{ContentType: "text/plain; charset=utf-8", Size: size, Truncated: f.Size > size,
		Body: readCloser{io.LimitReader(body, size), body}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func errDownloadUnavailable() error {
	return apperr.UnavailableErr("datasets.downloadUnavailable", "downloads are unavailable: no object store is configured")
}
