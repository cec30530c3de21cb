package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Roll-up levels.
const (
	Level1m = "1m"
	Level1h = "1h"
)

// rollupLevel describes how one level is computed from the one below.
type rollupLevel struct {
	name        string
	step        time.Duration
	lockKey     int64  // held shared by the writers of the source
	gpuTable    string // destination tables
	hostTable   string
	fleetTable  string
	gpuSelect   string // SELECT of the destination columns from the source, grouped; $1..$2 the range; extra filter appended
	hostSelect  string
	fleetSelect string // from the fleet table below (or from gpuTable for 1m)
	next        string // the level computed from this one
}

const bin = `date_bin('%s'::interval, %s, TIMESTAMPTZ '2000-01-01 00:00:00+00')`

var levels = map[string]rollupLevel{
	Level1m: {
		name: Level1m, step: time.Minute, lockKey: rollupLockKey1m,
		gpuTable: "gpu_samples_1m", hostTable: "host_samples_1m", fleetTable: "gpu_fleet_1m", next: Level1h,
		gpuSelect: `SELECT machine_id, ` + fmt.Sprintf(bin, "1 minute", "at") + ` AS b, gpu_index, count(*), avg(utilization), max(utilization),
			avg(mem_used_mib), max(mem_used_mib), max(mem_total_mib), avg(temp_c), max(temp_c), avg(power_w), max(power_w)
			FROM gpu_samples s WHERE at >= $1 AND at < $2`,
		hostSelect: `SELECT machine_id, ` + fmt.Sprintf(bin, "1 minute", "at") + ` AS b, count(*), avg(cpu_pct), max(cpu_pct),
			avg(mem_used_mib::float8 * 100 / nullif(mem_total_mib, 0)), max(mem_used_mib::float8 * 100 / nullif(mem_total_mib, 0)),
			avg(disk_pct), max(disk_pct), avg(disk_read_bps), max(disk_read_bps), avg(disk_write_bps), max(disk_write_bps),
			avg(net_rx_bps), max(net_rx_bps), avg(net_tx_bps), max(net_tx_bps), avg(load1)
			FROM host_samples s WHERE at >= $1 AND at < $2`,
		fleetSelect: `SELECT g.bucket, m.region, sum(g.samples), sum(g.util_avg::float8 * g.samples), max(g.util_avg), count(*)
			FROM gpu_samples_1m g JOIN machines m ON m.id = g.machine_id WHERE g.bucket >= $1 AND g.bucket < $2 GROUP BY 1, 2`,
	},
	Level1h: {
		name: Level1h, step: time.Hour, lockKey: rollupLockKey1h,
		gpuTable: "gpu_samples_1h", hostTable: "host_samples_1h", fleetTable: "gpu_fleet_1h",
		gpuSelect: `SELECT machine_id, ` + fmt.Sprintf(bin, "1 hour", "bucket") + ` AS b, gpu_index, sum(samples),
			sum(util_avg::float8 * samples) / sum(samples), max(util_max), sum(mem_used_avg::float8 * samples) / sum(samples), max(mem_used_max),
			max(mem_total_mib), sum(temp_avg::float8 * samples) / sum(samples), max(temp_max), sum(power_avg::float8 * samples) / sum(samples), max(power_max)
			FROM gpu_samples_1m s WHERE bucket >= $1 AND bucket < $2`,
		hostSelect: `SELECT machine_id, ` + fmt.Sprintf(bin, "1 hour", "bucket") + ` AS b, sum(samples),
			sum(cpu_avg::float8 * samples) / sum(samples), max(cpu_max), sum(mem_pct_avg::float8 * samples) / sum(samples), max(mem_pct_max),
			sum(disk_pct_avg::float8 * samples) / sum(samples), max(disk_pct_max), sum(disk_read_avg::float8 * samples) / sum(samples), max(disk_read_max),
			sum(disk_write_avg::float8 * samples) / sum(samples), max(disk_write_max), sum(net_rx_avg::float8 * samples) / sum(samples), max(net_rx_max),
			sum(net_tx_avg::float8 * samples) / sum(samples), max(net_tx_max), sum(load1_avg::float8 * samples) / sum(samples)
			FROM host_samples_1m s WHERE bucket >= $1 AND bucket < $2`,
		fleetSelect: `SELECT ` + fmt.Sprintf(bin, "1 hour", "bucket") + `, region, sum(samples), sum(util_sum), max(util_max), max(gpus)
			FROM gpu_fleet_1m WHERE bucket >= $1 AND bucket < $2 GROUP BY 1, 2`,
	},
}

