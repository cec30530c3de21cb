// Package hostops implements the host activities (contract.go, after activities/host.go) that
// the agent runs on the machine's own task queue: stopping a tenant's
// containers through the Docker Engine API, and applying the machine's SSH
// password, fetched from the api so that it never travels through Temporal.
package hostops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/agent/pusher"
)

// LabelTenant marks every container the platform starts for a tenant.
const LabelTenant = "remotegpu.tenant"

// Docker is the part of the Docker Engine API client the activities use
// (*client.Client).
type Docker interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerStop(ctx context.Context, id string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
}

// PasswordSource gives the machine's current SSH login (the api client).
type PasswordSource interface {
	SSHPassword(ctx context.Context) (pusher.PasswordResponse, error)
}

// Ops holds what the host activities need.
type Ops struct {
	MachineID string
	Docker    Docker // nil: no Docker on this host
	// DockerHost names the daemon in messages.
	DockerHost string
	Passwords  PasswordSource
	// SSHUser is the only account whose password the agent sets; empty
	// means the account the api names, which must not be root.
	SSHUser string
	// Chpasswd is the chpasswd command ("chpasswd" from PATH when empty).
	Chpasswd string
	// StopTimeout is how long a container has to stop before it is killed.
	StopTimeout time.Duration
	Log         *slog.Logger
}

// Registry is where activities are registered (a Temporal worker).
type Registry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers the host activities under the names the control plane calls.
func (o *Ops) Register(r Registry) {
	r.RegisterActivityWithOptions(o.StopTenantContainers, activity.RegisterOptions{Name: NameStopTenantContainers})
	r.RegisterActivityWithOptions(o.SetSSHPassword, activity.RegisterOptions{Name: NameSetSSHPassword})
}

// NewDocker connects to the Docker daemon at host (DOCKER_HOST or the local
// socket when empty). It does not talk to it yet.
func NewDocker(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("unable to set up the Docker client: %w", err)
	}
	return c, nil
}

func (o *Ops) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func (o *Ops) checkMachine(id string) error {
	if id != "" && o.MachineID != "" && id != o.MachineID {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("this agent runs machine %s, not %s", o.MachineID, id), "WrongMachine", nil)
	}
	return nil
}

// StopTenantContainers stops and removes every container labelled with the
// tenant, running or not. Containers that vanish meanwhile count as done.
func (o *Ops) StopTenantContainers(ctx context.Context, in StopTenantContainersInput) (StopTenantContainersResult, error) {
	var res StopTenantContainersResult
	if err := o.checkMachine(in.MachineID); err != nil {
		return res, err
	}
	if in.TenantID == "" {
		return res, temporal.NewNonRetryableApplicationError("no tenant given", "InvalidInput", nil)
	}
	if o.Docker == nil {
		return res, temporal.NewNonRetryableApplicationError("Docker is not configured on this agent", "DockerUnavailable", nil)
	}
	list, err := o.Docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelTenant+"="+in.TenantID))})
	if err != nil {
		return res, o.dockerErr("unable to list the tenant's containers", err)
	}
	timeout := o.StopTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	secs := int(timeout.Seconds())
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
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
			res.Stopped++
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, res.Stopped)
			}
		}()
	}
	wg.Wait()
	o.log().Info("stopped the tenant's containers", "tenant", in.TenantID, "allocation", in.AllocationID,
		"stopped", res.Stopped, "failed", len(errs))
	if len(errs) > 0 {
		return res, o.dockerErr(fmt.Sprintf("unable to stop %d of %d containers", len(errs), len(list)), errors.Join(errs...))
	}
	return res, nil
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

// dockerErr makes an unreachable daemon a non-retryable failure: retrying
// will not start Docker.
func (o *Ops) dockerErr(msg string, err error) error {
	if client.IsErrConnectionFailed(err) {
		host := o.DockerHost
		if host == "" {
			host = "the default socket"
		}
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the Docker daemon is not reachable at %s (is Docker installed and running?)", msg, host), "DockerUnavailable", err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

var validUser = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// SetSSHPassword fetches the machine's current SSH login from the api and
// sets it with chpasswd. The password is never logged.
func (o *Ops) SetSSHPassword(ctx context.Context, in SetSSHPasswordInput) (SetSSHPasswordResult, error) {
	var res SetSSHPasswordResult
	if err := o.checkMachine(in.MachineID); err != nil {
		return res, err
	}
	if o.Passwords == nil {
		return res, temporal.NewNonRetryableApplicationError("the agent has no api client", "NotConfigured", nil)
	}
	login, err := o.Passwords.SSHPassword(ctx)
	if err != nil {
		if pusher.Retryable(err) {
			return res, fmt.Errorf("unable to fetch the SSH password: %w", err)
		}
		return res, temporal.NewNonRetryableApplicationError("unable to fetch the SSH password: "+err.Error(), "PasswordUnavailable", err)
	}
	user := login.User
	if user == "" {
		user = in.User
	}
	if in.User != "" && in.User != user {
		o.log().Warn("the api names another SSH user than the workflow; applying the api's current one", "workflow_user", in.User, "user", user)
	}
	switch {
	case !validUser.MatchString(user):
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid SSH user name %q", user), "InvalidUser", nil)
	case o.SSHUser != "" && user != o.SSHUser:
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("refusing to set the password of %q: this agent manages only %q (--ssh-user)", user, o.SSHUser), "UserNotManaged", nil)
	case o.SSHUser == "" && user == "root":
		return res, temporal.NewNonRetryableApplicationError(
			"refusing to set the password of root unless the agent runs with --ssh-user=root", "UserNotManaged", nil)
	case login.Password == "" || strings.ContainsAny(login.Password, "\n\r\x00"):
		return res, temporal.NewNonRetryableApplicationError("the api gave an empty or multi-line password", "InvalidPassword", nil)
	}
	cmdPath := o.Chpasswd
	if cmdPath == "" {
		cmdPath = "chpasswd"
	}
	cmd := exec.CommandContext(ctx, cmdPath)
	cmd.Stdin = strings.NewReader(user + ":" + login.Password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.ReplaceAll(out.String(), login.Password, "***"))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("chpasswd for %s: %w", user, ctx.Err())
		}
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("chpasswd failed for %s: %v: %s", user, err, msg), "ChpasswdFailed", nil)
	}
	o.log().Info("SSH password set", "user", user)
	res.User = user
	return res, nil
}
