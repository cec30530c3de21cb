// Package storetest gives each test its own migrated Postgres database, cloned
// from a template that is migrated once per schema version.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/schema"
	"github.com/remotegpu/remotegpu/store"
)

var (
	once     sync.Once
	tmplName string
	tmplErr  error
)

// URL returns TEST_DATABASE_URL or fails the test with how to get one.
func URL(t testing.TB) string {
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test` (or `bin/remotegpu testenv -- go test ./...`), " +
			"or point it at a Postgres superuser connection, e.g. postgres://postgres@127.0.0.1:5432/postgres")
	}
	return u
}

// New creates a fresh database for the test, dropped at cleanup, and returns
// a store connected to it and its DSN.
func New(t testing.TB) (*store.Store, string) {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	once.Do(func() { tmplName, tmplErr = template(ctx, base) })
	if tmplErr != nil {
		t.Fatalf("unable to prepare the template database: %v", tmplErr)
	}
	name := "t_" + randHex(8)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("unable to connect to TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmplName)); err != nil {
		t.Fatalf("unable to create test database: %v", err)
	}
	dsn := withDB(base, name)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return st, dsn
}

// template migrates a database named after the migrations' hash, once; an
// advisory lock keeps parallel test binaries from racing on it.
func template(ctx context.Context, base string) (string, error) {
	name := "tmpl_" + migrationsHash()[:16]
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("unable to connect to TEST_DATABASE_URL: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return "", err
	}
	defer c.Exec(ctx, `SELECT pg_advisory_unlock(727274)`)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	_, _ = c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
	if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	if err := store.Migrate(withDB(base, building)); err != nil {
		return "", err
	}
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	names, _ := fs.Glob(schema.Migrations, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(schema.Migrations, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func withDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(fmt.Sprintf("TEST_DATABASE_URL must be a URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