const (
	gpuRollupColumns = `(machine_id, bucket, gpu_index, samples, util_avg, util_max, mem_used_avg, mem_used_max, mem_total_mib, temp_avg, temp_max, power_avg, power_max)`
	gpuRollupUpdate  = `ON CONFLICT (machine_id, bucket, gpu_index) DO UPDATE SET samples = EXCLUDED.samples, util_avg = EXCLUDED.util_avg,
		util_max = EXCLUDED.util_max, mem_used_avg = EXCLUDED.mem_used_avg, mem_used_max = EXCLUDED.mem_used_max, mem_total_mib = EXCLUDED.mem_total_mib,
		temp_avg = EXCLUDED.temp_avg, temp_max = EXCLUDED.temp_max, power_avg = EXCLUDED.power_avg, power_max = EXCLUDED.power_max`
	hostRollupColumns = `(machine_id, bucket, samples, cpu_avg, cpu_max, mem_pct_avg, mem_pct_max, disk_pct_avg, disk_pct_max, disk_read_avg,
		disk_read_max, disk_write_avg, disk_write_max, net_rx_avg, net_rx_max, net_tx_avg, net_tx_max, load1_avg)`
	hostRollupUpdate = `ON CONFLICT (machine_id, bucket) DO UPDATE SET samples = EXCLUDED.samples, cpu_avg = EXCLUDED.cpu_avg, cpu_max = EXCLUDED.cpu_max,
		mem_pct_avg = EXCLUDED.mem_pct_avg, mem_pct_max = EXCLUDED.mem_pct_max, disk_pct_avg = EXCLUDED.disk_pct_avg, disk_pct_max = EXCLUDED.disk_pct_max,
		disk_read_avg = EXCLUDED.disk_read_avg, disk_read_max = EXCLUDED.disk_read_max, disk_write_avg = EXCLUDED.disk_write_avg,
		disk_write_max = EXCLUDED.disk_write_max, net_rx_avg = EXCLUDED.net_rx_avg, net_rx_max = EXCLUDED.net_rx_max,
		net_tx_avg = EXCLUDED.net_tx_avg, net_tx_max = EXCLUDED.net_tx_max, load1_avg = EXCLUDED.load1_avg`
)

// RollupSettle is how long after a bucket ends it is rolled up, so the
// samples of its last seconds are in (later ones count as late).
const RollupSettle = 10 * time.Second

// lateFleetWindow bounds how far back late samples make the fleet-wide
// trend recompute (every machine's buckets); older late samples still
// correct the machine's own roll-ups.
const lateFleetWindow = 6 * time.Hour

// RollupResult is what one RollUp call did.
type RollupResult struct {
	Level string
	From  time.Time // the buckets computed: [From, To)
	To    time.Time
	Late  int  // machines whose late samples were recomputed
	More  bool // the level is still behind: call again
}

// lateMark is a machine whose samples before from_at arrived after their roll-up.
type lateMark struct {
	id   string
	from time.Time
}

