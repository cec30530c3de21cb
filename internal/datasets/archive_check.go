package datasets

import (
	"context"
	"errors"
	"log/slog"
	"path"

	"github.com/dustin/go-humanize"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/extract"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// checkArchive looks at a zip upload's central directory once all of it is
// stored, before it is recorded: an archive that could never be unpacked
// (zip slip, links, a zip bomb by its own declared sizes, too many files)
// is refused with a 400 now, its object removed and its upload aborted,
// instead of failing the dataset later. Tar archives have no directory to
// look at without reading all of them: the ingest checks them (and
// checks zips again, counting the real bytes).
func (s *Service) checkArchive(ctx context.Context, u *store.DatasetUpload) error {
	if !u.Archive {
		return nil
	}
	if f, _ := extract.FormatOf(u.Path); f != extract.Zip {
		return nil
	}
	obj, size, err := s.Objects.Open(ctx, objstore.BucketDatasets, u.ObjectKey)
	if err != nil {
		return err
	}
	lim := extract.Limits{MaxBytes: s.Config.ExtractMaxBytes, MaxFiles: s.Config.ExtractMaxFiles, MaxRatio: s.Config.ExtractMaxRatio}
	err = extract.CheckZip(obj, size, lim, extract.CleanPath)
	obj.Close()
	var xe *extract.Error
	if !errors.As(err, &xe) {
		return err
	}
	if rerr := s.Objects.Remove(ctx, objstore.BucketDatasets, u.ObjectKey); rerr != nil {
		slog.WarnContext(ctx, "unable to remove a refused archive", "key", u.ObjectKey, "err", rerr)
	}
	if aerr := s.Store.AbortDatasetUpload(ctx, u.ID); aerr != nil {
		return aerr
	}
	return archiveRefused(xe, path.Base(u.Path))
}

// archiveRefused is the 400 of a refused archive, with the texts of the
// ingest's reasons (uploads.reason.archive*).
func archiveRefused(xe *extract.Error, archive string) error {
	p := apperr.P{"archive": archive}
	for k, v := range xe.Params {
		p[k] = v
	}
	if n, ok := p["maxBytes"].(int64); ok {
		p["max"] = humanize.IBytes(uint64(max(n, 0)))
	}
	var e *apperr.Error
	switch xe.Reason {
	case extract.ReasonUnsafePath:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveUnsafePath", "The archive {archive} holds an unsafe path {path} (absolute or ..): refused", p)
	case extract.ReasonLink:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveLink", "The archive {archive} holds a link or device {path}: refused", p)
	case extract.ReasonTooLarge:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveTooLarge", "The archive {archive} unpacks to more than {max}", p)
	case extract.ReasonTooManyFiles:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveTooManyFiles", "The archive {archive} holds more than {max} files", p)
	case extract.ReasonRatio:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveRatio", "The archive {archive} is compressed more than {ratio} times (a zip bomb?)", p)
	default:
		e = apperr.New(apperr.Invalid, "uploads.reason.archiveCorrupt", "The archive {archive} is damaged or of an unsupported kind", p)
	}
	return e.AtField("body")
}
