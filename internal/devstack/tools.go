package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The service binaries the stack runs, installed with `go install` into the
// bin directory. The Makefile reads these two lines; keep them one per line.
const (
	TemporalPackage = "github.com/temporalio/cli/cmd/temporal@v1.5.1"
	MinioPackage    = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
)

type tool struct {
	name string
	pkg  string
	env  []string
}

var tools = []tool{
	{name: "temporal", pkg: TemporalPackage},
	{name: "minio", pkg: MinioPackage, env: []string{"GOFLAGS=-mod=mod"}},
}

// EnsureBinaries installs into binDir each service binary that is missing
// there, printing what it does to log. A cold install takes minutes.
func EnsureBinaries(ctx context.Context, binDir string, log io.Writer) error {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	for _, t := range tools {
		path := filepath.Join(binDir, t.name)
		if _, err := os.Stat(path); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintf(log, "devstack: %s is missing: go install %s into %s (takes about 3 minutes the first time)\n", path, t.pkg, binDir)
		began := time.Now()
		cmd := exec.CommandContext(ctx, "go", "install", t.pkg)
		cmd.Env = append(os.Environ(), append([]string{"GOBIN=" + binDir}, t.env...)...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("unable to install %s: %w", t.name, err)
		}
		fmt.Fprintf(log, "devstack: installed %s in %s\n", path, time.Since(began).Round(time.Second))
	}
	return nil
}
