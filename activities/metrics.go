package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/remotegpu/remotegpu/store"
)

// Metrics are the monitoring's housekeeping activities, run by the
// monitoring schedules: offline detection, roll-ups, partitions and retention.
type Metrics struct {
	Store *store.Store
	// Now is the clock; nil means time.Now (tests drive it).
	Now func() time.Time
}

func (a *Metrics) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

type MarkOfflineInput struct {
	// OfflineAfter is how long a machine may stay silent: 3 sample intervals.
	OfflineAfter time.Duration
}

type MarkOfflineResult struct {
	MachineIDs []string // turned offline by this run
}

// MarkOffline turns online machines silent for longer than OfflineAfter
// offline (NOTIFY machine_status, '<id>:offline' for each). Machines in
// maintenance, and those no agent ever reported for, are left alone.
func (a *Metrics) MarkOffline(ctx context.Context, in MarkOfflineInput) (MarkOfflineResult, error) {
	if in.OfflineAfter <= 0 {
		return MarkOfflineResult{}, fmt.Errorf("unable to detect offline machines: OfflineAfter must be positive")
	}
	ids, err := a.Store.MarkStaleOffline(ctx, a.now().Add(-in.OfflineAfter))
	if err != nil {
		return MarkOfflineResult{}, fmt.Errorf("unable to mark silent machines offline: %w", err)
	}
	if len(ids) > 0 && activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Info("machines offline", "count", len(ids))
	}
	return MarkOfflineResult{MachineIDs: ids}, nil
}

type RollUpInput struct {
	Level   string        // store.Level1m or store.Level1h
	MaxSpan time.Duration // buckets per call; the workflow calls again while More
}

// RollUp computes the next buckets of a roll-up level and the late samples.
func (a *Metrics) RollUp(ctx context.Context, in RollUpInput) (store.RollupResult, error) {
	res, err := a.Store.RollUp(ctx, in.Level, a.now(), in.MaxSpan)
	if err != nil {
		return res, fmt.Errorf("unable to roll up %s: %w", in.Level, err)
	}
	return res, nil
}

type EnsurePartitionsInput struct {
	DaysAhead int // daily partitions from today to today+DaysAhead; the current and next month for the hourly tables
}

type EnsurePartitionsResult struct {
	Created []string
}

// EnsurePartitions creates the metric partitions ahead of time, so the
// ingest path does not have to (it can, when this has not run).
func (a *Metrics) EnsurePartitions(ctx context.Context, in EnsurePartitionsInput) (EnsurePartitionsResult, error) {
	now := a.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var res EnsurePartitionsResult
	ahead := today.AddDate(0, 0, in.DaysAhead+1)
	for _, t := range append(append([]string{}, store.RawMetricTables...), store.MinuteMetricTables...) {
		created, err := a.Store.EnsurePartitionsFor(ctx, t, today, ahead)
		res.Created = append(res.Created, created...)
		if err != nil {
			return res, err
		}
	}
	for _, t := range store.HourMetricTables {
		created, err := a.Store.EnsurePartitionsFor(ctx, t, today, ahead.AddDate(0, 1, 0))
		res.Created = append(res.Created, created...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

type DropExpiredInput struct {
	RetentionRaw time.Duration
	Retention1m  time.Duration
	Retention1h  time.Duration
}

type DropExpiredResult struct {
	Dropped     []string // partitions
	RowsDeleted int64    // fleet trend rows and stale late notes
}

// DropExpired drops the partitions wholly older than their retention (never
// row by row) and trims the small fleet-trend tables.
func (a *Metrics) DropExpired(ctx context.Context, in DropExpiredInput) (DropExpiredResult, error) {
	if in.RetentionRaw <= 0 || in.Retention1m <= 0 || in.Retention1h <= 0 {
		return DropExpiredResult{}, fmt.Errorf("unable to apply retention: every retention must be positive")
	}
	now := a.now()
	var res DropExpiredResult
	for _, g := range []struct {
		tables    []string
		retention time.Duration
	}{{store.RawMetricTables, in.RetentionRaw}, {store.MinuteMetricTables, in.Retention1m}, {store.HourMetricTables, in.Retention1h}} {
		for _, t := range g.tables {
			dropped, err := a.Store.DropPartitionsBefore(ctx, t, now.Add(-g.retention))
			res.Dropped = append(res.Dropped, dropped...)
			if err != nil {
				return res, err
			}
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, len(res.Dropped))
			}
		}
	}
	n, err := a.Store.DeleteFleetBefore(ctx, now.Add(-in.Retention1m), now.Add(-in.Retention1h), now.Add(-in.RetentionRaw))
	res.RowsDeleted = n
	if err != nil {
		return res, fmt.Errorf("unable to trim the fleet trend: %w", err)
	}
	return res, nil
}
