// Package extract unpacks zip, tar and tar.gz archives safely
// (docs/datasets.md, DatasetIngest step 3): every entry's path is cleaned
// by the caller's rule and must stay inside the dataset, links and devices
// are refused, and the bytes actually read (never the headers' claims) are
// bounded in total, per file count and as a ratio to the archive's size.
package extract

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// Format is an archive's kind.
type Format string

const (
	Zip   Format = "zip"
	Tar   Format = "tar"
	TarGz Format = "tar.gz"
)

// FormatOf tells an archive's format by its name (zip, tar, tar.gz, tgz).
func FormatOf(name string) (Format, bool) {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zip"):
		return Zip, true
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return TarGz, true
	case strings.HasSuffix(n, ".tar"):
		return Tar, true
	}
	return "", false
}

// Limits bound what one archive may unpack to.
type Limits struct {
	MaxBytes int64 // the sum of the entries' real sizes
	MaxFiles int
	MaxRatio int // unpacked bytes / archive bytes
}

// Error is why an archive was refused: Reason is the key of a
// uploads.reason.* code, Params its figures.
type Error struct {
	Reason string
	Params map[string]any
	err    error
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("archive refused (%s %v): %v", e.Reason, e.Params, e.err)
	}
	return fmt.Sprintf("archive refused (%s %v)", e.Reason, e.Params)
}

func (e *Error) Unwrap() error { return e.err }

// Reasons (uploads.reason.<Reason>).
const (
	ReasonUnsafePath   = "archiveUnsafePath"
	ReasonLink         = "archiveLink"
	ReasonTooLarge     = "archiveTooLarge"
	ReasonTooManyFiles = "archiveTooManyFiles"
	ReasonRatio        = "archiveRatio"
	ReasonCorrupt      = "archiveCorrupt"
)

func refuse(reason string, params map[string]any, err error) *Error {
	if params == nil {
		params = map[string]any{}
	}
	return &Error{Reason: reason, Params: params, err: err}
}

// Put stores one regular file of the archive under its cleaned path; r
// yields its bytes, sizeHint is the header's claim (the reader is bounded
// and checked: it never yields more than the limits allow).
type Put func(ctx context.Context, path string, r io.Reader, sizeHint int64) error

// Stats is what was unpacked.
type Stats struct {
	Files int
	Bytes int64
}

// Source is an archive: read in order, or at offsets for zip.
type Source interface {
	io.Reader
	io.ReaderAt
}

// Extract unpacks the archive src of size bytes. clean turns an entry's
// name into the dataset path, or refuses it. The first refusal stops it
// with an *Error; what was put before stays for the caller to remove.
func Extract(ctx context.Context, f Format, src Source, size int64, lim Limits, clean func(string) (string, error), put Put) (Stats, error) {
	b := &budget{lim: lim, archive: size}
	switch f {
	case Zip:
		return b.zip(ctx, src, size, clean, put)
	case Tar:
		return b.tar(ctx, src, clean, put)
	case TarGz:
		gz, err := gzip.NewReader(src)
		if err != nil {
			return Stats{}, refuse(ReasonCorrupt, nil, err)
		}
		defer gz.Close()
		return b.tar(ctx, gz, clean, put)
	}
	return Stats{}, fmt.Errorf("unknown archive format %q", f)
}

type budget struct {
	lim     Limits
	archive int64
	st      Stats
}

// room is how many more bytes may be unpacked.
func (b *budget) room() int64 {
	r := b.lim.MaxBytes - b.st.Bytes
	if b.lim.MaxRatio > 0 {
		arch := max(b.archive, 1)
		if rr := arch*int64(b.lim.MaxRatio) - b.st.Bytes; rr < r {
			r = rr
		}
	}
	return r
}

func (b *budget) overError() *Error {
	arch := max(b.archive, 1)
	if b.lim.MaxRatio > 0 && b.st.Bytes > arch*int64(b.lim.MaxRatio) {
		return refuse(ReasonRatio, map[string]any{"ratio": b.lim.MaxRatio}, nil)
	}
	return refuse(ReasonTooLarge, map[string]any{"maxBytes": b.lim.MaxBytes}, nil)
}

// limited counts the bytes read and fails once they pass the budget.
type limited struct {
	r    io.Reader
	b    *budget
	over bool
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.b.st.Bytes += int64(n)
	if l.b.room() < 0 {
		l.over = true
		return n, errOver
	}
	return n, err
}

var errOver = errors.New("the archive unpacks to more than allowed")

func (b *budget) entry(ctx context.Context, name string, r io.Reader, sizeHint int64, clean func(string) (string, error), put Put) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := cleanName(name, clean)
	if err != nil {
		return err
	}
	b.st.Files++
	if b.lim.MaxFiles > 0 && b.st.Files > b.lim.MaxFiles {
		return refuse(ReasonTooManyFiles, map[string]any{"max": b.lim.MaxFiles}, nil)
	}
	if sizeHint > b.room() {
		// the header already says too much; the real bytes are counted anyway
		b.st.Bytes += sizeHint
		return b.overError()
	}
	lr := &limited{r: r, b: b}
	err = put(ctx, p, lr, sizeHint)
	if lr.over {
		return b.overError()
	}
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return ae
		}
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) {
			return refuse(ReasonCorrupt, map[string]any{"path": p}, err)
		}
		return err
	}
	// whatever the header claimed, the entry must end here
	if n, err := io.Copy(io.Discard, lr); lr.over {
		return b.overError()
	} else if err != nil || n > 0 {
		return refuse(ReasonCorrupt, map[string]any{"path": p}, err)
	}
	return nil
}

