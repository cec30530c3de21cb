package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Monitoring is how agents report and how long their metrics are kept.
type Monitoring struct {
	// SampleInterval is how often agents sample (AGENT_SAMPLE_INTERVAL, 5s);
	// a machine is offline after 3 missed intervals.
	SampleInterval time.Duration
	// Retention of raw samples and of the 1-minute and 1-hour roll-ups
	// (METRICS_RETENTION_RAW 7d, METRICS_RETENTION_1M 30d, METRICS_RETENTION_1H 365d).
	RetentionRaw time.Duration
	Retention1m  time.Duration
	Retention1h  time.Duration
	// BatchWait is how long the ingest batcher waits for more samples before
	// a COPY (METRICS_BATCH_WAIT, 20ms); BatchRows caps the rows of one COPY
	// (METRICS_BATCH_ROWS, 5000).
	BatchWait time.Duration
	BatchRows int
}

// Monitoring defaults.
const (
	DefaultSampleInterval = 5 * time.Second
	DefaultRetentionRaw   = 7 * 24 * time.Hour
	DefaultRetention1m    = 30 * 24 * time.Hour
	DefaultRetention1h    = 365 * 24 * time.Hour
	DefaultBatchWait      = 20 * time.Millisecond
	DefaultBatchRows      = 5000
)

// WithDefaults fills every zero field (tests build Config by hand).
func (m Monitoring) WithDefaults() Monitoring {
	if m.SampleInterval <= 0 {
		m.SampleInterval = DefaultSampleInterval
	}
	if m.RetentionRaw <= 0 {
		m.RetentionRaw = DefaultRetentionRaw
	}
	if m.Retention1m <= 0 {
		m.Retention1m = DefaultRetention1m
	}
	if m.Retention1h <= 0 {
		m.Retention1h = DefaultRetention1h
	}
	if m.BatchWait < 0 {
		m.BatchWait = 0
	} else if m.BatchWait == 0 {
		m.BatchWait = DefaultBatchWait
	}
	if m.BatchRows <= 0 {
		m.BatchRows = DefaultBatchRows
	}
	return m
}

// loadMonitoring reads the monitoring variables, appending problems to errs.
func loadMonitoring(errs *[]string) Monitoring {
	var m Monitoring
	dur := func(key, def string, min time.Duration, into *time.Duration) {
		d, err := ParseDays(env(key, def))
		if err != nil || d < min {
			*errs = append(*errs, fmt.Sprintf("%s: must be a duration of at least %s (e.g. 5s, 90m, 7d)", key, min))
			return
		}
		*into = d
	}
	dur("AGENT_SAMPLE_INTERVAL", "5s", time.Second, &m.SampleInterval)
	if m.SampleInterval%time.Second != 0 {
		*errs = append(*errs, "AGENT_SAMPLE_INTERVAL: must be whole seconds")
	}
	dur("METRICS_RETENTION_RAW", "7d", 24*time.Hour, &m.RetentionRaw)
	dur("METRICS_RETENTION_1M", "30d", 24*time.Hour, &m.Retention1m)
	dur("METRICS_RETENTION_1H", "365d", 24*time.Hour, &m.Retention1h)
	dur("METRICS_BATCH_WAIT", "20ms", 0, &m.BatchWait)
	if m.BatchWait == 0 {
		m.BatchWait = -1 // explicit 0: flush as soon as a writer is free
	}
	if n, err := strconv.Atoi(env("METRICS_BATCH_ROWS", "5000")); err != nil || n < 1 {
		*errs = append(*errs, "METRICS_BATCH_ROWS: must be a positive number of rows")
	} else {
		m.BatchRows = n
	}
	return m.WithDefaults()
}

// ParseDays is time.ParseDuration that also takes whole days ("7d").
func ParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid number of days %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
