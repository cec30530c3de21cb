// Package store is the data access layer over pgx: a file per table or per
// feature (lease cleanup, metrics queries, reconciliation).
//
// Every query is a method on *Queries, which runs on a DBTX: the pool or a
// transaction. Store embeds the Queries of its pool, so st.X(ctx, ...) runs
// on the pool; store.New(tx).X(ctx, ...) runs the same query inside a
// caller's transaction. Rows are read with collect (or pgx.CollectRows) and
// the scanX function of each table.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remotegpu/remotegpu/schema"
)

// ErrNotFound is returned when a row does not exist (or is not visible to the caller's tenant).
var ErrNotFound = errors.New("not found")

// Store is the pool with its Queries. Only what needs the pool itself stays
// on *Store (Close; the Ingester holds the Store for its own transactions).
type Store struct {
	*Queries
	Pool *pgxpool.Pool
}

func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("unable to parse DATABASE_URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("unable to reach postgres: %w", err)
	}
	return &Store{Queries: New(pool), Pool: pool}, nil
}

func (s *Store) Close() { s.Pool.Close() }

// Migrate applies every pending up migration. It holds Postgres' advisory
// lock (inside golang-migrate), so concurrent replicas are safe.
func Migrate(dsn string) error {
	src, err := iofs.New(schema.Migrations, ".")
	if err != nil {
		return fmt.Errorf("unable to read migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, pgx5URL(dsn))
	if err != nil {
		return fmt.Errorf("unable to start migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("unable to migrate: %w", err)
	}
	return nil
}

// pgx5URL turns a postgres:// URL (or a key=value DSN) into the pgx5:// form golang-migrate wants.
func pgx5URL(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "pgx5://" + dsn[strings.Index(dsn, "://")+3:]
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return dsn
	}
	u := url.URL{Scheme: "pgx5", User: url.UserPassword(cfg.User, cfg.Password), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	if strings.HasPrefix(cfg.Host, "/") {
		u.Host = ""
		q := url.Values{"host": {cfg.Host}, "port": {fmt.Sprint(cfg.Port)}}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// IsUniqueViolation reports a unique constraint failure; name narrows it to one constraint or index.
func IsUniqueViolation(err error, name string) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return name == "" || pe.ConstraintName == name
	}
	return false
}

// IsForeignKeyViolation reports a foreign key failure.
func IsForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// collect reads every row of a query with scan (a scanX function of this
// package or a closure); err is the query's own error, so calls chain
// directly. The list is empty, not nil, when there are no rows.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, *v)
	}
	return list, rows.Err()
}

// DBTX is what a query runs on: the pool or a transaction (Begin on a
// transaction makes a savepoint).
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Queries holds every query of the package; db is the pool or a transaction.
type Queries struct {
	db DBTX
}

// New returns the queries that run on db.
func New(db DBTX) *Queries { return &Queries{db: db} }

// InTx runs fn in a transaction (a savepoint when q is already in one),
// committing when fn returns nil.
func (q *Queries) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, q.db, fn)
}
