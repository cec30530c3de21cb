// Package agentproto is the wire protocol between remotegpu-agent and the
// api (/api/agent/...). Both sides import these types; JSON names are the contract.
//
// Flow: the agent starts with the control-plane URL, its machine ID and the
// one-time bootstrap token the console showed; POST /api/agent/register
// exchanges them for a long-lived agent token (stored hashed, per machine;
// registering again rotates it and needs a fresh bootstrap token). Every
// later call carries "Authorization: Bearer <agent token>" and can only
// read or write its own machine's data. Work on the host reaches the agent
// only as host commands (commands.go); the agent never talks to Temporal.
package agentproto

import "time"

const (
	PathRegister  = "/api/agent/register"
	PathInventory = "/api/agent/inventory"
	PathSamples   = "/api/agent/samples"

	GPUSourceNVML      = "nvml"
	GPUSourceSimulated = "simulated"
)

type RegisterRequest struct {
	MachineID      string    `json:"machineId" format:"uuid"`
	BootstrapToken string    `json:"bootstrapToken" minLength:"1" maxLength:"200"`
	Inventory      Inventory `json:"inventory"`
}

type RegisterResponse struct {
	AgentToken     string   `json:"agentToken" doc:"Keep it; it authenticates every later call"`
	MachineID      string   `json:"machineId" format:"uuid"`
	MachineName    string   `json:"machineName"`
	SampleInterval Duration `json:"sampleIntervalSeconds" doc:"How often to sample, in seconds"`
}

// Duration is whole seconds on the wire.
type Duration int

func (d Duration) Std() time.Duration { return time.Duration(d) * time.Second }

// Inventory is what the host has, as the agent sees it.
type Inventory struct {
	Hostname      string    `json:"hostname" maxLength:"255"`
	OS            string    `json:"os" maxLength:"255"`
	Kernel        string    `json:"kernel" maxLength:"255"`
	GPUSource     string    `json:"gpuSource" enum:"nvml,simulated"`
	DriverVersion string    `json:"driverVersion" maxLength:"64"`
	CUDAVersion   string    `json:"cudaVersion" maxLength:"32"`
	GPUs          []GPUInfo `json:"gpus" maxItems:"64"`
	CPUModel      string    `json:"cpuModel" maxLength:"255"`
	CPUCores      int       `json:"cpuCores"`
	MemoryMiB     int64     `json:"memoryMib"`
	Disks         []Disk    `json:"disks" maxItems:"64"`
	AgentVersion  string    `json:"agentVersion" maxLength:"64"`
}

type GPUInfo struct {
	Index     int    `json:"index"`
	UUID      string `json:"uuid" maxLength:"128"`
	Model     string `json:"model" maxLength:"128"`
	MemoryMiB int64  `json:"memoryMib"`
}

type Disk struct {
	Mount    string  `json:"mount" maxLength:"255"`
	TotalGiB float64 `json:"totalGib"`
}

// SamplesRequest carries one or more sampling rounds (more after an outage: the backlog).
type SamplesRequest struct {
	Samples []Sample `json:"samples" minItems:"1" maxItems:"2000"`
}

type SamplesResponse struct {
	Accepted int `json:"accepted"`
}

// Sample is one sampling round of a host: every GPU and the host figures, taken at At.
type Sample struct {
	At   time.Time   `json:"at"`
	GPUs []GPUSample `json:"gpus" maxItems:"64"`
	Host HostSample  `json:"host"`
}

type GPUSample struct {
	Index       int          `json:"index" minimum:"0" maximum:"63"`
	UUID        string       `json:"uuid,omitempty" maxLength:"128"`
	Utilization float64      `json:"utilization" minimum:"0" maximum:"100" doc:"%"`
	MemUsedMiB  int64        `json:"memUsedMib" minimum:"0"`
	MemTotalMiB int64        `json:"memTotalMib" minimum:"0"`
	TempC       float64      `json:"tempC"`
	PowerW      float64      `json:"powerW" minimum:"0"`
	PowerLimitW float64      `json:"powerLimitW" minimum:"0"`
	FanPct      *float64     `json:"fanPct,omitempty" doc:"Absent where the GPU has no fan (data-center parts)"`
	ECCErrors   *int64       `json:"eccErrors,omitempty" doc:"Uncorrected volatile ECC errors, where NVML has them"`
	Processes   []GPUProcess `json:"processes,omitempty" maxItems:"256"`
	// XIDs are the critical XID errors NVML reported for the GPU since the
	// previous sample (each code once, in the order first seen). The api
	// decides which ones are faults of the GPU (docs/tasks.md, GPU faults).
	XIDs []int `json:"xids,omitempty" maxItems:"16" doc:"Critical XID errors NVML reported for this GPU since the previous sample (each code once)"`
}

type GPUProcess struct {
	PID        int    `json:"pid"`
	Name       string `json:"name" maxLength:"255"`
	MemUsedMiB int64  `json:"memUsedMib"`
}

type HostSample struct {
	CPUPct      float64      `json:"cpuPct" minimum:"0" maximum:"100"`
	MemUsedMiB  int64        `json:"memUsedMib" minimum:"0"`
	MemTotalMiB int64        `json:"memTotalMib" minimum:"0"`
	Disks       []DiskSample `json:"disks" maxItems:"64"`
	NetRxBps    float64      `json:"netRxBps" minimum:"0"`
	NetTxBps    float64      `json:"netTxBps" minimum:"0"`
	Load1       float64      `json:"load1"`
}

type DiskSample struct {
	Mount    string  `json:"mount" maxLength:"255"`
	UsedGiB  float64 `json:"usedGib"`
	TotalGiB float64 `json:"totalGib"`
	ReadBps  float64 `json:"readBps"`
	WriteBps float64 `json:"writeBps"`
}
