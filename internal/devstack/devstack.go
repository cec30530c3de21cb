// Package devstack runs the services RemoteGPU needs on a developer's or a
// CI machine — PostgreSQL, a Temporal dev server, MinIO and, when asked, a
// private Docker daemon for task containers (docker.go) — as child
// processes with their state under one directory, and describes them in the
// environment variables the application reads.
//
// Each service runs in its own process group with its output in
// <Dir>/logs/<name>.log; Stop ends them all, and they also end if the parent
// dies. A stack started again on the same Dir reuses its data.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvNames lists every environment variable the application reads.
var EnvNames = []string{
	"DATABASE_URL",
	"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "TEMPORAL_UI_URL",
	"TEMPORAL_PAYLOAD_KEY", "TEMPORAL_PAYLOAD_KEY_PREVIOUS",
	"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_USE_SSL", "S3_BUCKET_PREFIX",
	"SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_TLS", "DEV_MAIL_SINK",
	"LDAP_URL", "LDAP_BIND_DN", "LDAP_BIND_PASSWORD", "LDAP_BASE_DN", "LDAP_USER_FILTER",
	"LDAP_ATTR_USERNAME", "LDAP_ATTR_EMAIL", "LDAP_ATTR_NAME", "LDAP_ATTR_PHONE",
	"LDAP_ATTR_EMPLOYEE_ID", "LDAP_ATTR_TENANT", "LDAP_GROUP_ADMIN", "LDAP_GROUP_OWNER",
	"LDAP_PASSWORD_RESET_URL",
	"LISTEN_ADDR", "PUBLIC_URL", "JWT_SECRET", "SECRETS_KEY", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL",
	"WEB_DIR", "LOG_LEVEL", "LOG_FORMAT",
	"TRUSTED_PROXIES", "LOGIN_CONCURRENCY", "METRICS_ADDR", "METRICS_TOKEN",
	"DOCKER_HOST",
}

// Default ports of a development stack.
const (
	DefaultPostgresPort     = 55432
	DefaultTemporalPort     = 7233
	DefaultTemporalUIPort   = 8233
	DefaultMinioPort        = 9100
	DefaultMinioConsolePort = 9101
	DefaultMailPort         = 2525
	DefaultHTTPPort         = 8080
	DefaultMetricsPort      = 9464
)

// Options configure a stack. Zero ports take the defaults above, or free
// ports when FreePorts is set.
type Options struct {
	// Dir holds the state of every service (required). Normally .data/.
	Dir string
	// BinDir holds the temporal and minio binaries; they are installed there
	// with `go install` when missing. Default "bin".
	BinDir string
	// DatabaseURL, when set, is used instead of starting PostgreSQL.
	DatabaseURL string

	PostgresPort, TemporalPort, TemporalUIPort, MinioPort, MinioConsolePort int
	// MailPort, HTTPPort and MetricsPort are not services of the stack:
	// they are where the application's dev mail sink, HTTP server and
	// /metrics listen, put in Env.
	MailPort, HTTPPort, MetricsPort int
	FreePorts                       bool

	// Ephemeral marks a throwaway stack (tests): faster, crash-unsafe
	// settings, Temporal history in memory, a database of its own on an
	// external server, and Stop removes Dir.
	Ephemeral bool

	// Docker starts a private Docker daemon (docker.go) for the demo agents'
	// and the tests' task containers, put in Env as DOCKER_HOST. One that
	// cannot start (no root) is reported and the stack goes on without it.
	Docker bool

	// WebDir is the built console, put in Env as WEB_DIR. Default "web/dist".
	WebDir string
	// Log receives progress messages. Default os.Stderr.
	Log io.Writer

	picked map[*int]bool // the ports setDefaults chose with FreePort
}

// Stack is a running set of services.
type Stack struct {
	opts    Options
	log     io.Writer
	secrets map[string]string

	databaseURL, adminURL string

	mu       sync.Mutex
	services []*service
	cleanups []func()
	stopOnce sync.Once
}

