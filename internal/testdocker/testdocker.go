// Package testdocker gives tests a real Docker daemon with the test image
// (testimage.Ref): the one DOCKER_HOST names (the stack of `remotegpu
// testenv`, so under `make test`), or, when DOCKER_HOST is unset, a private
// one that Main starts for the test binary (needs root and dockerd). A
// DOCKER_HOST that does not answer fails the tests; only without
// DOCKER_HOST and without a way to start a daemon are they skipped.
package testdocker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/internal/devstack"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

var (
	noDaemon string // why there is no daemon (DOCKER_HOST unset and none started)

	once   sync.Once
	cli    *client.Client
	cliErr error
)

// Main runs the package's tests (call it from TestMain), starting a
// private daemon first when DOCKER_HOST is unset.
func Main(m *testing.M) int {
	if os.Getenv("DOCKER_HOST") != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "rgpu-testdocker-")
	if err != nil {
		noDaemon = err.Error()
		return m.Run()
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	d, err := devstack.StartDocker(ctx, dir, os.Stderr)
	cancel()
	if err != nil {
		noDaemon = fmt.Sprintf("DOCKER_HOST is unset and no Docker daemon could be started: %v", err)
		return m.Run()
	}
	defer d.Stop()
	os.Setenv("DOCKER_HOST", d.Host)
	return m.Run()
}

// Client returns a client of the test daemon, which has the test image.
func Client(t testing.TB) *client.Client {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		if noDaemon == "" {
			noDaemon = "DOCKER_HOST is unset (run the tests under `bin/remotegpu testenv`, or call testdocker.Main from TestMain)"
		}
		t.Skip(noDaemon)
	}
	once.Do(func() {
		cli, cliErr = client.NewClientWithOpts(client.WithHost(host), client.WithVersion("1.41")) // hostops.DockerAPIVersion: a fixed version, no racy lazy negotiation
		if cliErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, cliErr = cli.Ping(ctx); cliErr != nil {
			return
		}
		_, cliErr = testimage.Ensure(ctx, cli)
	})
	if cliErr != nil {
		t.Fatalf("DOCKER_HOST=%s is set but unusable (under `remotegpu testenv` see logs/docker.log in its state directory): %v", host, cliErr)
	}
	return cli
}
