package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/lease"
	"github.com/remotegpu/remotegpu/store"
)

// machinesHandler is the admin's machine management (requirements 2.1.2):
// HTTP over lease.Service, which owns the rules, records and audit.
type machinesHandler struct{ s *Server }

// MachineFields is the add/edit form (2.1.2.2). Empty SSH domain and password are generated on add.
type MachineFields struct {
	Name                  string `json:"name" maxLength:"63" doc:"Unique; letters, digits, . _ -"`
	Region                string `json:"region" maxLength:"64" doc:"Region name or code from the catalog"`
	Room                  string `json:"room,omitempty" maxLength:"100"`
	GPUModel              string `json:"gpuModel" maxLength:"64"`
	GPUMemoryGB           int    `json:"gpuMemoryGb"`
	GPUCount              int    `json:"gpuCount"`
	CUDAVersion           string `json:"cudaVersion,omitempty" maxLength:"16"`
	DriverVersion         string `json:"driverVersion,omitempty" maxLength:"32"`
	CPUModel              string `json:"cpuModel,omitempty" maxLength:"128"`
	CPUCores              int    `json:"cpuCores,omitempty"`
	MemoryGB              int    `json:"memoryGb,omitempty"`
	DiskGB                int    `json:"diskGb,omitempty"`
	InternalIP            string `json:"internalIp,omitempty" maxLength:"64"`
	SSHHost               string `json:"sshHost,omitempty" maxLength:"253" doc:"Generated from the configured pattern when empty"`
	SSHPort               int    `json:"sshPort,omitempty" doc:"Default 22"`
	ContainerDomainPrefix string `json:"containerDomainPrefix,omitempty" maxLength:"63"`
	SSHUser               string `json:"sshUser,omitempty" maxLength:"32" doc:"Default root"`
}

func (f MachineFields) spec() fleet.Spec {
	return fleet.Spec{Name: f.Name, Region: f.Region, Room: f.Room, GPUModel: f.GPUModel, GPUMemoryGB: f.GPUMemoryGB, GPUCount: f.GPUCount,
		CUDAVersion: f.CUDAVersion, DriverVersion: f.DriverVersion, CPUModel: f.CPUModel, CPUCores: f.CPUCores, MemoryGB: f.MemoryGB,
		DiskGB: f.DiskGB, InternalIP: f.InternalIP, SSHHost: f.SSHHost, SSHPort: f.SSHPort, ContainerDomainPrefix: f.ContainerDomainPrefix, SSHUser: f.SSHUser}
}

type CreateMachineInput struct {
	Body struct {
		MachineFields
		SSHPassword string `json:"sshPassword,omitempty" maxLength:"128" doc:"Generated (strong, random) when empty"`
		Status      string `json:"status,omitempty" enum:"online,offline," doc:"Until the machine's agent reports, the state the admin declares (default online)"`
	}
}

// Machine is a machine as the API answers it: the fields of store.Machine
// meant to be seen, copied one by one, so that a column added to the store
// (like the sealed password beside these) never reaches a response by itself.
type Machine struct {
	ID                    string                `json:"id" format:"uuid"`
	Name                  string                `json:"name"`
	Region                string                `json:"region"`
	Room                  string                `json:"room"`
	GPUModel              string                `json:"gpuModel"`
	GPUMemoryGB           int                   `json:"gpuMemoryGb"`
	GPUCount              int                   `json:"gpuCount"`
	CUDAVersion           string                `json:"cudaVersion"`
	DriverVersion         string                `json:"driverVersion"`
	CPUModel              string                `json:"cpuModel"`
	CPUCores              int                   `json:"cpuCores"`
	MemoryGB              int                   `json:"memoryGb"`
	DiskGB                int                   `json:"diskGb"`
	InternalIP            string                `json:"internalIp"`
	SSHHost               string                `json:"sshHost"`
	SSHPort               int                   `json:"sshPort"`
	ContainerDomainPrefix string                `json:"containerDomainPrefix"`
	SSHUser               string                `json:"sshUser"`
	SSHPassword           string                `json:"sshPassword" doc:"Always masked; reveal it with the reveal-password operation"`
	Status                string                `json:"status" enum:"online,offline,maintenance"`
	AllocationStatus      string                `json:"allocationStatus" enum:"allocated,unallocated,expiring"`
	GPUUtil               *float64              `json:"gpuUtil" doc:"Average GPU utilisation of the latest sample (%); null before the agent reports"`
	Allocation            *store.LiveAllocation `json:"allocation,omitempty"`
	AgentTokenIssued      bool                  `json:"agentTokenIssued"`
	Cleanup               *store.MachineCleanup `json:"cleanup,omitempty" doc:"Set while the host has not confirmed the end-of-lease steps of its last lease"`
	CreatedAt             time.Time             `json:"createdAt"`
	UpdatedAt             time.Time             `json:"updatedAt"`
}

