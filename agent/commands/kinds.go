package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Host-ops modes (--host-ops).
const (
	// ModeReal does the work on the host.
	ModeReal = "real"
	// ModeSimulated acknowledges the commands that would change the login
	// account or its sessions without doing them, and says so in their
	// results ("simulated": true): for the dev stack's demo agents, which
	// run on a developer's machine. Task containers run for real (in the
	// dev stack's own Docker daemon), and a tenant's stop removes the
	// agent's own ones.
	ModeSimulated = "simulated"
	// ModeOff polls no commands at all: metrics only.
	ModeOff = "off"
)

// Kinds does the work of each command kind.
type Kinds struct {
	// Ops does the host's side: everything in ModeReal, the task
	// containers in ModeSimulated too.
	Ops       *hostops.Ops
	Simulated bool
	// SaveToken keeps a new agent token where the next start finds it;
	// SetToken makes the api client use it from now on.
	SaveToken func(token string) error
	SetToken  func(token string)
	// PutTaskOutput uploads an output file for a task_output_fetch command
	// (pusher.Client.PutTaskOutput).
	PutTaskOutput func(ctx context.Context, taskID, commandID string, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error)
	// Datasets fetches mounts' files and takes machine imports (pusher.Client).
	Datasets DatasetAPI
	Log      *slog.Logger
	// ServiceProbeEvery paces the probes of a task's service
	// (agentproto.ServiceProbeEvery when zero; tests shorten it).
	ServiceProbeEvery time.Duration
}

// Handlers maps each kind to its handler.
func (k *Kinds) Handlers() map[string]Handler {
	h := map[string]Handler{
		agentproto.KindPing:           ping,
		agentproto.KindRotateAgentKey: k.rotateAgentKey, // the agent's own key: real in every mode
	}
	if k.Simulated {
		h[agentproto.KindStopTenant] = k.simStopTenant
		h[agentproto.KindSetPassword] = k.simSetPassword
		h[agentproto.KindSyncSSHKeys] = k.simSyncSSHKeys
	} else {
		h[agentproto.KindStopTenant] = k.stopTenant
		h[agentproto.KindSetPassword] = k.setPassword
		h[agentproto.KindSyncSSHKeys] = k.syncSSHKeys
	}
	for kind, handler := range k.taskHandlers() {
		h[kind] = handler
	}
	for kind, handler := range k.datasetHandlers() {
		h[kind] = handler
	}
	return h
}

func (k *Kinds) log() *slog.Logger {
	if k.Log == nil {
		return slog.Default()
	}
	return k.Log
}

func ping(_ context.Context, c *Call) (any, error) {
	var args agentproto.PingArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	return agentproto.PingResult{Seq: args.Seq}, nil
}

func (k *Kinds) stopTenant(ctx context.Context, c *Call) (any, error) {
	var args agentproto.StopTenantArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	return k.Ops.StopTenant(ctx, args, func(p agentproto.StopTenantResult) { c.Progress(p) })
}

func (k *Kinds) setPassword(ctx context.Context, c *Call) (any, error) {
	var args agentproto.SetPasswordArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	password, err := c.Secret(ctx)
	if err != nil {
		return nil, err
	}
	return k.Ops.SetPassword(ctx, args.User, password)
}

func (k *Kinds) syncSSHKeys(ctx context.Context, c *Call) (any, error) {
	var args agentproto.SyncSSHKeysArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	return k.Ops.SyncSSHKeys(ctx, args)
}

// rotateAgentKey switches the agent to the command's new key: kept in the
// state file first, then used for every call, the result's report
// included (the api accepts the rotation only when the report carries the
// new key). When the key was handed out before (the agent switched, then
// restarted before reporting) the report goes with the key in use: the api
// tells from it whether the switch happened.
func (k *Kinds) rotateAgentKey(ctx context.Context, c *Call) (any, error) {
	token, err := c.Secret(ctx)
	if errors.Is(err, ErrNoSecret) {
		k.log().Warn("the new agent key was handed out before: reporting with the key in use, which tells the control plane whether the agent switched",
			"command", c.ID)
		return agentproto.RotateAgentKeyResult{}, nil
	}
	if err != nil {
		return nil, err
	}
	if token == "" || strings.ContainsAny(token, " \t\r\n\x00") {
		return nil, hostops.Permanentf("InvalidKey", "the new agent key is empty or has blanks")
	}
	if err := k.SaveToken(token); err != nil {
		return nil, hostops.Retryablef("StateNotSaved", err, "unable to keep the new agent key; still using the old one")
	}
	k.SetToken(token)
	k.log().Info("agent key rotated: the new key is kept and in use", "command", c.ID)
	return agentproto.RotateAgentKeyResult{}, nil
}

// The simulated kinds check their arguments like the real ones and change nothing.

func (k *Kinds) simStopTenant(ctx context.Context, c *Call) (any, error) {
	var args agentproto.StopTenantArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	if args.TenantID == "" {
		return nil, hostops.Permanentf("InvalidArgs", "no tenant given")
	}
	res := agentproto.StopTenantResult{Simulated: true}
	if k.Ops != nil {
		n, err := k.Ops.StopTenantContainers(ctx, args.TenantID, func(p agentproto.StopTenantResult) { c.Progress(p) })
		if res.Containers = n; err != nil {
			return res, err
		}
		// the dataset mounts are real copies in this mode too
		if res.DatasetMounts, err = k.Ops.RemoveTenantMounts(args.TenantID); err != nil {
			return res, err
		}
	}
	k.log().Warn("SIMULATED host ops: not killing the tenant's sessions on this machine (its task containers are stopped)",
		"command", c.ID, "tenant", args.TenantID, "user", args.User, "containers", res.Containers)
	return res, nil
}

func (k *Kinds) simSetPassword(ctx context.Context, c *Call) (any, error) {
	var args agentproto.SetPasswordArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	// Fetched like a real agent does (the api hands it out once), then dropped.
	password, err := c.Secret(ctx)
	if err != nil {
		return nil, err
	}
	if password == "" || strings.ContainsAny(password, "\n\r\x00") {
		return nil, hostops.Permanentf("InvalidPassword", "the password is empty or has a line break or NUL")
	}
	k.log().Warn("SIMULATED host ops: not changing the password on this machine", "command", c.ID, "user", args.User)
	return agentproto.SetPasswordResult{User: args.User, Simulated: true}, nil
}

func (k *Kinds) simSyncSSHKeys(_ context.Context, c *Call) (any, error) {
	var args agentproto.SyncSSHKeysArgs
	if err := c.Args(&args); err != nil {
		return nil, err
	}
	keys, err := hostops.CheckKeys(args.Keys)
	if err != nil {
		return nil, err
	}
	k.log().Warn("SIMULATED host ops: not writing authorized_keys on this machine", "command", c.ID, "user", args.User,
		"keys", len(keys), "version", args.Version)
	return agentproto.SyncSSHKeysResult{User: args.User, Keys: len(keys), Simulated: true}, nil
}

// CheckMode validates a --host-ops value.
func CheckMode(mode string) error {
	switch mode {
	case ModeReal, ModeSimulated, ModeOff:
		return nil
	}
	return fmt.Errorf("--host-ops must be %s, %s or %s, not %q", ModeReal, ModeSimulated, ModeOff, mode)
}
