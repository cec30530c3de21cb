package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// service is one child process of the stack: it runs in its own process
// group, writes stdout and stderr to its log file and is told to stop with
// stopSignal (then killed, group and all, if it lingers).
type service struct {
	name       string
	cmd        *exec.Cmd
	logPath    string
	logOffset  int64 // where this run's output starts in the log
	stopSignal syscall.Signal
	done       chan struct{} // closed when the process has exited
	waitErr    error         // valid once done is closed
}

// startService starts cmd as the named service. The caller sets cmd.Env,
// cmd.Dir and, if it needs one, cmd.SysProcAttr.Credential.
func startService(name, logDir string, cmd *exec.Cmd, stopSignal syscall.Signal) (*service, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create log dir: %w", err)
	}
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("unable to open %s log: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy of the descriptor
	fmt.Fprintf(logFile, "==== %s devstack: starting %s\n", time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "))
	offset, _ := logFile.Seek(0, io.SeekEnd)

	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Own process group: ctrl-C in the terminal reaches only the parent,
	// which stops the services in order; Stop can kill the whole group.
	cmd.SysProcAttr.Setpgid = true
	// If the parent dies without stopping us (kill -9), stop anyway.
	cmd.SysProcAttr.Pdeathsig = stopSignal

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("unable to start %s: %w", name, err)
	}
	s := &service{
		name:       name,
		cmd:        cmd,
		logPath:    logPath,
		logOffset:  offset,
		stopSignal: stopSignal,
		done:       make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// exited reports whether the process has ended.
func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop asks the service to end, waits up to grace, then kills its process
// group. It returns once the process is gone.
func (s *service) stop(grace time.Duration) {
	if s.exited() {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(pgid, s.stopSignal)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	// Helpers it forked and left behind share its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// failed wraps err with the service name, its exit status if it has ended,
// and the last lines of its log from this run.
func (s *service) failed(err error) error {
	if s.exited() && s.waitErr != nil {
		err = fmt.Errorf("%w (process: %v)", err, s.waitErr)
	} else if s.exited() {
		err = fmt.Errorf("%w (process exited)", err)
	}
	return fmt.Errorf("%s: %w\n%s", s.name, err, logTail(s.logPath, s.logOffset, 25))
}

// waitReady calls check until it succeeds, the process exits, ctx ends or
// timeout passes.
func (s *service) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 3*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-s.done:
			return s.failed(errors.New("exited before it was ready"))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return s.failed(fmt.Errorf("not ready after %s: %w", timeout, last))
			}
			return s.failed(ctx.Err())
		case <-tick.C:
		}
	}
}

// logTail returns the last n lines written to path after offset, indented,
// under a header naming the file.
func logTail(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("  (no log: %v)", err)
	}
	defer f.Close()
	const maxTail = 16 << 10
	end, _ := f.Seek(0, io.SeekEnd)
	start := max(offset, end-maxTail)
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("  (unable to read log: %v)", err)
	}
	buf = bytes.TrimRight(buf, "\n")
	if len(buf) == 0 {
		return fmt.Sprintf("  %s: (nothing logged)", path)
	}
	lines := strings.Split(string(buf), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  last lines of %s:", path)
	for _, l := range lines {
		b.WriteString("\n  | " + l)
	}
	return b.String()
}

// childEnv is the environment for a service: the parent's, less the
// variables this project and the services themselves read, plus extra.
// (The temporal CLI binds TEMPORAL_* to flags, MinIO reads MINIO_*.)
func childEnv(extra ...string) []string {
	known := make(map[string]bool, len(EnvNames))
	for _, n := range EnvNames {
		known[n] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if known[k] || strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "MINIO_") || strings.HasPrefix(k, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