func machineOut(m *store.Machine) Machine {
	return Machine{ID: m.ID, Name: m.Name, Region: m.Region, Room: m.Room, GPUModel: m.GPUModel, GPUMemoryGB: m.GPUMemoryGB,
		GPUCount: m.GPUCount, CUDAVersion: m.CUDAVersion, DriverVersion: m.DriverVersion, CPUModel: m.CPUModel, CPUCores: m.CPUCores,
		MemoryGB: m.MemoryGB, DiskGB: m.DiskGB, InternalIP: m.InternalIP, SSHHost: m.SSHHost, SSHPort: m.SSHPort,
		ContainerDomainPrefix: m.ContainerDomainPrefix, SSHUser: m.SSHUser, SSHPassword: m.SSHPassword, Status: m.Status,
		AllocationStatus: m.AllocationStatus, GPUUtil: m.GPUUtil, Allocation: m.Allocation, AgentTokenIssued: m.AgentTokenIssued,
		Cleanup: m.Cleanup, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func machinesOut(list []store.Machine) []Machine {
	out := make([]Machine, len(list))
	for i := range list {
		out[i] = machineOut(&list[i])
	}
	return out
}

// CreatedMachine is a new machine with its agent's bootstrap token.
type CreatedMachine struct {
	Machine Machine `json:"machine"`
	AgentBootstrap
}

// AgentBootstrap is shown once: the token is stored hashed.
type AgentBootstrap = lease.AgentBootstrap

type ListMachinesInput struct {
	ListParams
	GPUModel         string `query:"gpuModel"`
	Region           string `query:"region"`
	Status           string `query:"status" enum:"online,offline,maintenance,"`
	AllocationStatus string `query:"allocationStatus" enum:"allocated,unallocated,expiring,"`
	Keyword          string `query:"keyword" maxLength:"100" doc:"Search by name"`
	TenantID         string `query:"tenantId" doc:"Only machines allocated to this customer"`
}

type MachineIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type UpdateMachineInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		MachineFields
		Status string `json:"status,omitempty" enum:"online,offline," doc:"Until the agent reports; maintenance has its own operations"`
	}
}

type RevealedPassword = lease.RevealedPassword