// RollUp computes the next buckets of a level ('1m' from the raw samples,
// '1h' from the 1-minute roll-up), at most maxSpan of them, plus every
// machine's late samples, and the fleet-wide trend of the same buckets. It
// is idempotent (upserts) and safe to run concurrently (the level's row is
// locked).
//
// Ordering against the writers: a run first claims the buckets up to
// marked_until in a short transaction that takes the level's advisory lock
// exclusively, which waits for every writer holding it shared. A writer
// that committed before the claim is visible to the computation; one that
// starts after it sees the new marked_until and records its samples before
// it as late, for the next run.
func (q *Queries) RollUp(ctx context.Context, level string, now time.Time, maxSpan time.Duration) (RollupResult, error) {
	lv, ok := levels[level]
	if !ok {
		return RollupResult{}, fmt.Errorf("unknown roll-up level %q", level)
	}
	res := RollupResult{Level: level}
	done, marked, err := q.rollupState(ctx, level)
	if err != nil {
		return res, err
	}
	target := now.Add(-RollupSettle).UTC().Truncate(lv.step)
	if level == Level1h {
		d1m, _, err := q.rollupState(ctx, Level1m)
		if err != nil {
			return res, err
		}
		if d1m == nil {
			return res, nil // nothing rolled up by the minute yet
		}
		if t := d1m.UTC().Truncate(time.Hour); t.Before(target) {
			target = t
		}
	}
	if done == nil {
		start, err := q.rollupStart(ctx, level, target)
		if err != nil {
			return res, err
		}
		if _, err := q.db.Exec(ctx, `UPDATE metrics_rollups SET done_until = $2, marked_until = $2, updated_at = now()
			WHERE level = $1 AND done_until IS NULL`, level, start); err != nil {
			return res, err
		}
		done, marked = &start, &start
	}
	claim := done.Add(maxSpan)
	if claim.After(target) {
		claim = target
	}
	if claim.After(*marked) {
		err := q.InTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lv.lockKey); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE metrics_rollups SET marked_until = greatest(marked_until, $2), updated_at = now() WHERE level = $1`, level, claim)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("unable to claim %s buckets: %w", level, err)
		}
	}

	// Partitions first, outside the transaction: creating one locks the
	// parent, which the transaction below holds once it has written.
	ensureFrom, ensureTo := *done, claim
	if marked.After(ensureTo) {
		ensureTo = *marked
	}
	var lateMin *time.Time
	if err := q.db.QueryRow(ctx, `SELECT min(from_at) FROM metrics_rollup_late WHERE level = $1`, level).Scan(&lateMin); err != nil {
		return res, err
	}
	if lateMin != nil && lateMin.Before(ensureFrom) {
		ensureFrom = lateMin.UTC().Truncate(lv.step)
	}
	for _, t := range []string{lv.gpuTable, lv.hostTable} {
		if _, err := q.EnsurePartitionsFor(ctx, t, ensureFrom, ensureTo); err != nil {
			return res, err
		}
	}

	err = q.InTx(ctx, func(tx pgx.Tx) error {
		var from, to time.Time
		if err := tx.QueryRow(ctx, `SELECT done_until, marked_until FROM metrics_rollups WHERE level = $1 FOR UPDATE`, level).Scan(&from, &to); err != nil {
			return err
		}
		res.From, res.To = from, to
		if to.After(from) {
			if _, err := tx.Exec(ctx, `INSERT INTO `+lv.gpuTable+gpuRollupColumns+lv.gpuSelect+` GROUP BY 1, 2, 3 `+gpuRollupUpdate, from, to); err != nil {
				return fmt.Errorf("unable to roll up GPU samples: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+lv.hostTable+hostRollupColumns+lv.hostSelect+` GROUP BY 1, 2 `+hostRollupUpdate, from, to); err != nil {
				return fmt.Errorf("unable to roll up host samples: %w", err)
			}
		}
		// late samples: recompute those machines' buckets before from
		rows, err := tx.Query(ctx, `DELETE FROM metrics_rollup_late WHERE level = $1 RETURNING machine_id, from_at`, level)
		late, err := collect(rows, err, func(row pgx.Row) (*lateMark, error) {
			var l lateMark
			return &l, row.Scan(&l.id, &l.from)
		})
		if err != nil {
			return err
		}
		var lateIDs []string
		var lateFrom []time.Time
		fleetFrom := from
		for _, l := range late {
			f := l.from.UTC().Truncate(lv.step)
			if !f.Before(from) {
				continue // the forward pass has it
			}
			lateIDs, lateFrom = append(lateIDs, l.id), append(lateFrom, f)
			if f.Before(fleetFrom) {
				fleetFrom = f
			}
		}
		res.Late = len(lateIDs)
		if len(lateIDs) > 0 {
			earliest := fleetFrom
			lateJoin := ` AND EXISTS (SELECT 1 FROM unnest($3::uuid[], $4::timestamptz[]) AS l(id, f) WHERE l.id = s.machine_id AND s.%s >= l.f)`
			col := "at"
			if level == Level1h {
				col = "bucket"
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+lv.gpuTable+gpuRollupColumns+lv.gpuSelect+fmt.Sprintf(lateJoin, col)+` GROUP BY 1, 2, 3 `+gpuRollupUpdate,
				earliest, from, lateIDs, lateFrom); err != nil {
				return fmt.Errorf("unable to roll up late GPU samples: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+lv.hostTable+hostRollupColumns+lv.hostSelect+fmt.Sprintf(lateJoin, col)+` GROUP BY 1, 2 `+hostRollupUpdate,
				earliest, from, lateIDs, lateFrom); err != nil {
				return fmt.Errorf("unable to roll up late host samples: %w", err)
			}
			if lv.next != "" {
				// the next level has to see them too, if it already passed them
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, levels[lv.next].lockKey); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO metrics_rollup_late (level, machine_id, from_at)
					SELECT r.level, l.id, l.f FROM unnest($1::uuid[], $2::timestamptz[]) AS l(id, f)
					JOIN metrics_rollups r ON r.level = $3 AND l.f < r.marked_until
					ON CONFLICT (level, machine_id) DO UPDATE SET from_at = least(metrics_rollup_late.from_at, EXCLUDED.from_at)`,
					lateIDs, lateFrom, lv.next); err != nil {
					return err
				}
			}
			if min := to.Add(-lateFleetWindow).Truncate(lv.step); fleetFrom.Before(min) {
				fleetFrom = min
			}
		}
		if to.After(fleetFrom) {
			if _, err := tx.Exec(ctx, `DELETE FROM `+lv.fleetTable+` WHERE bucket >= $1 AND bucket < $2`, fleetFrom, to); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+lv.fleetTable+` (bucket, region, samples, util_sum, util_max, gpus) `+lv.fleetSelect, fleetFrom, to); err != nil {
				return fmt.Errorf("unable to roll up the fleet trend: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE metrics_rollups SET done_until = marked_until, updated_at = now() WHERE level = $1`, level)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("unable to roll up %s: %w", level, err)
	}
	res.More = res.To.Before(target)
	return res, nil
}

