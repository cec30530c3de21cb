package agentproto

import (
	"strconv"
	"time"
)

// Tasks: the customer's training and inference containers on a host. Each
// attempt of a task is one container named rgpu-task-<taskID>-<attempt>
// (ContainerName), so a start that is delivered twice, or again after the
// agent restarted, finds the container it started before instead of
// starting a second one.
//
// An attempt is three host commands: KindTaskStart creates and starts the
// container and answers at once; KindTaskWait holds until the container
// exits (heartbeating; a host that stops heartbeating is a lost host) and
// answers its exit; KindTaskStop asks it to stop (SIGTERM, then SIGKILL
// after the grace period). The agent ships each attempt's stdout/stderr on
// its own (PathTaskLogs), from the start until the container is gone.
const (
	KindTaskStart   = "task_start"
	KindTaskWait    = "task_wait"
	KindTaskStop    = "task_stop"
	KindTaskOutputs = "task_outputs"
	// KindTaskRemove removes the task's containers and its directory on the
	// host (outputs and checkpoints), when the customer deletes the task.
	KindTaskRemove = "task_remove"
	// KindTaskOutputFetch uploads one file of the task's output directory
	// to PathTaskOutputUpload (the command's own ID in place of
	// {commandId}); the result is a TaskOutputFetchResult.
	KindTaskOutputFetch = "task_output_fetch"
)

// Agent endpoints of the task data the agent sends on its own.
const (
	// PathTaskLogs takes a TaskLogBatch for the task in place of {id}; only
	// for a task whose attempt runs on the caller's machine.
	PathTaskLogs = "/api/agent/tasks/{id}/logs"
	// PathImages takes an ImagesReport: the images present on the host.
	PathImages = "/api/agent/images"
	// PathTaskOutputUpload takes the raw bytes of one output file (a
	// streaming PUT with Content-Length), for the task in place of {id} and
	// the task_output_fetch command in place of {commandId}: accepted only
	// for an open command of that kind and task, of the caller's machine,
	// once. Answers a TaskOutputFetchResult.
	PathTaskOutputUpload = "/api/agent/tasks/{id}/outputs/{commandId}"
)

// MaxTaskOutputFetchBytes is the largest output file a customer can download.
const MaxTaskOutputFetchBytes int64 = 2 << 30

// Paths inside a task container, and the environment variables that name
// them (documented for customers in the console and docs/tasks.md).
const (
	ContainerOutputDir     = "/rgpu/output"
	ContainerCheckpointDir = "/rgpu/checkpoints"

	EnvOutputDir          = "RGPU_OUTPUT_DIR"
	EnvCheckpointDir      = "RGPU_CHECKPOINT_DIR"
	EnvCheckpointInterval = "RGPU_CHECKPOINT_INTERVAL" // seconds
	EnvTaskID             = "RGPU_TASK_ID"
	EnvAttempt            = "RGPU_ATTEMPT"
	// EnvServicePort is the ServicePort of an inference task (not set without one).
	EnvServicePort = "RGPU_SERVICE_PORT"
)

// Labels on every task container (besides LabelTenant "remotegpu.tenant",
// which the lease-end cleanup uses).
const (
	LabelTask    = "remotegpu.task"
	LabelAttempt = "remotegpu.attempt"
	// LabelMachine is the machine ID of the agent that started it: demo
	// agents share one Docker daemon, and each keeps to its own containers.
	LabelMachine = "remotegpu.machine"
)

// ContainerName is the container of one attempt of a task.
func ContainerName(taskID string, attempt int) string {
	return "rgpu-task-" + taskID + "-" + strconv.Itoa(attempt)
}