type SSHCommand struct {
	Command string `json:"command"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	User    string `json:"user"`
}

type StartMaintenanceInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Reason string     `json:"reason" minLength:"1" maxLength:"500"`
		Until  *time.Time `json:"until,omitempty" doc:"Planned end"`
	}
}

type ListMaintenanceInput struct {
	ListParams
	MachineID string `query:"machineId"`
	Open      bool   `query:"open" doc:"Only machines still in maintenance"`
	Keyword   string `query:"keyword" maxLength:"100"`
}

type MachineOptions struct {
	fleet.Catalog
	Statuses           []string `json:"statuses"`
	AllocationStatuses []string `json:"allocationStatuses"`
}

func (h *machinesHandler) register(api huma.API) {
	const tag = "machines"
	reg := func(op huma.Operation, status int) huma.Operation {
		if status != 0 {
			op.DefaultStatus = status
		}
		return op
	}
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines", "list-machines", tag,
		"Machines with filters; sortBy name|createdAt|gpuModel|gpuCount|region|status|allocationStatus|endAt|memoryGb", roleAdmin,
		http.StatusBadRequest), h.list)
	huma.Register(api, reg(operation(http.MethodPost, "/api/admin/machines", "create-machine", tag,
		"Add a machine; returns the agent bootstrap token once", roleAdmin, http.StatusConflict, http.StatusBadRequest), http.StatusCreated), h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/options", "get-machine-options", tag,
		"Regions, GPU models and states the forms offer", roleAdmin), h.options)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/maintenance-records", "list-maintenance-records", tag,
		"Maintenance records (维护记录)", roleAdmin, http.StatusBadRequest), h.listMaintenance)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}", "get-machine", tag, "A machine", roleAdmin, http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/machines/{id}", "update-machine", tag, "Edit a machine", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.update)
	huma.Register(api, operation(http.MethodDelete, "/api/admin/machines/{id}", "delete-machine", tag,
		"Delete a machine (refused while allocated); its allocation history stays", roleAdmin, http.StatusNotFound, http.StatusConflict), h.delete)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/reveal-password", "reveal-machine-password", tag,
		"Reveal the SSH password for copying (audited)", roleAdmin, http.StatusNotFound), h.reveal)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/ssh-command", "get-machine-ssh-command", tag,
		"The ready SSH command (一键登录)", roleAdmin, http.StatusNotFound), h.sshCommand)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/agent-token", "rotate-machine-agent-token", tag,
		"Issue a new agent bootstrap token, shown once; the old bootstrap token stops working. A registered agent keeps its key until an agent registers with the new token (the key is also rotated at every lease end)", roleAdmin, http.StatusNotFound), h.agentToken)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/maintenance", "start-machine-maintenance", tag,
		"Put a machine into maintenance, with a record", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.startMaintenance)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/maintenance/end", "end-machine-maintenance", tag,
		"Take a machine out of maintenance", roleAdmin, http.StatusNotFound, http.StatusConflict), h.endMaintenance)
}

func (h *machinesHandler) expiring() time.Duration { return h.s.Config.Fleet.ExpiringNotice }

func (h *machinesHandler) list(ctx context.Context, in *ListMachinesInput) (*Resp[Page[Machine]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.MachineFilter{Scope: store.AllMachines, GPUModel: pick(in.GPUModel, f, "gpuModel"), Region: pick(in.Region, f, "region"),
		Status: pick(in.Status, f, "status"), AllocationStatus: pick(in.AllocationStatus, f, "allocationStatus"),
		Keyword: pick(in.Keyword, f, "keyword"), TenantID: pick(in.TenantID, f, "tenantId")}
	if err := validUUIDs(map[string]string{"tenantId": filter.TenantID}); err != nil {
		return nil, err
	}
	list, total, err := h.s.Store.ListMachines(ctx, filter, in.ListParams.store(), h.expiring())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, machinesOut(list), total, in.ListParams)
}

func (h *machinesHandler) options(ctx context.Context, _ *struct{}) (*Resp[MachineOptions], error) {
	return ok(ctx, MachineOptions{Catalog: h.s.Config.Fleet.Config().Catalog,
		Statuses: []string{"online", "offline", "maintenance"}, AllocationStatuses: []string{"allocated", "unallocated", "expiring"}})
}

func (h *machinesHandler) create(ctx context.Context, in *CreateMachineInput) (*Resp[CreatedMachine], error) {
	spec := in.Body.spec()
	spec.SSHPassword = in.Body.SSHPassword
	c, err := h.s.lease.CreateMachine(ctx, lease.CreateMachineInput{Spec: spec, Status: in.Body.Status})
	if err != nil {
		return nil, err
	}
	return ok(ctx, CreatedMachine{Machine: machineOut(&c.Machine), AgentBootstrap: c.AgentBootstrap})
}

func (h *machinesHandler) get(ctx context.Context, in *MachineIDInput) (*Resp[Machine], error) {
	m, err := h.s.lease.GetMachine(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, machineOut(m))
}

func (h *machinesHandler) update(ctx context.Context, in *UpdateMachineInput) (*Resp[Machine], error) {
	m, err := h.s.lease.UpdateMachine(ctx, lease.UpdateMachineInput{ID: in.ID, Spec: in.Body.spec(), Status: in.Body.Status})
	if err != nil {
		return nil, err
	}
	return ok(ctx, machineOut(m))
}

func (h *machinesHandler) delete(ctx context.Context, in *MachineIDInput) (*Resp[Empty], error) {
	if err := h.s.lease.DeleteMachine(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *machinesHandler) reveal(ctx context.Context, in *MachineIDInput) (*Resp[RevealedPassword], error) {
	r, err := h.s.lease.RevealMachinePassword(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

func (h *machinesHandler) sshCommand(ctx context.Context, in *MachineIDInput) (*Resp[SSHCommand], error) {
	m, err := h.s.lease.GetMachine(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, SSHCommand{Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort), Host: m.SSHHost, Port: m.SSHPort, User: m.SSHUser})
}

func (h *machinesHandler) agentToken(ctx context.Context, in *MachineIDInput) (*Resp[AgentBootstrap], error) {
	b, err := h.s.lease.RotateAgentToken(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *b)
}

func (h *machinesHandler) startMaintenance(ctx context.Context, in *StartMaintenanceInput) (*Resp[store.MaintenanceRecord], error) {
	rec, err := h.s.lease.StartMaintenance(ctx, lease.StartMaintenanceInput{MachineID: in.ID, Reason: in.Body.Reason, Until: in.Body.Until})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *rec)
}

func (h *machinesHandler) endMaintenance(ctx context.Context, in *MachineIDInput) (*Resp[store.MaintenanceRecord], error) {
	rec, err := h.s.lease.EndMaintenance(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *rec)
}

func (h *machinesHandler) listMaintenance(ctx context.Context, in *ListMaintenanceInput) (*Resp[Page[store.MaintenanceRecord]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.MaintenanceFilter{MachineID: pick(in.MachineID, f, "machineId"), OpenOnly: in.Open || f["open"] == "true",
		Keyword: pick(in.Keyword, f, "keyword")}
	if err := validUUIDs(map[string]string{"machineId": filter.MachineID}); err != nil {
		return nil, err
	}
	list, total, err := h.s.Store.ListMaintenance(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
