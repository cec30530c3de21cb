package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/internal/testimage"
)

// Docker is a private Docker daemon: the demo agents' and the tests' task
// containers run in it, never in the host's own daemon. Its images and
// containers are under <dir>/docker; its sockets in a short directory in
// /tmp named after dir, since a unix socket path has at most 108 bytes.
// It runs without a bridge (no docker0 shared with another stack's
// daemon); task containers use the host's network.
type Docker struct {
	// Host is its address, unix://<run dir>/docker.sock (DOCKER_HOST).
	Host   string
	svc    *service
	runDir string
}

// DockerSocket is the socket a daemon started on dir listens on.
func DockerSocket(dir string) string {
	return filepath.Join(dockerRunDir(dir), "docker.sock")
}

func dockerRunDir(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "rgpu-docker-"+hex.EncodeToString(sum[:5]))
}

// StartDocker runs dockerd for the state directory dir (absolute), waits
// until it answers and imports the test image (testimage.Ref) when it is
// missing. dockerd and a static busybox are installed with apt when
// missing; that and dockerd itself need root. The daemon's log is
// <dir>/logs/docker.log.
func StartDocker(ctx context.Context, dir string, log io.Writer) (*Docker, error) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		if err := AptInstall(ctx, log, "docker.io"); err != nil {
			return nil, err
		}
	}
	if _, err := testimage.Busybox(); err != nil {
		if err := AptInstall(ctx, log, "busybox-static"); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("dockerd needs root: run as root, or do without task containers")
	}
	runDir := dockerRunDir(dir)
	dataRoot := filepath.Join(dir, "docker")
	for _, d := range []string{runDir, dataRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("unable to create %s: %w", d, err)
		}
	}
	// Its own empty configuration: the host's /etc/docker/daemon.json
	// (hosts, data-root ...) is the host daemon's.
	config := filepath.Join(runDir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		return nil, err
	}
	sock := DockerSocket(dir)
	ns := "rgpu-" + filepath.Base(runDir)[len("rgpu-docker-"):]
	cmd := exec.Command("dockerd",
		"--config-file", config,
		"--data-root", dataRoot,
		"--exec-root", filepath.Join(runDir, "exec"),
		"--pidfile", filepath.Join(runDir, "dockerd.pid"),
		"-H", "unix://"+sock,
		"--iptables=false", "--ip-masq=false", "--bridge=none",
		// A containerd the host runs already is shared: keep to our own namespaces.
		"--containerd-namespace", ns, "--containerd-plugins-namespace", ns+"-plugins",
		"--shutdown-timeout", "5",
		"--log-level", "warn")
	cmd.Dir = dir
	cmd.Env = childEnv()
	svc, err := startService("docker", filepath.Join(dir, "logs"), cmd, syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	d := &Docker{Host: "unix://" + sock, svc: svc, runDir: runDir}
	c, err := client.NewClientWithOpts(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		d.Stop()
		return nil, err
	}
	defer c.Close()
	err = svc.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		_, err := c.Ping(ctx)
		return err
	})
	if err != nil {
		d.Stop()
		return nil, err
	}
	began := time.Now()
	imported, err := testimage.Ensure(ctx, c)
	if err != nil {
		d.Stop()
		return nil, svc.failed(err)
	}
	if imported {
		fmt.Fprintf(log, "devstack: imported %s in %s\n", testimage.Ref, time.Since(began).Round(10*time.Millisecond))
	}
	return d, nil
}

// Stop ends the daemon (it stops its containers first) and removes its sockets.
func (d *Docker) Stop() {
	d.svc.stop(20 * time.Second)
	removeRunDir(d.runDir)
}

// removeRunDir removes the daemon's run directory, unmounting first what
// dockerd leaves mounted there (exec/netns/default, the host's network
// namespace).
func removeRunDir(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		// Field 5 is the mount point (octal escapes for blanks, which dir has none of).
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	slices.Sort(mounts)
	for _, m := range slices.Backward(mounts) { // the deepest first
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	_ = os.RemoveAll(dir)
}

// startDocker runs the stack's Docker daemon. A daemon that cannot start
// does not stop the stack: it says why, and DOCKER_HOST still names the
// socket, so that task commands fail with DockerUnavailable and the tests
// that need Docker fail instead of skipping.
func (s *Stack) startDocker(ctx context.Context) error {
	d, err := StartDocker(ctx, s.opts.Dir, s.log)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(s.log, "devstack: WARNING: no Docker daemon, so tasks cannot run (their commands fail with DockerUnavailable): %v\n", err)
		return nil
	}
	s.addService(d.svc)
	s.addCleanup(func() { removeRunDir(d.runDir) })
	return nil
}

// DockerHost is DOCKER_HOST of the stack's Docker daemon ("" without Options.Docker).
func (s *Stack) DockerHost() string {
	if !s.opts.Docker {
		return ""
	}
	return "unix://" + DockerSocket(s.opts.Dir)
}
