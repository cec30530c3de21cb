package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/remotegpu/remotegpu/internal/devstack"
)

// runTestEnv is `remotegpu testenv -- <command...>`: it starts a throwaway
// stack on free ports under .data/test-<random>, migrates, seeds the demo
// data, serves everything in this process, runs the command with the
// stack's environment, then stops and removes it all. The process exits with
// the command's exit status.
func runTestEnv(ctx context.Context, args []string) error {
	code, err := testEnv(ctx, args)
	if err != nil {
		return err
	}
	if code != 0 {
		// Everything is stopped and removed by now; pass the status on as is.
		os.Exit(code)
	}
	return nil
}

func testEnv(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("testenv", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: remotegpu testenv -- <command> [args...]")
		fmt.Fprintln(fs.Output(), "Runs the command against a throwaway stack (PostgreSQL, Temporal, MinIO, a Docker daemon, api+worker) on free ports.")
	}
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	command := fs.Args()
	if len(command) == 0 {
		fs.Usage()
		return 0, errors.New("testenv: no command given")
	}

	root := repoRoot()
	st, err := devstack.Start(ctx, devstack.Options{
		Dir:         filepath.Join(root, ".data", "test-"+devstack.RandomHex(4)),
		BinDir:      filepath.Join(root, "bin"),
		DatabaseURL: os.Getenv("DATABASE_URL"),
		WebDir:      filepath.Join(root, "web", "dist"),
		FreePorts:   true,
		Ephemeral:   true,
		Docker:      true,
	})
	if err != nil {
		return 0, err
	}
	defer st.Stop()

	// The tests see this stack and nothing the caller happened to export.
	for _, k := range devstack.EnvNames {
		os.Unsetenv(k)
	}
	for k, v := range st.Env() {
		os.Setenv(k, v)
	}

	if err := migrateUp(ctx, st.DatabaseURL()); err != nil {
		return 0, fmt.Errorf("unable to migrate the test database: %w", err)
	}
	if err := seedDemo(ctx); err != nil {
		return 0, fmt.Errorf("unable to seed the demo data: %w", err)
	}

	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	ready := make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- serveAll(serveCtx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-served:
		if err == nil {
			err = ctx.Err()
		}
		return 0, err
	}

	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"TEST_DATABASE_URL="+st.AdminDatabaseURL(),
		"REMOTEGPU_URL="+st.PublicURL(),
		"TEMPORAL_CLI_PATH="+st.TemporalBin(),
		"MINIO_BIN="+st.MinioBin(),
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	fmt.Fprintf(os.Stderr, "testenv: stack ready at %s; running %q\n", st.PublicURL(), command)
	runErr := cmd.Run()

	stopServe()
	serveErr := <-served

	var exit *exec.ExitError
	switch {
	case runErr == nil && serveErr != nil:
		return 0, fmt.Errorf("testenv: the command passed but the server failed: %w", serveErr)
	case runErr == nil:
		return 0, nil
	case errors.As(runErr, &exit):
		if serveErr != nil {
			fmt.Fprintf(os.Stderr, "testenv: the server failed: %v\n", serveErr)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	default:
		return 0, fmt.Errorf("unable to run %q: %w", command, runErr)
	}
}
