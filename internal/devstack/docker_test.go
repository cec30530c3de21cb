package devstack

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/remotegpu/remotegpu/internal/testimage"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The private daemon runs the test image's scripts, keeps its images
// across restarts (imported once) and leaves nothing behind in /tmp.
func TestDocker(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var log syncBuffer
	d, err := StartDocker(ctx, dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "imported "+testimage.Ref) {
		t.Errorf("log: %s", log.String())
	}
	cli, err := client.NewClientWithOpts(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: testimage.Ref, Cmd: []string{"sh", testimage.ScriptDir + "/exit1.sh"}},
		&container.HostConfig{NetworkMode: "host"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.StatusCode != 1 {
			t.Errorf("exit1.sh exited %d", w.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	}
	rc, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, rc)
	rc.Close()
	if err != nil || stdout.String() != "exit1: about to fail\n" || stderr.String() != "exit1: failing on purpose\n" {
		t.Errorf("logs %q %q, %v", stdout.String(), stderr.String(), err)
	}
	d.Stop()
	if _, err := os.Stat(dockerRunDir(dir)); !os.IsNotExist(err) {
		t.Errorf("run dir left: %v", err)
	}

	log = syncBuffer{}
	d, err = StartDocker(ctx, dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if strings.Contains(log.String(), "imported") {
		t.Errorf("imported again: %s", log.String())
	}
}

// DOCKER_HOST names the stack's socket, whose path fits a unix socket
// address (108 bytes) however deep the state directory is.
func TestDockerHostEnv(t *testing.T) {
	deep := "/" + strings.Repeat("very-long-directory-name/", 10) + "stack"
	s := &Stack{opts: Options{Dir: deep, Docker: true}}
	host := s.ServiceEnv()["DOCKER_HOST"]
	if host != "unix://"+DockerSocket(deep) || len(DockerSocket(deep)) >= 108 {
		t.Errorf("DOCKER_HOST %q", host)
	}
	if DockerSocket(deep) == DockerSocket(deep+"2") {
		t.Error("two stacks share a socket")
	}
	if h := (&Stack{opts: Options{Dir: deep}}).ServiceEnv()["DOCKER_HOST"]; h != "" {
		t.Errorf("without Docker: %q", h)
	}
}
