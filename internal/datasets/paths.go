package datasets

import (
	"path"
	"strings"
	"unicode/utf8"

	"github.com/remotegpu/remotegpu/internal/apperr"
)

// MaxPathBytes bounds a file's path inside a dataset.
const MaxPathBytes = 1024

// CleanPath turns a file path from a browser, an archive or a host into the
// dataset's form: relative, '/'-separated, no '.', '..' or empty segments.
// A path that would leave the dataset (absolute, '..' above the root),
// holds a NUL or a backslash, or is not UTF-8 is refused: nothing is
// silently moved elsewhere. field names the input in the error.
func CleanPath(p, field string) (string, error) {
	bad := func() error {
		return apperr.New(apperr.Invalid, "datasets.badPath", "{path} is not a valid file path inside a dataset",
			apperr.P{"path": truncate(p, 200)}).AtField(field)
	}
	if p == "" || len(p) > MaxPathBytes || !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "/") {
		return "", bad()
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", bad()
		}
	}
	c := path.Clean(p)
	if c == "." || c == "" || strings.HasPrefix(c, "../") {
		return "", bad()
	}
	return c, nil
}

// CleanDir is CleanPath for a folder, where "" (or "/") is the dataset's root.
func CleanDir(p, field string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	return CleanPath(p, field)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