type TaskStartArgs struct {
	TaskID   string `json:"taskId"`
	TenantID string `json:"tenantId"`
	Attempt  int    `json:"attempt"`
	Image    string `json:"image"`
	// Command runs through /bin/sh -c in WorkDir (the image's when empty).
	Command string            `json:"command"`
	WorkDir string            `json:"workDir,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// GPUs are the host's GPU indices granted to this attempt: a device
	// request for them on a host with real GPUs, and CUDA_VISIBLE_DEVICES /
	// NVIDIA_VISIBLE_DEVICES in every case.
	GPUs []int `json:"gpus"`
	// CheckpointIntervalSeconds goes to the container as RGPU_CHECKPOINT_INTERVAL (0: not set).
	CheckpointIntervalSeconds int `json:"checkpointIntervalSeconds,omitempty"`
	// ServicePort (inference tasks) is the host's port of the same number:
	// task containers use the host's network, so the service listens on it
	// directly (RGPU_SERVICE_PORT tells it which).
	ServicePort int `json:"servicePort,omitempty"`
	// Datasets are mounted datasets bound read-only into the container.
	Datasets []TaskDataset `json:"datasets,omitempty"`
}

type TaskStartResult struct {
	ContainerID string    `json:"containerId"`
	StartedAt   time.Time `json:"startedAt"`
	// Reused: the container existed already (a repeated start).
	Reused bool `json:"reused,omitempty"`
	// GPUDevices: the container was given the GPUs by a device request;
	// false on a host with a simulated GPU source.
	GPUDevices bool `json:"gpuDevices"`
}

type TaskWaitArgs struct {
	TaskID  string `json:"taskId"`
	Attempt int    `json:"attempt"`
	// ServicePort: the agent probes the service while it waits (service_health.go).
	ServicePort int `json:"servicePort,omitempty"`
}

// TaskWaitResult is how the attempt's container ended.
type TaskWaitResult struct {
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
	// Missing: there was no such container (removed behind the agent's back).
	Missing bool `json:"missing,omitempty"`
	// LogsShipped: the agent shipped every log line of the attempt before answering.
	LogsShipped bool `json:"logsShipped"`
}

type TaskStopArgs struct {
	TaskID       string `json:"taskId"`
	Attempt      int    `json:"attempt"`
	GraceSeconds int    `json:"graceSeconds"`
}

type TaskStopResult struct {
	// WasRunning: the container was running when the stop came.
	WasRunning bool `json:"wasRunning"`
}

type TaskOutputsArgs struct {
	TaskID string `json:"taskId"`
	// Dir is a path relative to the task's output directory ("" for the top).
	Dir string `json:"dir,omitempty"`
}

type TaskOutputsResult struct {
	Files []OutputFile `json:"files"`
	// Truncated: more entries than the agent lists at once (1000).
	Truncated bool `json:"truncated,omitempty"`
}

type OutputFile struct {
	Path    string    `json:"path"` // relative to the output directory
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Dir     bool      `json:"dir,omitempty"`
}

type TaskOutputFetchArgs struct {
	TaskID string `json:"taskId"`
	// Path is a file relative to the task's output directory.
	Path string `json:"path"`
}

// TaskOutputFetchResult is the uploaded object.
type TaskOutputFetchResult struct {
	Size int64  `json:"size"`
	ETag string `json:"etag"`
}

type TaskRemoveArgs struct {
	TaskID string `json:"taskId"`
}

type TaskRemoveResult struct {
	Containers int `json:"containers"`
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// TaskLogBatch is a run of consecutive log lines of one attempt. Offset is
// the index of the first line in the attempt's whole log (counting both
// streams in the order Docker returns them), so a batch sent twice is
// stored once. A batch with no lines asks where to continue.
//
// The agent keeps a batch under MaxTaskLogBatchBytes of line text; the api
// takes bodies of MaxTaskLogBodyBytes (JSON escapes and the fields around
// the text, at worst).
type TaskLogBatch struct {
	Attempt int       `json:"attempt" minimum:"1"`
	Offset  int64     `json:"offset" minimum:"0"`
	Lines   []LogLine `json:"lines" maxItems:"5000"`
}

const (
	MaxTaskLogBatchBytes = 2 << 20
	MaxTaskLogBodyBytes  = 16 << 20
)

type LogLine struct {
	Time   time.Time `json:"t"`
	Stream string    `json:"s" enum:"stdout,stderr"`
	Text   string    `json:"x" maxLength:"16384"`
}

// TaskLogAck says which offset the api expects next for the attempt (lines
// before it are stored), and whether the attempt still wants logs.
type TaskLogAck struct {
	Next int64 `json:"next"`
}

// ImagesReport lists the images present on the host (repo:tag references).
type ImagesReport struct {
	Images []HostImage `json:"images" maxItems:"2000"`
}

type HostImage struct {
	Ref     string    `json:"ref" maxLength:"500"`
	ID      string    `json:"id" maxLength:"200"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}
