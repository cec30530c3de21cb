package activities

// Host-side activities run on the GPU host itself, by remotegpu-agent, which
// polls the machine's own task queue. The control plane only knows their
// names and payloads (defined here); the agent registers implementations
// under exactly these names.

// HostTaskQueue is the task queue the agent of a machine polls.
func HostTaskQueue(machineID string) string { return "host." + machineID }

// Names of the host activities, as the agent registers them.
const (
	// HostStopTenantContainers stops (and removes) every container the
	// tenant runs on the machine: tasks, inference services, Jupyter.
	HostStopTenantContainers = "HostStopTenantContainers"
	// HostSetSSHPassword sets the SSH user's password to the one the
	// control plane stored for the machine.
	HostSetSSHPassword = "HostSetSSHPassword"
)

// HostStopTenantContainersInput names whose containers to stop; the agent
// finds them by the tenant and allocation labels it put on them.
type HostStopTenantContainersInput struct {
	MachineID    string
	TenantID     string
	AllocationID string
}

type HostStopTenantContainersResult struct {
	Stopped int // containers stopped (0 when there were none)
}

// HostSetSSHPasswordInput asks the agent to apply the machine's current SSH
// password. The password itself never travels in the workflow's history (it
// would be stored there in clear): the agent fetches the current one from the
// api over HTTPS with its machine token, then sets it for User. Whatever
// password is current when the agent runs is the right one to apply.
type HostSetSSHPasswordInput struct {
	MachineID string
	User      string
}

type HostSetSSHPasswordResult struct {
	User string // the account whose password was set
}