func (q *Queries) rollupState(ctx context.Context, level string) (done, marked *time.Time, err error) {
	err = q.db.QueryRow(ctx, `SELECT done_until, marked_until FROM metrics_rollups WHERE level = $1`, level).Scan(&done, &marked)
	return done, marked, err
}

// rollupStart is where a level that never ran begins: at the oldest
// partition of its source, or at target when there is none.
func (q *Queries) rollupStart(ctx context.Context, level string, target time.Time) (time.Time, error) {
	src := RawMetricTables[0]
	if level == Level1h {
		src = MinuteMetricTables[0]
	}
	parts, err := q.ListPartitions(ctx, src)
	if err != nil || len(parts) == 0 || !parts[0].From.Before(target) {
		return target, err
	}
	return parts[0].From.Truncate(levels[level].step), nil
}

// RollupWatermarks are how far each level is computed (zero: never ran).
type RollupWatermarks struct {
	Done1m, Done1h time.Time
}

func (q *Queries) RollupWatermarks(ctx context.Context) (RollupWatermarks, error) {
	var w RollupWatermarks
	var d1m, d1h *time.Time
	err := q.db.QueryRow(ctx, `SELECT (SELECT done_until FROM metrics_rollups WHERE level = '1m'),
		(SELECT done_until FROM metrics_rollups WHERE level = '1h')`).Scan(&d1m, &d1h)
	if d1m != nil {
		w.Done1m = d1m.UTC()
	}
	if d1h != nil {
		w.Done1h = d1h.UTC()
	}
	return w, err
}

// DeleteFleetBefore trims the fleet-wide trend tables (a few rows per
// minute, so plain DELETE) and forgets late notes older than the raw retention.
func (q *Queries) DeleteFleetBefore(ctx context.Context, cut1m, cut1h, cutRaw time.Time) (int64, error) {
	var n int64
	for _, del := range []struct {
		sql string
		cut time.Time
	}{{`DELETE FROM gpu_fleet_1m WHERE bucket < $1`, cut1m}, {`DELETE FROM gpu_fleet_1h WHERE bucket < $1`, cut1h},
		{`DELETE FROM metrics_rollup_late WHERE from_at < $1`, cutRaw}} {
		tag, err := q.db.Exec(ctx, del.sql, del.cut)
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
