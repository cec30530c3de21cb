package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DatabaseName is the database the application uses on the stack's server.
const DatabaseName = "remotegpu"

// account is the user a service runs as; nil means the current one.
type account struct {
	uid, gid uint32
	groups   []uint32
	name     string
}

func (a *account) credential() *syscall.Credential {
	if a == nil {
		return nil
	}
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	return os.Chown(path, int(a.uid), int(a.gid))
}

// postgresAccount is the `postgres` user when we run as root (initdb and
// postgres refuse root), nil otherwise.
func postgresAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres cannot run as root and there is no `postgres` user (install the postgresql package): %w", err)
	}
	a := &account{name: u.Username}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	a.uid, a.gid = uint32(uid), uint32(gid)
	gids, _ := u.GroupIds()
	for _, g := range gids {
		n, _ := strconv.ParseUint(g, 10, 32)
		a.groups = append(a.groups, uint32(n))
	}
	return a, nil
}

// canReach reports whether a can enter every directory from / down to dir.
func (a *account) canReach(dir string) bool {
	if a == nil {
		return true
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		var ok bool
		switch {
		case st.Uid == a.uid:
			ok = perm&0o100 != 0
		case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// postgresBinDir finds the server binaries: those of the version that made
// dataDir if it exists, else the newest installed, installing the
// postgresql package when there are none.
func postgresBinDir(ctx context.Context, dataDir string, log io.Writer) (string, error) {
	if v, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		bin := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin")
		if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
			return "", fmt.Errorf("the cluster in %s was made by PostgreSQL %s, which is not installed here: install it or remove that directory", dataDir, strings.TrimSpace(string(v)))
		}
		return bin, nil
	}
	newest := func() string {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
		best, bestV := "", -1.0
		for _, f := range found {
			v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(f))), 64)
			if err == nil && v > bestV {
				best, bestV = filepath.Dir(f), v
			}
		}
		return best
	}
	if bin := newest(); bin != "" {
		return bin, nil
	}
	if err := AptInstall(ctx, log, "postgresql"); err != nil {
		return "", err
	}
	if bin := newest(); bin != "" {
		return bin, nil
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin after installing postgresql")
}

// startPostgres runs a private cluster for the stack and returns the DSNs of
// the application database and of the `postgres` database.
func (s *Stack) startPostgres(ctx context.Context) error {
	o := &s.opts
	owner, err := postgresAccount()
	if err != nil {
		return err
	}
	clusterDir := filepath.Join(o.Dir, "pg")
	if !owner.canReach(o.Dir) {
		// The `postgres` user cannot enter Dir (a checkout under /root, say):
		// keep the cluster where it can, and leave a link in Dir.
		sum := sha256.Sum256([]byte(o.Dir))
		clusterDir = filepath.Join("/var/tmp", "remotegpu-pg-"+hex.EncodeToString(sum[:6]))
		if _, err := os.Lstat(filepath.Join(o.Dir, "pg")); errors.Is(err, os.ErrNotExist) {
			_ = os.Symlink(clusterDir, filepath.Join(o.Dir, "pg"))
		}
		if o.Ephemeral {
			s.addCleanup(func() { os.RemoveAll(clusterDir) })
		}
		fmt.Fprintf(s.log, "devstack: user %s cannot enter %s; the PostgreSQL cluster lives in %s\n", owner.name, o.Dir, clusterDir)
	}
	dataDir := filepath.Join(clusterDir, "data")
	for _, d := range []string{clusterDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("unable to create %s: %w", d, err)
		}
		if err := owner.chown(d); err != nil {
			return fmt.Errorf("unable to hand %s to %s: %w", d, owner.name, err)
		}
	}
	bin, err := postgresBinDir(ctx, dataDir, s.log)
	if err != nil {
		return err
	}

	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		args := []string{"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"}
		if o.Ephemeral {
			args = append(args, "--no-sync")
		}
		cmd := exec.Command(filepath.Join(bin, "initdb"), args...)
		cmd.Dir, cmd.Env = clusterDir, childEnv()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner.credential()}
		initdb, err := startService("postgres", s.logDir(), cmd, syscall.SIGTERM)
		if err != nil {
			return err
		}
		select {
		case <-initdb.done:
		case <-ctx.Done():
			initdb.stop(time.Second)
			return ctx.Err()
		}
		if initdb.waitErr != nil {
			// Leave no half-made cluster behind for the next start.
			_ = os.RemoveAll(dataDir)
			return initdb.failed(errors.New("initdb failed"))
		}
	}

	if err := checkPortFree("postgres", o.PostgresPort); err != nil {
		return err
	}
	args := []string{"-D", dataDir, "-p", strconv.Itoa(o.PostgresPort),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
	}
	if o.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir, cmd.Env = clusterDir, childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner.credential()}
	// SIGINT is PostgreSQL's fast shutdown.
	svc, err := startService("postgres", s.logDir(), cmd, syscall.SIGINT)
	if err != nil {
		return err
	}
	s.addService(svc)

	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", o.PostgresPort)
	s.adminURL = base + "postgres?sslmode=disable"
	s.databaseURL = base + DatabaseName + "?sslmode=disable"
	if err := svc.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return createDatabase(ctx, s.adminURL, DatabaseName)
	}); err != nil {
		return err
	}
	return nil
}

// createDatabase connects to adminURL and creates database name unless it
// exists.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("unable to create database %s: %w", name, err)
	}
	return nil
}

// useExternalPostgres takes the server of the caller's DATABASE_URL. An
// ephemeral stack gets a database of its own there, dropped on Stop.
func (s *Stack) useExternalPostgres(ctx context.Context) error {
	o := &s.opts
	s.adminURL = withDatabase(o.DatabaseURL, "postgres")
	if !o.Ephemeral {
		s.databaseURL = o.DatabaseURL
		return nil
	}
	name := "remotegpu_test_" + RandomHex(4)
	if err := createDatabase(ctx, s.adminURL, name); err != nil {
		return fmt.Errorf("unable to create a test database on the server of DATABASE_URL: %w", err)
	}
	s.databaseURL = withDatabase(o.DatabaseURL, name)
	admin := s.adminURL
	s.addCleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			fmt.Fprintf(s.log, "devstack: unable to drop test database %s: %v\n", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(s.log, "devstack: unable to drop test database %s: %v\n", name, err)
		}
	})
	return nil
}

var dbnameKV = regexp.MustCompile(`(^|\s)dbname=('(?:[^'\\]|\\.)*'|\S*)`)

// withDatabase returns dsn (URL or keyword/value form) naming database db.
func withDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + db
			u.RawPath = ""
			return u.String()
		}
	}
	if dbnameKV.MatchString(dsn) {
		return dbnameKV.ReplaceAllString(dsn, "${1}dbname="+db)
	}
	return strings.TrimSpace(dsn + " dbname=" + db)
}
