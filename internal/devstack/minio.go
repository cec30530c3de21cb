package devstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The object store's root credentials. It listens on 127.0.0.1 only.
const (
	MinioUser     = "remotegpu"
	MinioPassword = "remotegpu-dev-secret"
)

// startMinio runs `minio server` and waits for its liveness probe.
func (s *Stack) startMinio(ctx context.Context) error {
	o := &s.opts
	for _, p := range []struct {
		name string
		port int
	}{{"minio", o.MinioPort}, {"minio console", o.MinioConsolePort}} {
		if err := checkPortFree(p.name, p.port); err != nil {
			return err
		}
	}
	dataDir := filepath.Join(o.Dir, "minio")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s: %w", dataDir, err)
	}
	cmd := exec.Command(s.MinioBin(), "server", dataDir,
		"--address", "127.0.0.1:"+strconv.Itoa(o.MinioPort),
		"--console-address", "127.0.0.1:"+strconv.Itoa(o.MinioConsolePort))
	cmd.Dir = o.Dir
	cmd.Env = childEnv(
		"MINIO_ROOT_USER="+MinioUser,
		"MINIO_ROOT_PASSWORD="+MinioPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	svc, err := startService("minio", s.logDir(), cmd, syscall.SIGTERM)
	if err != nil {
		return err
	}
	s.addService(svc)

	url := "http://" + s.S3Endpoint() + "/minio/health/live"
	return svc.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	})
}
