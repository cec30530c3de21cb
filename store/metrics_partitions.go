package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The partitioned metric tables. Raw and 1-minute tables have a partition
// per UTC day (<parent>_pYYYYMMDD), the 1-hour ones per UTC month
// (<parent>_pYYYYMM). Partitions are only ever created by EnsurePartition and
// dropped by DropPartitionsBefore, so their names carry their bounds.
var (
	RawMetricTables    = []string{"gpu_samples", "host_samples"}
	MinuteMetricTables = []string{"gpu_samples_1m", "host_samples_1m"}
	HourMetricTables   = []string{"gpu_samples_1h", "host_samples_1h"}
)

func monthlyPartitions(parent string) bool { return strings.HasSuffix(parent, "_1h") }

// partitionLockKey serialises partition DDL across api and worker replicas.
const partitionLockKey = 7274002

// PartitionBounds is the partition of parent holding t: its name and UTC bounds.
func PartitionBounds(parent string, t time.Time) (name string, from, to time.Time) {
	t = t.UTC()
	if monthlyPartitions(parent) {
		from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return fmt.Sprintf("%s_p%04d%02d", parent, t.Year(), int(t.Month())), from, from.AddDate(0, 1, 0)
	}
	from = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("%s_p%04d%02d%02d", parent, t.Year(), int(t.Month()), t.Day()), from, from.AddDate(0, 0, 1)
}

// EnsurePartition creates the partition of parent holding t unless it
// exists; created tells which.
func (q *Queries) EnsurePartition(ctx context.Context, parent string, t time.Time) (created bool, err error) {
	name, from, to := PartitionBounds(parent, t)
	err = q.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLockKey); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || exists {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{parent}.Sanitize(), from.Format(time.RFC3339), to.Format(time.RFC3339)))
		created = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("unable to create partition %s: %w", name, err)
	}
	return created, nil
}

// EnsurePartitionsFor creates the partitions of parent covering [from, to).
func (q *Queries) EnsurePartitionsFor(ctx context.Context, parent string, from, to time.Time) ([]string, error) {
	var created []string
	for t := from; t.Before(to); {
		name, _, next := PartitionBounds(parent, t)
		ok, err := q.EnsurePartition(ctx, parent, t)
		if err != nil {
			return created, err
		}
		if ok {
			created = append(created, name)
		}
		t = next
	}
	return created, nil
}

// Partition is one partition of a metric table.
type Partition struct {
	Name          string
	From, To      time.Time
	DetachPending bool
}

// ListPartitions returns parent's partitions, oldest first.
func (q *Queries) ListPartitions(ctx context.Context, parent string) ([]Partition, error) {
	rows, err := q.db.Query(ctx, `SELECT c.relname, i.inhdetachpending FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = $1 AND p.relnamespace = 'public'::regnamespace`, parent)
	all, err := collect(rows, err, func(row pgx.Row) (*Partition, error) {
		var p Partition
		return &p, row.Scan(&p.Name, &p.DetachPending)
	})
	if err != nil {
		return nil, err
	}
	var out []Partition
	for _, p := range all {
		suffix, ok := strings.CutPrefix(p.Name, parent+"_p")
		if !ok {
			continue // not one of ours
		}
		layout := "20060102"
		if monthlyPartitions(parent) {
			layout = "200601"
		}
		t, err := time.Parse(layout, suffix)
		if err != nil {
			continue
		}
		_, p.From, p.To = PartitionBounds(parent, t)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out, nil
}

// DropPartitionsBefore drops every partition of parent that ends at or
// before cutoff: detached CONCURRENTLY first, so writers to the parent are
// not blocked, then dropped. A detach interrupted earlier is finalised.
func (q *Queries) DropPartitionsBefore(ctx context.Context, parent string, cutoff time.Time) ([]string, error) {
	parts, err := q.ListPartitions(ctx, parent)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, p := range parts {
		if p.To.After(cutoff) {
			break
		}
		ident, parentIdent := pgx.Identifier{p.Name}.Sanitize(), pgx.Identifier{parent}.Sanitize()
		mode := "CONCURRENTLY"
		if p.DetachPending {
			mode = "FINALIZE"
		}
		if _, err := q.db.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s DETACH PARTITION %s %s`, parentIdent, ident, mode)); err != nil {
			var pe *pgconn.PgError
			if !(errors.As(err, &pe) && pe.Code == "42P01") { // already gone: another replica dropped it
				return dropped, fmt.Errorf("unable to detach partition %s: %w", p.Name, err)
			}
		}
		if _, err := q.db.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s`, ident)); err != nil {
			return dropped, fmt.Errorf("unable to drop partition %s: %w", p.Name, err)
		}
		dropped = append(dropped, p.Name)
	}
	return dropped, nil
}

// isNoPartition reports an insert for which no partition exists.
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Message, "no partition")
}