func cleanName(name string, clean func(string) (string, error)) (string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || (len(name) > 1 && name[1] == ':') {
		return "", refuse(ReasonUnsafePath, map[string]any{"path": short(name)}, nil)
	}
	for _, seg := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return "", refuse(ReasonUnsafePath, map[string]any{"path": short(name)}, nil)
		}
	}
	p, err := clean(name)
	if err != nil {
		return "", refuse(ReasonUnsafePath, map[string]any{"path": short(name)}, err)
	}
	return p, nil
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (b *budget) zip(ctx context.Context, src io.ReaderAt, size int64, clean func(string) (string, error), put Put) (Stats, error) {
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return b.st, refuse(ReasonCorrupt, nil, err)
	}
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if _, err := cleanName(strings.TrimSuffix(f.Name, "/")+"/x", clean); err != nil && f.Name != "/" {
				return b.st, err
			}
			continue
		case mode&fs.ModeSymlink != 0:
			return b.st, refuse(ReasonLink, map[string]any{"path": short(f.Name)}, nil)
		case !mode.IsRegular():
			return b.st, refuse(ReasonLink, map[string]any{"path": short(f.Name)}, nil)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return b.st, refuse(ReasonCorrupt, map[string]any{"path": short(f.Name)}, zip.ErrAlgorithm)
		}
		rc, err := f.Open()
		if err != nil {
			return b.st, refuse(ReasonCorrupt, map[string]any{"path": short(f.Name)}, err)
		}
		hint := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > 1<<62 {
			hint = 1 << 62
		}
		err = b.entry(ctx, f.Name, rc, hint, clean, put)
		rc.Close()
		if err != nil {
			return b.st, err
		}
	}
	return b.st, nil
}

func (b *budget) tar(ctx context.Context, r io.Reader, clean func(string) (string, error), put Put) (Stats, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return b.st, nil
		}
		if err != nil {
			return b.st, refuse(ReasonCorrupt, nil, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if _, err := cleanName(strings.TrimSuffix(h.Name, "/")+"/x", clean); err != nil && h.Name != "./" && h.Name != "." {
				return b.st, err
			}
			continue
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			continue
		default: // symlinks, hard links, devices, fifos, sparse files
			return b.st, refuse(ReasonLink, map[string]any{"path": short(h.Name)}, nil)
		}
		if err := b.entry(ctx, h.Name, tr, h.Size, clean, put); err != nil {
			return b.st, err
		}
	}
}

// CleanPath is the dataset path rule (internal/datasets.CleanPath, which
// this package cannot import): relative, '/'-separated, no '.', '..' or
// empty segments, no NUL or backslash, UTF-8, at most 1024 bytes.
func CleanPath(p string) (string, error) {
	bad := fmt.Errorf("%q is not a valid path inside a dataset", short(p))
	if p == "" || len(p) > 1024 || !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "/") {
		return "", bad
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", bad
		}
	}
	c := path.Clean(p)
	if c == "." || c == "" || strings.HasPrefix(c, "../") {
		return "", bad
	}
	return c, nil
}

// CheckZip looks at a zip's central directory only, before anything is
// unpacked, so that an upload can be refused at once (a clear 400 rather
// than a dataset that fails later): unsafe names, links and devices, too
// many files, and declared sizes over the limits or the ratio. The sizes a
// zip declares may lie; Extract counts the real bytes again.
func CheckZip(src io.ReaderAt, size int64, lim Limits, clean func(string) (string, error)) error {
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return refuse(ReasonCorrupt, nil, err)
	}
	var files int
	var declared uint64
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if _, err := cleanName(strings.TrimSuffix(f.Name, "/")+"/x", clean); err != nil && f.Name != "/" {
				return err
			}
			continue
		case mode&fs.ModeSymlink != 0 || !mode.IsRegular():
			return refuse(ReasonLink, map[string]any{"path": short(f.Name)}, nil)
		}
		if _, err := cleanName(f.Name, clean); err != nil {
			return err
		}
		if files++; lim.MaxFiles > 0 && files > lim.MaxFiles {
			return refuse(ReasonTooManyFiles, map[string]any{"max": lim.MaxFiles}, nil)
		}
		declared += f.UncompressedSize64
		if lim.MaxRatio > 0 && declared > uint64(max(size, 1))*uint64(lim.MaxRatio) {
			return refuse(ReasonRatio, map[string]any{"ratio": lim.MaxRatio}, nil)
		}
		if lim.MaxBytes > 0 && declared > uint64(lim.MaxBytes) {
			return refuse(ReasonTooLarge, map[string]any{"maxBytes": lim.MaxBytes}, nil)
		}
	}
	return nil
}
