package agentproto

import "time"

// Inference service health: while the container of a task with a service
// port runs, the agent probes http://127.0.0.1:<port>/ every
// ServiceProbeEvery (ServiceProbeTimeout each) and puts the latest answer in
// the task_wait command's heartbeat progress (TaskWaitProgress).
const (
	ServiceProbeEvery   = 10 * time.Second
	ServiceProbeTimeout = 2 * time.Second
)

// TaskWaitProgress is the progress a task_wait command heartbeats.
type TaskWaitProgress struct {
	Service *ServiceProbe `json:"service,omitempty"`
}

// ServiceProbe is one probe of a task's service: any HTTP answer is up (its
// status in Status); a refused connection or a timeout is down.
type ServiceProbe struct {
	Up        bool      `json:"up"`
	Status    int       `json:"status,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
	// Error says why it is down.
	Error string `json:"error,omitempty"`
}
