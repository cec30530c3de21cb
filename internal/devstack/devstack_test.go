package devstack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binDir is where the service binaries are: beside TEMPORAL_CLI_PATH when
// run under `remotegpu testenv`, else the repository's bin/.
func binDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../bin")
	if p := os.Getenv("TEMPORAL_CLI_PATH"); p != "" {
		dir = filepath.Dir(p)
	}
	for _, name := range []string{"temporal", "minio"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s is missing from %s: run `make tools` first (%v)", name, dir, err)
		}
	}
	return dir
}

// stateDir returns a fresh directory with mode perm on every level.
func stateDir(t *testing.T, perm os.FileMode) string {
	t.Helper()
	base := t.TempDir()
	// t.TempDir makes a 0700 parent, shared by the test's temp dirs.
	if err := os.Chmod(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, perm); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "stack")
}

func start(t *testing.T, o Options) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.BinDir = binDir(t)
	o.FreePorts = true
	o.Log = testWriter{t}
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var out string
	if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// checkStack asserts that every service of s answers and Env describes them.
func checkStack(t *testing.T, s *Stack) {
	t.Helper()
	if got := query(t, s.DatabaseURL(), "SELECT current_database()"); got != DatabaseName {
		t.Errorf("DatabaseURL opens %q, want %q", got, DatabaseName)
	}
	if got := query(t, s.AdminDatabaseURL(), "SELECT current_database() || ' ' || rolsuper::text FROM pg_roles WHERE rolname = current_user"); got != "postgres true" {
		t.Errorf("AdminDatabaseURL: got %q, want a superuser on postgres", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := temporalReady(ctx, s.TemporalAddress()); err != nil {
		t.Errorf("temporal: %v", err)
	}
	resp, err := http.Get("http://" + s.S3Endpoint() + "/minio/health/live")
	if err != nil {
		t.Errorf("minio: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("minio live: %s", resp.Status)
	}
	if !listening(strings.TrimPrefix(s.TemporalUIURL(), "http://")) {
		t.Errorf("temporal UI does not answer on %s", s.TemporalUIURL())
	}

	env := s.Env()
	for k := range env {
		if !slices.Contains(EnvNames, k) {
			t.Errorf("Env sets %s, which is not in EnvNames", k)
		}
	}
	for k, v := range s.ServiceEnv() {
		if env[k] != v {
			t.Errorf("Env[%s] = %q, ServiceEnv has %q", k, env[k], v)
		}
	}
	for _, k := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
		"SMTP_HOST", "SMTP_PORT", "DEV_MAIL_SINK", "LISTEN_ADDR", "PUBLIC_URL", "JWT_SECRET", "SECRETS_KEY", "TEMPORAL_PAYLOAD_KEY"} {
		if env[k] == "" {
			t.Errorf("Env[%s] is empty", k)
		}
	}
}

func TestEphemeralStack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		perm os.FileMode
	}{
		{"reachable dir", 0o755},
		// Under root, a dir the postgres user cannot enter, like /root.
		{"private dir", 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := stateDir(t, tc.perm)
			s := start(t, Options{Dir: dir, Ephemeral: true})
			checkStack(t, s)

			pgDir, _ := filepath.EvalSymlinks(filepath.Join(dir, "pg"))
			pids := servicePids(s)
			s.Stop()
			for _, pid := range pids {
				if syscall.Kill(pid, 0) == nil {
					t.Errorf("process %d still runs after Stop", pid)
				}
			}
			for _, addr := range []string{s.TemporalAddress(), s.S3Endpoint(), hostPort(s.opts.PostgresPort)} {
				if listening(addr) {
					t.Errorf("%s still answers after Stop", addr)
				}
			}
			for _, d := range []string{dir, pgDir} {
				if _, err := os.Stat(d); d != "" && err == nil {
					t.Errorf("%s remains after Stop of an ephemeral stack", d)
				}
			}
		})
	}
}

func servicePids(s *Stack) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, svc := range s.services {
		pids = append(pids, svc.cmd.Process.Pid)
	}
	return pids
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := stateDir(t, 0o755)
	s := start(t, Options{Dir: dir})
	checkStack(t, s)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	env := s.Env()
	ports := s.opts
	s.Stop()

	began := time.Now()
	s2 := start(t, Options{Dir: dir, PostgresPort: ports.PostgresPort, TemporalPort: ports.TemporalPort,
		TemporalUIPort: ports.TemporalUIPort, MinioPort: ports.MinioPort, MinioConsolePort: ports.MinioConsolePort})
	t.Logf("warm start took %s", time.Since(began))
	if got := query(t, s2.DatabaseURL(), "SELECT v FROM kept"); got != "still here" {
		t.Errorf("after restart: %q", got)
	}
	for _, k := range []string{"JWT_SECRET", "SECRETS_KEY", "TEMPORAL_PAYLOAD_KEY"} {
		if s2.Env()[k] != env[k] {
			t.Errorf("%s changed across restarts", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal.db")); err != nil {
		t.Errorf("temporal keeps no database file: %v", err)
	}
}

func TestStartFailsWhenPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{Dir: stateDir(t, 0o755), BinDir: binDir(t), FreePorts: true,
		MinioPort: port, Ephemeral: true, Log: testWriter{t}})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)+" on 127.0.0.1 is already in use") {
		t.Fatalf("got %v, want a port-in-use error", err)
	}
}

func TestServiceFailureShowsLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "echo starting; echo 'fatal: boom' >&2; exit 3")
	svc, err := startService("broken", dir, cmd, syscall.SIGTERM)
	if err != nil {
		t.Fatal(err)
	}
	err = svc.waitReady(context.Background(), 10*time.Second, func(context.Context) error { return net.ErrClosed })
	for _, want := range []string{"broken: exited before it was ready", "exit status 3", "| starting", "| fatal: boom", filepath.Join(dir, "broken.log")} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestServiceStopKillsGroup(t *testing.T) {
	t.Parallel()
	// A service that ignores its stop signal and leaves a child behind.
	cmd := exec.Command("sh", "-c", "trap '' TERM; sleep 300 & echo $! ; wait")
	svc, err := startService("stubborn", t.TempDir(), cmd, syscall.SIGTERM)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	began := time.Now()
	svc.stop(300 * time.Millisecond)
	if !svc.exited() {
		t.Fatal("still running after stop")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("stop took %s", d)
	}
	// The orphaned sleep is reaped by init, which may take a moment.
	for deadline := time.Now().Add(3 * time.Second); syscall.Kill(-svc.cmd.Process.Pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("its process group still has members")
		}
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@h:5432/app?sslmode=disable", "postgres://u:p@h:5432/other?sslmode=disable"},
		{"postgresql://h/app", "postgresql://h/other"},
		{"postgres://h", "postgres://h/other"},
		{"host=h dbname=app user=u", "host=h dbname=other user=u"},
		{"dbname='my app' host=h", "dbname=other host=h"},
		{"host=h user=u", "host=h user=u dbname=other"},
	} {
		if got := withDatabase(tc.in, "other"); got != tc.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSecretsPersist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(path, []byte("# mine\nJWT_SECRET=keep-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := loadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if first["JWT_SECRET"] != "keep-me" {
		t.Errorf("JWT_SECRET = %q, want the one in the file", first["JWT_SECRET"])
	}
	if len(first["SECRETS_KEY"]) != 44 { // base64 of 32 bytes
		t.Errorf("SECRETS_KEY = %q, want base64 of 32 bytes", first["SECRETS_KEY"])
	}
	second, err := loadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first["TEMPORAL_PAYLOAD_KEY"]) != 44 {
		t.Errorf("TEMPORAL_PAYLOAD_KEY = %q, want base64 of 32 bytes", first["TEMPORAL_PAYLOAD_KEY"])
	}
	if second["SECRETS_KEY"] != first["SECRETS_KEY"] || second["TEMPORAL_PAYLOAD_KEY"] != first["TEMPORAL_PAYLOAD_KEY"] ||
		second["JWT_SECRET"] != "keep-me" {
		t.Errorf("secrets changed on reload: %v then %v", first, second)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestCanReach(t *testing.T) {
	t.Parallel()
	a := &account{uid: 4242, gid: 4242}
	open := stateDir(t, 0o755)
	closed := stateDir(t, 0o700)
	for _, d := range []string{open, closed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !a.canReach(open) {
		t.Errorf("a stranger cannot reach %s (mode 0755 all the way)", open)
	}
	if a.canReach(closed) {
		t.Errorf("a stranger can reach %s under a 0700 dir", closed)
	}
	if !(*account)(nil).canReach(closed) {
		t.Error("the current user must reach everything")
	}
}

func TestExternalDatabase(t *testing.T) {
	t.Parallel()
	server := start(t, Options{Dir: stateDir(t, 0o755), Ephemeral: true})

	// A development stack uses the given database as it is.
	dev := start(t, Options{Dir: stateDir(t, 0o755), DatabaseURL: server.DatabaseURL()})
	if dev.DatabaseURL() != server.DatabaseURL() || dev.AdminDatabaseURL() != server.AdminDatabaseURL() {
		t.Errorf("dev stack: DatabaseURL %q AdminDatabaseURL %q, want those of %q", dev.DatabaseURL(), dev.AdminDatabaseURL(), server.DatabaseURL())
	}
	if _, err := os.Stat(filepath.Join(dev.Dir(), "pg")); err == nil {
		t.Error("a PostgreSQL cluster was made although DATABASE_URL was given")
	}
	dev.Stop()

	// A throwaway stack gets a database of its own there, dropped on Stop.
	test := start(t, Options{Dir: stateDir(t, 0o755), DatabaseURL: server.DatabaseURL(), Ephemeral: true})
	name := query(t, test.DatabaseURL(), "SELECT current_database()")
	if !strings.HasPrefix(name, "remotegpu_test_") {
		t.Errorf("throwaway stack uses database %q", name)
	}
	test.Stop()
	if got := query(t, server.AdminDatabaseURL(), "SELECT count(*)::text FROM pg_database WHERE datname = '"+name+"'"); got != "0" {
		t.Errorf("database %s remains after Stop", name)
	}
}

func TestRetryPorts(t *testing.T) {
	t.Parallel()
	s := &Stack{log: testWriter{t}}
	s.opts.PostgresPort, s.opts.MinioPort = 1, 2
	s.opts.picked = map[*int]bool{&s.opts.MinioPort: true} // PostgresPort: the caller's
	var tried []int
	start := func(port *int) func(context.Context) error {
		tried = nil
		return func(context.Context) error {
			tried = append(tried, *port)
			if len(tried) == 1 {
				return errors.New("svc: bind: Address already in use")
			}
			return nil
		}
	}

	if err := s.retryPorts(start(&s.opts.MinioPort), &s.opts.MinioPort)(context.Background()); err != nil {
		t.Fatalf("picked port: %v", err)
	}
	if len(tried) != 2 || tried[1] == 2 {
		t.Errorf("picked port: tried %v, want a second try on another port", tried)
	}

	if err := s.retryPorts(start(&s.opts.PostgresPort), &s.opts.PostgresPort)(context.Background()); err == nil {
		t.Error("caller's port: the failure was hidden by a retry")
	}
	if len(tried) != 1 || s.opts.PostgresPort != 1 {
		t.Errorf("caller's port: tried %v, port now %d; want one try and the port kept", tried, s.opts.PostgresPort)
	}
}
