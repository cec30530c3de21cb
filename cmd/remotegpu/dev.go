package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/remotegpu/remotegpu/internal/devstack"
)

// runDev is `remotegpu dev` (what `make run` runs): it starts PostgreSQL,
// Temporal and MinIO under .data/, migrates, seeds the demo data and serves
// the api, the worker and the dev mail sink in this process until ctx ends.
func runDev(ctx context.Context, args []string) error {
	root := repoRoot()
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dir := fs.String("dir", filepath.Join(root, ".data"), "directory for the state of every service")
	if err := fs.Parse(args); err != nil {
		return err
	}

	st, err := devstack.Start(ctx, devstack.Options{
		Dir:         *dir,
		BinDir:      filepath.Join(root, "bin"),
		DatabaseURL: os.Getenv("DATABASE_URL"),
		WebDir:      filepath.Join(root, "web", "dist"),
		Docker:      true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting; Start stopped what it had started
		}
		return err
	}
	defer st.Stop()

	// Settings the developer exported (LDAP_URL, LOG_LEVEL ...) win over the
	// dev defaults; where the services are does not.
	for k, v := range st.Env() {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	for k, v := range st.ServiceEnv() {
		os.Setenv(k, v)
	}

	if err := migrateUp(ctx, st.DatabaseURL()); err != nil {
		return fmt.Errorf("unable to migrate the database: %w", err)
	}
	accounts, err := captureStdout(func() error { return seedDemo(ctx) })
	if err != nil {
		os.Stdout.Write(accounts)
		return fmt.Errorf("unable to seed the demo data: %w", err)
	}

	return serveAll(ctx, func() {
		public := strings.TrimRight(os.Getenv("PUBLIC_URL"), "/")
		startDemo(ctx, st.Dir(), filepath.Join(root, "bin"), localURL(os.Getenv("LISTEN_ADDR")), st.DockerHost())
		lines := []string{
			"RemoteGPU is running",
			"",
			"Console       " + public + "/",
			"API docs      " + public + "/docs",
			"Metrics       http://" + os.Getenv("METRICS_ADDR") + "/metrics",
			"Dev mailbox   " + public + "/dev/mail",
			"Temporal UI   " + os.Getenv("TEMPORAL_UI_URL"),
			"Codec server  " + public + devstack.TemporalCodecPath + " (for the Temporal UI: see README)",
			"Service logs  " + filepath.Join(st.Dir(), "logs"),
			"Demo fleet    5 machines with simulated GPU agents (labelled simulated)",
		}
		if acc := strings.TrimRight(string(accounts), "\n"); acc != "" {
			lines = append(lines, "")
			lines = append(lines, strings.Split(acc, "\n")...)
		}
		lines = append(lines, "", "Ctrl-C stops the server and every service it started.")
		printBox(os.Stdout, lines)
	})
}

// serveAll runs serve(ctx, "all") — api, worker and dev mail sink — calls
// ready once the HTTP server answers, and returns when serve does. An end
// caused by ctx is not an error.
func serveAll(ctx context.Context, ready func()) error {
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- serve(serveCtx, "all") }()

	url := localURL(os.Getenv("LISTEN_ADDR")) + "/healthz"
	deadline := time.Now().Add(2 * time.Minute)
	for !answers(ctx, url) {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("it returned before answering")
			}
			return fmt.Errorf("unable to serve: %w", err)
		case <-ctx.Done():
			stop()
			<-done
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			<-done
			return fmt.Errorf("the server does not answer on %s after 2 minutes", url)
		}
	}
	ready()
	err := <-done
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

// answers reports whether an HTTP server answers url at all.
func answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// localURL turns a listen address into a URL this machine can reach it on.
func localURL(listenAddr string) string {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "http://" + listenAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+github\.com/remotegpu/remotegpu\s*$`)

// repoRoot is the nearest directory above the working directory holding
// this module's go.mod, or the working directory.
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && moduleLine.Match(b) {
			return d
		}
		if d == filepath.Dir(d) {
			return wd
		}
	}
}

// captureStdout runs fn with os.Stdout going to a buffer and returns what
// it wrote.
func captureStdout(fn func() error) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&buf, r)
		close(copied)
	}()
	saved := os.Stdout
	os.Stdout = w
	err = fn()
	os.Stdout = saved
	w.Close()
	<-copied
	r.Close()
	return buf.Bytes(), err
}

// printBox writes lines inside a frame.
func printBox(w io.Writer, lines []string) {
	width := 0
	for i, l := range lines {
		lines[i] = expandTabs(l)
		width = max(width, displayWidth(lines[i]))
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "\n┌%s┐\n", strings.Repeat("─", width+2))
	for _, l := range lines {
		fmt.Fprintf(bw, "│ %s%s │\n", l, strings.Repeat(" ", width-displayWidth(l)))
	}
	fmt.Fprintf(bw, "└%s┘\n\n", strings.Repeat("─", width+2))
}

// displayWidth counts terminal columns: two for East Asian wide characters.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r), unicode.Is(unicode.Hangul, r),
			unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r),
			r >= 0xFF00 && r <= 0xFF60, r >= 0x3000 && r <= 0x303F:
			n += 2
		default:
			n++
		}
	}
	return n
}

// expandTabs replaces tabs with spaces up to the next multiple of 8 columns.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col += displayWidth(string(r))
	}
	return b.String()
}
