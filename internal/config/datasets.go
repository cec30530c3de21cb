package config

import (
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
)

// Datasets is how dataset storage behaves (docs/datasets.md).
type Datasets struct {
	// DefaultQuota is a company's storage quota unless an admin set its own
	// (STORAGE_DEFAULT_QUOTA, 100GiB).
	DefaultQuota int64
	// Capacity is the object store's capacity shown to admins when the
	// store does not report one (STORAGE_CAPACITY, 10TiB).
	Capacity int64
	// ImportMaxBytes caps one URL or machine import (DATASET_IMPORT_MAX, 50GiB).
	ImportMaxBytes int64
	// ExtractMaxBytes, ExtractMaxFiles and ExtractMaxRatio bound what one
	// archive may unpack to (DATASET_EXTRACT_MAX 100GiB, DATASET_EXTRACT_MAX_FILES
	// 1000000, DATASET_EXTRACT_MAX_RATIO 200).
	ExtractMaxBytes int64
	ExtractMaxFiles int
	ExtractMaxRatio int
	// AbandonAfter is when an upload nobody touched is aborted and its
	// parts removed (DATASET_UPLOAD_ABANDON_AFTER, 7d).
	AbandonAfter time.Duration
	// ImportAllowPrivate lets URL imports reach loopback and private
	// addresses (DATASET_IMPORT_ALLOW_PRIVATE; tests and dev only).
	ImportAllowPrivate bool
}

// WithDefaults fills every zero field (tests build Config by hand).
func (d Datasets) WithDefaults() Datasets {
	if d.DefaultQuota <= 0 {
		d.DefaultQuota = 100 << 30
	}
	if d.Capacity <= 0 {
		d.Capacity = 10 << 40
	}
	if d.ImportMaxBytes <= 0 {
		d.ImportMaxBytes = 50 << 30
	}
	if d.ExtractMaxBytes <= 0 {
		d.ExtractMaxBytes = 100 << 30
	}
	if d.ExtractMaxFiles <= 0 {
		d.ExtractMaxFiles = 1_000_000
	}
	if d.ExtractMaxRatio <= 0 {
		d.ExtractMaxRatio = 200
	}
	if d.AbandonAfter <= 0 {
		d.AbandonAfter = 7 * 24 * time.Hour
	}
	return d
}

func loadDatasets(errs *[]string) Datasets {
	var d Datasets
	size := func(key, def string, into *int64) {
		n, err := humanize.ParseBytes(env(key, def))
		if err != nil || n == 0 || n > 1<<62 {
			*errs = append(*errs, fmt.Sprintf("%s: must be a size such as 100GiB", key))
			return
		}
		*into = int64(n)
	}
	size("STORAGE_DEFAULT_QUOTA", "100GiB", &d.DefaultQuota)
	size("STORAGE_CAPACITY", "10TiB", &d.Capacity)
	size("DATASET_IMPORT_MAX", "50GiB", &d.ImportMaxBytes)
	size("DATASET_EXTRACT_MAX", "100GiB", &d.ExtractMaxBytes)
	var n int64
	size("DATASET_EXTRACT_MAX_FILES", "1000000", &n)
	d.ExtractMaxFiles = int(n)
	size("DATASET_EXTRACT_MAX_RATIO", "200", &n)
	d.ExtractMaxRatio = int(n)
	if a, err := ParseDays(env("DATASET_UPLOAD_ABANDON_AFTER", "7d")); err != nil || a < time.Hour {
		*errs = append(*errs, "DATASET_UPLOAD_ABANDON_AFTER: must be a duration of at least 1h (e.g. 36h, 7d)")
	} else {
		d.AbandonAfter = a
	}
	d.ImportAllowPrivate = env("DATASET_IMPORT_ALLOW_PRIVATE", "") == "true"
	return d.WithDefaults()
}