// Start starts every service the options ask for and waits until each
// answers. On failure it stops what it started and the error carries the
// last lines of the failing service's log.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Dir == "" {
		return nil, errors.New("devstack: Options.Dir is required")
	}
	s := &Stack{opts: o}
	if err := s.opts.setDefaults(); err != nil {
		return nil, err
	}
	o, s.log = s.opts, s.opts.Log
	if err := os.MkdirAll(s.logDir(), 0o755); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", s.logDir(), err)
	}
	var err error
	if s.secrets, err = loadSecrets(filepath.Join(o.Dir, "secrets.env")); err != nil {
		return nil, err
	}
	if err := EnsureBinaries(ctx, o.BinDir, s.log); err != nil {
		return nil, err
	}

	began := time.Now()
	startCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	starts := []func(context.Context) error{
		s.retryPorts(s.startTemporal, &s.opts.TemporalPort, &s.opts.TemporalUIPort),
		s.retryPorts(s.startMinio, &s.opts.MinioPort, &s.opts.MinioConsolePort),
	}
	if o.Docker {
		starts = append(starts, s.startDocker)
	}
	if o.DatabaseURL != "" {
		starts = append(starts, s.useExternalPostgres)
	} else {
		starts = append(starts, s.retryPorts(s.startPostgres, &s.opts.PostgresPort))
	}
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, start := range starts {
		wg.Go(func() {
			if errs[i] = start(startCtx); errs[i] != nil {
				cancel() // no need to wait for the others
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		// Keep the cause, not the services that were interrupted because of it.
		for i, e := range errs {
			if errors.Is(e, context.Canceled) {
				errs[i] = nil
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.Stop()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	fmt.Fprintf(s.log, "devstack: services ready in %s (state in %s)\n", time.Since(began).Round(100*time.Millisecond), o.Dir)
	return s, nil
}

func (o *Options) setDefaults() error {
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s: %w", o.Dir, err)
	}
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return err
	}
	if o.WebDir == "" {
		o.WebDir = "web/dist"
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	for _, p := range []struct {
		port *int
		def  int
	}{
		{&o.PostgresPort, DefaultPostgresPort},
		{&o.TemporalPort, DefaultTemporalPort},
		{&o.TemporalUIPort, DefaultTemporalUIPort},
		{&o.MinioPort, DefaultMinioPort},
		{&o.MinioConsolePort, DefaultMinioConsolePort},
		{&o.MailPort, DefaultMailPort},
		{&o.HTTPPort, DefaultHTTPPort},
		{&o.MetricsPort, DefaultMetricsPort},
	} {
		switch {
		case *p.port != 0:
		case o.FreePorts:
			if *p.port, err = FreePort(); err != nil {
				return err
			}
			if o.picked == nil {
				o.picked = map[*int]bool{}
			}
			o.picked[p.port] = true
		default:
			*p.port = p.def
		}
	}
	return nil
}

// retryPorts wraps the start of a service so that, when it fails because
// one of its ports was free when picked but taken before the service bound
// it (other tests pick ports too), it picks new ones and tries again.
// Ports the caller chose are never changed.
func (s *Stack) retryPorts(start func(context.Context) error, ports ...*int) func(context.Context) error {
	return func(ctx context.Context) error {
		for attempt := 1; ; attempt++ {
			err := start(ctx)
			if err == nil || attempt == 3 || ctx.Err() != nil ||
				!strings.Contains(strings.ToLower(err.Error()), "already in use") {
				return err
			}
			for _, p := range ports {
				if !s.opts.picked[p] {
					return err
				}
			}
			msg, _, _ := strings.Cut(err.Error(), "\n")
			fmt.Fprintf(s.log, "devstack: %s; trying other ports\n", msg)
			for _, p := range ports {
				if *p, err = FreePort(); err != nil {
					return err
				}
			}
		}
	}
}

func (s *Stack) addService(svc *service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services = append(s.services, svc)
}

// addCleanup registers fn to run on Stop, after the services have ended.
func (s *Stack) addCleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

// Stop ends every service (politely, then by force after 15 s), runs the
// cleanups and, for an ephemeral stack, removes Dir. It is safe to call
// more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		services, cleanups := s.services, s.cleanups
		s.mu.Unlock()
		began := time.Now()
		var wg sync.WaitGroup
		for _, svc := range services {
			wg.Go(func() { svc.stop(15 * time.Second) })
		}
		wg.Wait()
		if len(services) > 0 {
			fmt.Fprintf(s.log, "devstack: services stopped in %s\n", time.Since(began).Round(100*time.Millisecond))
		}
		for _, c := range cleanups {
			c()
		}
		if s.opts.Ephemeral {
			if err := os.RemoveAll(s.opts.Dir); err != nil {
				fmt.Fprintf(s.log, "devstack: unable to remove %s: %v\n", s.opts.Dir, err)
			}
		}
	})
}

func (s *Stack) logDir() string { return filepath.Join(s.opts.Dir, "logs") }

// Dir is the absolute state directory.
func (s *Stack) Dir() string { return s.opts.Dir }

// DatabaseURL is the DSN of the application's database.
func (s *Stack) DatabaseURL() string { return s.databaseURL }

// AdminDatabaseURL is a superuser DSN to the `postgres` database of the same
// server, for tests that create databases of their own.
func (s *Stack) AdminDatabaseURL() string { return s.adminURL }

// TemporalAddress is the Temporal frontend, host:port.
func (s *Stack) TemporalAddress() string { return hostPort(s.opts.TemporalPort) }

// TemporalUIURL is the Temporal Web UI.
func (s *Stack) TemporalUIURL() string { return "http://" + hostPort(s.opts.TemporalUIPort) }

// S3Endpoint is the object store's S3 API, host:port.
func (s *Stack) S3Endpoint() string { return hostPort(s.opts.MinioPort) }

// TemporalBin and MinioBin are the absolute paths of the service binaries.
func (s *Stack) TemporalBin() string { return filepath.Join(s.opts.BinDir, "temporal") }
func (s *Stack) MinioBin() string    { return filepath.Join(s.opts.BinDir, "minio") }

// ListenAddr is where the application's HTTP server should listen.
func (s *Stack) ListenAddr() string { return hostPort(s.opts.HTTPPort) }

// PublicURL is the base URL of the application's HTTP server.
func (s *Stack) PublicURL() string { return "http://" + s.ListenAddr() }

// MetricsAddr is where the application serves /metrics (METRICS_ADDR).
func (s *Stack) MetricsAddr() string { return hostPort(s.opts.MetricsPort) }

// MailSinkAddr is where the application's dev SMTP sink should listen.
func (s *Stack) MailSinkAddr() string { return hostPort(s.opts.MailPort) }

func hostPort(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// ServiceEnv describes the services this stack runs: where they are and how
// to log in. These always override the caller's environment.
func (s *Stack) ServiceEnv() map[string]string {
	env := map[string]string{
		"DATABASE_URL":     s.databaseURL,
		"TEMPORAL_ADDRESS": s.TemporalAddress(),
		"TEMPORAL_UI_URL":  s.TemporalUIURL(),
		"S3_ENDPOINT":      s.S3Endpoint(),
		"S3_ACCESS_KEY":    MinioUser,
		"S3_SECRET_KEY":    MinioPassword,
		"S3_USE_SSL":       "false",
	}
	if h := s.DockerHost(); h != "" {
		env["DOCKER_HOST"] = h
	}
	return env
}

// Env is ServiceEnv plus development values for the other settings the
// application reads: the dev mail sink as SMTP server, LDAP off, the HTTP
// address, and JWT_SECRET, SECRETS_KEY and TEMPORAL_PAYLOAD_KEY kept in <Dir>/secrets.env.
func (s *Stack) Env() map[string]string {
	env := s.ServiceEnv()
	level := "info"
	if s.opts.Ephemeral {
		level = "warn"
	}
	for k, v := range map[string]string{
		"TEMPORAL_NAMESPACE":  TemporalNamespace,
		"TEMPORAL_TASK_QUEUE": "remotegpu",
		"S3_BUCKET_PREFIX":    "remotegpu-",
		"SMTP_HOST":           "127.0.0.1",
		"SMTP_PORT":           strconv.Itoa(s.opts.MailPort),
		"SMTP_USERNAME":       "",
		"SMTP_PASSWORD":       "",
		"SMTP_TLS":            "none",
		"DEV_MAIL_SINK":       s.MailSinkAddr(),
		"LDAP_URL":            "",
		"LISTEN_ADDR":         s.ListenAddr(),
		"METRICS_ADDR":        s.MetricsAddr(),
		"PUBLIC_URL":          s.PublicURL(),
		"JWT_SECRET":          s.secrets["JWT_SECRET"],
		"SECRETS_KEY":         s.secrets["SECRETS_KEY"],
		"ACCESS_TOKEN_TTL":    "15m",
		"REFRESH_TOKEN_TTL":   "720h",
		"WEB_DIR":             s.opts.WebDir,
		"LOG_LEVEL":           level,
		"LOG_FORMAT":          "text",
	} {
		env[k] = v
	}
	env["TEMPORAL_PAYLOAD_KEY"] = s.secrets["TEMPORAL_PAYLOAD_KEY"]
	return env
}
