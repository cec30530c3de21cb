package hostops

// The host activity contract, as activities/host.go defines it for the
// control plane. The agent keeps its own copy so that its binary does not
// pull in the control plane's packages (store, schema, mail...);
// contract_test.go checks that the two stay the same.

// Names the host activities are registered under.
const (
	NameStopTenantContainers = "HostStopTenantContainers"
	NameSetSSHPassword       = "HostSetSSHPassword"
)

// TaskQueue is the task queue the agent of a machine polls.
func TaskQueue(machineID string) string { return "host." + machineID }

type StopTenantContainersInput struct {
	MachineID    string
	TenantID     string
	AllocationID string
}

type StopTenantContainersResult struct {
	Stopped int // containers stopped and removed (0 when there were none)
}

type SetSSHPasswordInput struct {
	MachineID string
	User      string
}

type SetSSHPasswordResult struct {
	User string // the account whose password was set
}
