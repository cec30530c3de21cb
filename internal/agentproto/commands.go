package agentproto

import "encoding/json"

// Host commands: the one channel through which the control plane has work
// done on a host. A workflow's host activity records a command and waits
// (asynchronous completion); the agent long-polls for its own machine's
// commands, heartbeats while it works (the answer says when the workflow
// cancelled the command) and reports the result, which completes the
// activity. The agent never sees Temporal; the api never hands it another
// machine's command, a command twice after it finished, or a secret outside
// the one command it belongs to.
const (
	PathCommandsPoll = "/api/agent/commands/poll"
	// PathCommandSecret, PathCommandHeartbeat and PathCommandResult take the
	// command ID in place of {id}.
	PathCommandSecret    = "/api/agent/commands/{id}/secret"
	PathCommandHeartbeat = "/api/agent/commands/{id}/heartbeat"
	PathCommandResult    = "/api/agent/commands/{id}/result"
)

// Command kinds, with their arguments and results below.
const (
	// KindStopTenant stops and removes the tenant's containers and kills the
	// processes of the tenant's login sessions.
	KindStopTenant = "stop_tenant"
	// KindSetPassword sets the login user's password to the command's secret.
	KindSetPassword = "set_password"
	// KindSyncSSHKeys makes the platform-managed block of the login user's
	// authorized_keys hold exactly the given keys (none: the block is removed).
	KindSyncSSHKeys = "sync_ssh_keys"
	// KindRotateAgentKey replaces the agent's own token by the command's
	// secret; the result must be reported with the new token.
	KindRotateAgentKey = "rotate_agent_key"
	// KindPing does nothing on the host: the round trip of the channel (benchmarks, checks).
	KindPing = "ping"
)

// PollRequest asks for the machine's commands the agent is not running yet.
type PollRequest struct {
	// Running are the IDs of the commands the agent is working on; the
	// others still open are (re)delivered, so an agent that restarted gets
	// back the commands it lost.
	Running []string `json:"running" maxItems:"1000"`
	// WaitSeconds is how long to hold the request while there is nothing to
	// do (0: answer at once).
	WaitSeconds int `json:"waitSeconds" minimum:"0" maximum:"60"`
}

type PollResponse struct {
	Commands []Command `json:"commands"`
}

// Command is one piece of work for the host.
type Command struct {
	ID   string          `json:"id" format:"uuid"`
	Kind string          `json:"kind"`
	Args json.RawMessage `json:"args"`
	// HasSecret: fetch it once with POST PathCommandSecret.
	HasSecret bool `json:"hasSecret"`
	// HeartbeatSeconds is how often to heartbeat while working on it.
	HeartbeatSeconds int `json:"heartbeatSeconds"`
	// Serial names commands that must run one after another, in the order
	// delivered (e.g. everything touching the login account); empty runs at once.
	Serial string `json:"serial,omitempty"`
}

type SecretResponse struct {
	Secret string `json:"secret"`
}

type HeartbeatRequest struct {
	Progress json.RawMessage `json:"progress,omitempty"`
}

type HeartbeatResponse struct {
	// Cancel: stop working on the command and report it cancelled; the
	// workflow cancelled it, or it is no longer awaited.
	Cancel bool `json:"cancel"`
}

// Result statuses.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
	ResultCancelled = "cancelled"
)

type ResultRequest struct {
	Status string          `json:"status" enum:"succeeded,failed,cancelled"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *CommandError   `json:"error,omitempty"`
}

// CommandError is why a command failed.
type CommandError struct {
	Message string `json:"message" maxLength:"2000"`
	// Type classifies it (e.g. DockerUnavailable, ChpasswdFailed).
	Type string `json:"type,omitempty" maxLength:"100"`
	// Permanent: trying again will not help.
	Permanent bool `json:"permanent,omitempty"`
}

type StopTenantArgs struct {
	TenantID     string `json:"tenantId"`
	AllocationID string `json:"allocationId"`
	// User is the machine's login account: its processes are killed too
	// (unless it is root, whose processes are the system's).
	User string `json:"user"`
}

type StopTenantResult struct {
	Containers int `json:"containers"` // stopped and removed
	Processes  int `json:"processes"`  // killed
	// DatasetMounts: the tenant's dataset mounts removed from the host.
	DatasetMounts int  `json:"datasetMounts,omitempty"`
	Simulated     bool `json:"simulated,omitempty"`
}

type SetPasswordArgs struct {
	User string `json:"user"`
}

type SetPasswordResult struct {
	User      string `json:"user"`
	Simulated bool   `json:"simulated,omitempty"`
}

type SyncSSHKeysArgs struct {
	User string `json:"user"`
	// Keys are authorized_keys lines (type, base64, comment).
	Keys []string `json:"keys"`
	// AllocationID and Version say which lease and which version of the
	// tenant's keys this is (the api records it when the host confirms).
	AllocationID string `json:"allocationId,omitempty"`
	Version      int64  `json:"version"`
}

type SyncSSHKeysResult struct {
	User      string `json:"user"`
	Keys      int    `json:"keys"`
	File      string `json:"file"`
	Simulated bool   `json:"simulated,omitempty"`
}

type RotateAgentKeyResult struct{}

type PingArgs struct {
	Seq int `json:"seq"`
}

type PingResult struct {
	Seq int `json:"seq"`
}
