package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/store"
)

// Host are the host-side activities: each records a command for the
// machine's agent through the host channel (internal/hostchan) and completes
// when the agent reports what the host did. They run on the control-plane
// task queue like every other activity; the agent never polls Temporal.
type Host struct {
	Store  *store.Store
	Issuer *hostchan.Issuer
}

// Serial groups of host commands: everything that touches the login account
// runs in issue order on the host; the agent's own key separately.
const (
	serialLogin = "login"
	serialAgent = "agent"
)

type StopTenantInput struct {
	MachineID    string
	TenantID     string
	AllocationID string
}

// StopTenant stops and removes the tenant's containers on the machine and
// kills the processes of its login sessions.
func (h *Host) StopTenant(ctx context.Context, in StopTenantInput) (agentproto.StopTenantResult, error) {
	m, err := h.machine(ctx, in.MachineID)
	if err != nil {
		return agentproto.StopTenantResult{}, err
	}
	return hostResult[agentproto.StopTenantResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.ID, Kind: agentproto.KindStopTenant,
		Serial: serialLogin, Args: agentproto.StopTenantArgs{TenantID: in.TenantID, AllocationID: in.AllocationID, User: m.SSHUser}}))
}

type SetPasswordInput struct {
	MachineID string
}

// SetPassword gives the machine's login user a new generated password. The
// password travels only inside the command's sealed secret (never through
// Temporal), and becomes the machine's recorded password when the host
// confirms it applied it.
func (h *Host) SetPassword(ctx context.Context, in SetPasswordInput) (agentproto.SetPasswordResult, error) {
	m, err := h.machine(ctx, in.MachineID)
	if err != nil {
		return agentproto.SetPasswordResult{}, err
	}
	return hostResult[agentproto.SetPasswordResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.ID, Kind: agentproto.KindSetPassword,
		Serial: serialLogin, Args: agentproto.SetPasswordArgs{User: m.SSHUser},
		Secret: func() (string, error) { return auth.GeneratePassword(), nil }}))
}

type SyncSSHKeysInput struct {
	MachineID    string
	AllocationID string
}

// SyncSSHKeys makes the platform's block of the login user's authorized_keys
// hold the lease's keys as the database has them now: the tenant's users'
// keys while the lease is active, none once it has ended.
func (h *Host) SyncSSHKeys(ctx context.Context, in SyncSSHKeysInput) (agentproto.SyncSSHKeysResult, error) {
	m, err := h.machine(ctx, in.MachineID)
	if err != nil {
		return agentproto.SyncSSHKeysResult{}, err
	}
	keys, err := h.Store.MachineSSHKeys(ctx, in.AllocationID)
	if errors.Is(err, store.ErrNotFound) {
		return agentproto.SyncSSHKeysResult{}, temporal.NewNonRetryableApplicationError("allocation not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return agentproto.SyncSSHKeysResult{}, fmt.Errorf("unable to load the tenant's SSH keys: %w", err)
	}
	return hostResult[agentproto.SyncSSHKeysResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.ID, Kind: agentproto.KindSyncSSHKeys,
		Serial: serialLogin, Args: agentproto.SyncSSHKeysArgs{User: m.SSHUser, Keys: keys.Lines, AllocationID: in.AllocationID, Version: keys.Version}}))
}

type RotateAgentKeyInput struct {
	MachineID string
}

// RotateAgentKey gives the agent a new key: the old one (which a former
// tenant may have copied) stops working once the agent has switched.
func (h *Host) RotateAgentKey(ctx context.Context, in RotateAgentKeyInput) (agentproto.RotateAgentKeyResult, error) {
	m, err := h.machine(ctx, in.MachineID)
	if err != nil {
		return agentproto.RotateAgentKeyResult{}, err
	}
	return hostResult[agentproto.RotateAgentKeyResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: m.ID, Kind: agentproto.KindRotateAgentKey,
		Serial: serialAgent,
		Secret: func() (string, error) {
			tok, _ := auth.NewRefreshToken()
			return "rgk_" + tok, nil
		},
		OnSecret: func(ctx context.Context, tx pgx.Tx, key string) error {
			return store.New(tx).SetPendingAgentKey(ctx, m.ID, auth.HashToken(key))
		}}))
}

type PingInput struct {
	MachineID string
	Seq       int
}

// Ping is a round trip through the channel that changes nothing on the host.
func (h *Host) Ping(ctx context.Context, in PingInput) (agentproto.PingResult, error) {
	return hostResult[agentproto.PingResult](h.Issuer.Issue(ctx, hostchan.Request{MachineID: in.MachineID, Kind: agentproto.KindPing,
		Args: agentproto.PingArgs{Seq: in.Seq}}))
}

func (h *Host) machine(ctx context.Context, id string) (*store.Machine, error) {
	m, err := h.Store.GetMachine(ctx, id, 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("machine not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to load the machine: %w", err)
	}
	return m, nil
}

// hostResult decodes the host's answer when the command completed at once;
// otherwise it passes Issue's error on (activity.ErrResultPending included).
func hostResult[T any](raw json.RawMessage, err error) (T, error) {
	var out T
	if err != nil {
		return out, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, fmt.Errorf("unable to decode the host's answer: %w", err)
		}
	}
	return out, nil
}

// ---- before the host channel -------------------------------------------------
//
// Allocation workflows that ended under the first version ran their host
// steps as activities on a per-machine task queue polled by the agent. The
// names and payloads stay so those histories replay; no agent polls those
// queues any more, so a run that still takes that path records its steps
// as not confirmed.

// HostTaskQueue is the task queue agents polled before the host channel.
func HostTaskQueue(machineID string) string { return "host." + machineID }

const (
	HostStopTenantContainers = "HostStopTenantContainers"
	HostSetSSHPassword       = "HostSetSSHPassword"
)

type HostStopTenantContainersInput struct {
	MachineID    string
	TenantID     string
	AllocationID string
}

type HostStopTenantContainersResult struct {
	Stopped int
}

type HostSetSSHPasswordInput struct {
	MachineID string
	User      string
}

type HostSetSSHPasswordResult struct {
	User string
}
