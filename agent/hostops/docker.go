package hostops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// LabelTenant marks every container the platform starts for a tenant.
const LabelTenant = "remotegpu.tenant"

// Docker is the part of the Docker Engine API client the operations use
// (*client.Client).
type Docker interface {
	DaemonHost() string
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerStop(ctx context.Context, id string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig,
		networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, options container.StartOptions) error
	ContainerWait(ctx context.Context, id string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
}

// DockerAPIVersion is the Engine API the agent speaks: Docker 20.10's, the
// oldest engine it supports (device requests need 1.40), which newer
// engines still serve. A fixed version instead of the client's lazy
// negotiation, whose first calls race when made from several goroutines
// (the command loop, the log shipper and the image report start together).
// DOCKER_API_VERSION overrides it.
const DockerAPIVersion = "1.41"

// NewDocker makes a client of the Docker daemon at host (DOCKER_HOST or the
// local socket when empty). It does not talk to it yet.
func NewDocker(host string) (*client.Client, error) {
	opts := []client.Opt{client.WithVersion(DockerAPIVersion), client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("unable to set up the Docker client: %w", err)
	}
	return c, nil
}

// noDocker tells a host without Docker: no client, or a unix socket that
// does not exist.
func (o *Ops) noDocker() (bool, string) {
	if o.Docker == nil {
		return true, "no Docker client"
	}
	host := o.Docker.DaemonHost()
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return true, "no Docker socket at " + path
		}
	}
	return false, host
}

// stopContainers stops and removes every container labelled with the
// tenant, running or not; containers that vanish meanwhile count as done.
// done is called after each one.
func (o *Ops) stopContainers(ctx context.Context, tenantID string, done func(n int)) (int, error) {
	if absent, why := o.noDocker(); absent {
		o.log().Info("no Docker on this host: no containers to stop", "why", why)
		return 0, nil
	}
	host := o.Docker.DaemonHost()
	args := filters.NewArgs(filters.Arg("label", LabelTenant+"="+tenantID))
	if o.OwnContainersOnly {
		args.Add("label", agentproto.LabelMachine+"="+o.MachineID)
	}
	list, err := o.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, dockerErr(host, "unable to list the tenant's containers", err)
	}
	timeout := o.StopTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	secs := int(timeout.Seconds())
	var (
		mu      sync.Mutex
		errs    []error
		stopped int
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 8)
	)
	for _, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := o.stopOne(ctx, c, secs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			stopped++
			if done != nil {
				done(stopped)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return stopped, dockerErr(host, fmt.Sprintf("unable to stop %d of %d containers", len(errs), len(list)), errors.Join(errs...))
	}
	return stopped, nil
}

func (o *Ops) stopOne(ctx context.Context, c container.Summary, secs int) error {
	name := c.ID
	if len(c.Names) > 0 {
		name = strings.TrimPrefix(c.Names[0], "/")
	}
	if c.State != container.StateExited && c.State != container.StateCreated && c.State != container.StateDead {
		if err := o.Docker.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("unable to stop %s: %w", name, err)
		}
	}
	if err := o.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("unable to remove %s: %w", name, err)
	}
	return nil
}

// dockerErr: a Docker that is there but fails may work later (a daemon
// restarting), so every Docker failure is worth retrying.
func dockerErr(host, msg string, err error) error {
	if client.IsErrConnectionFailed(err) {
		return Retryablef("DockerUnavailable", err, "%s: the Docker daemon at %s does not answer", msg, host)
	}
	return Retryablef("DockerFailed", err, "%s", msg)
}
