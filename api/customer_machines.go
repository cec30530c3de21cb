package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/store"
)

// customerMachinesHandler is "my machines" (requirements 3.1.2): only the
// machines currently leased to the caller's tenant, checked in SQL.
type customerMachinesHandler struct{ s *Server }

// CustomerMachine is what a customer sees of a leased machine.
type CustomerMachine struct {
	ID               string     `json:"id" format:"uuid"`
	Name             string     `json:"name"`
	Region           string     `json:"region"`
	Status           string     `json:"status" enum:"online,offline,maintenance"`
	AllocationStatus string     `json:"allocationStatus" enum:"allocated,expiring"`
	GPUUtil          *float64   `json:"gpuUtil" doc:"Average GPU utilisation of the latest sample (%); null before the agent reports"`
	GPUModel         string     `json:"gpuModel"`
	GPUMemoryGB      int        `json:"gpuMemoryGb"`
	GPUCount         int        `json:"gpuCount"`
	CPUModel         string     `json:"cpuModel"`
	CPUCores         int        `json:"cpuCores"`
	MemoryGB         int        `json:"memoryGb"`
	DiskGB           int        `json:"diskGb"`
	CUDAVersion      string     `json:"cudaVersion"`
	DriverVersion    string     `json:"driverVersion"`
	AllocationID     string     `json:"allocationId" format:"uuid"`
	AllocatedAt      *time.Time `json:"allocatedAt"`
	EndAt            *time.Time `json:"endAt"`
	SSH              SSHInfo    `json:"ssh"`
}

type SSHInfo struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password" doc:"Always masked; reveal it with the reveal-password operation"`
	Command  string `json:"command"`
}

func customerMachine(m *store.Machine) CustomerMachine {
	c := CustomerMachine{ID: m.ID, Name: m.Name, Region: m.Region, Status: m.Status, AllocationStatus: m.AllocationStatus, GPUUtil: m.GPUUtil,
		GPUModel: m.GPUModel, GPUMemoryGB: m.GPUMemoryGB, GPUCount: m.GPUCount, CPUModel: m.CPUModel, CPUCores: m.CPUCores,
		MemoryGB: m.MemoryGB, DiskGB: m.DiskGB, CUDAVersion: m.CUDAVersion, DriverVersion: m.DriverVersion,
		SSH: SSHInfo{Host: m.SSHHost, Port: m.SSHPort, User: m.SSHUser, Password: store.MaskedPassword, Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort)}}
	if m.Allocation != nil {
		c.AllocationID, c.AllocatedAt, c.EndAt = m.Allocation.ID, m.Allocation.StartAt, m.Allocation.EndAt
	}
	return c
}

type ListCustomerMachinesInput struct {
	ListParams
	Status  string `query:"status" enum:"online,offline,maintenance,"`
	Keyword string `query:"keyword" maxLength:"100"`
}

type CustomerMachineIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type MachineSummary struct {
	ID       string     `json:"id" format:"uuid"`
	Name     string     `json:"name"`
	Status   string     `json:"status"`
	GPUModel string     `json:"gpuModel"`
	GPUCount int        `json:"gpuCount"`
	GPUUtil  *float64   `json:"gpuUtil" doc:"Average GPU utilisation of the latest sample (%)"`
	EndAt    *time.Time `json:"endAt"`
	Command  string     `json:"command" doc:"Quick connect"`
}

type ConnectionEventInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Kind string `json:"kind" enum:"copy_command" doc:"What the user did (recorded in the connection history)"`
	}
}

type ConnectionHistoryInput struct {
	ListParams
	MachineID string `query:"machineId"`
}

type CustomerDashboardStats struct {
	Machines       int     `json:"machines"`
	OnlineMachines int     `json:"onlineMachines"`
	GPUs           int     `json:"gpus"`
	HoursThisMonth float64 `json:"hoursThisMonth" doc:"Machine-hours leased this calendar month (from the allocations)"`
	ExpiringSoon   int     `json:"expiringSoon"`
	RunningTasks   int     `json:"runningTasks" required:"false" doc:"The company's tasks running now (运行中的任务)"`
	QueuedTasks    int     `json:"queuedTasks" required:"false"`
}

func (h *customerMachinesHandler) register(api huma.API) {
	const tag = "customer-machines"
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines", "list-my-machines", tag,
		"Machines leased to the caller's company; sortBy name|endAt|gpuModel", roleCustomer, http.StatusBadRequest), h.list)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/summary", "get-my-machines-summary", tag,
		"Machine overview cards for the dashboard: the machines leased to the company, by name, as a plain list of at most 1000 "+
			"(not paged: the dashboard shows one card per leased machine)", roleCustomer), h.summary)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/connection-history", "list-my-connection-history", tag,
		"Password reveals and copied connection commands on the company's machines", roleCustomer, http.StatusBadRequest), h.history)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}", "get-my-machine", tag, "One leased machine", roleCustomer,
		http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPost, "/api/customer/machines/{id}/reveal-password", "reveal-my-machine-password", tag,
		"Reveal the SSH password for copying (recorded)", roleCustomer, http.StatusNotFound), h.reveal)
	huma.Register(api, operation(http.MethodPost, "/api/customer/machines/{id}/connection-events", "record-connection-event", tag,
		"Record that the connection command was copied", roleCustomer, http.StatusNotFound, http.StatusBadRequest), h.event)
	huma.Register(api, operation(http.MethodGet, "/api/customer/dashboard/stats", "get-customer-dashboard-stats", tag,
		"The customer's home cards", roleCustomer), h.stats)
}

func (h *customerMachinesHandler) expiring() time.Duration { return h.s.Config.Fleet.ExpiringNotice }

func (h *customerMachinesHandler) list(ctx context.Context, in *ListCustomerMachinesInput) (*Resp[Page[CustomerMachine]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	p := in.ListParams.store()
	if _, ok := map[string]bool{"name": true, "endAt": true, "gpuModel": true}[p.SortBy]; !ok {
		p.SortBy = "name"
	}
	list, total, err := h.s.Store.ListMachines(ctx, store.MachineFilter{TenantID: principal(ctx).TenantID,
		Status: pick(in.Status, f, "status"), Keyword: pick(in.Keyword, f, "keyword")}, p, h.expiring())
	if err != nil {
		return nil, err
	}
	out := make([]CustomerMachine, len(list))
	for i := range list {
		out[i] = customerMachine(&list[i])
	}
	return okPage(ctx, out, total, in.ListParams)
}

func (h *customerMachinesHandler) all(ctx context.Context) ([]store.Machine, error) {
	list, _, err := h.s.Store.ListMachines(ctx, store.MachineFilter{TenantID: principal(ctx).TenantID},
		store.Page{PageSize: 1000, SortBy: "name"}, h.expiring())
	return list, err
}

func (h *customerMachinesHandler) summary(ctx context.Context, _ *struct{}) (*Resp[[]MachineSummary], error) {
	list, err := h.all(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MachineSummary, len(list))
	for i, m := range list {
		out[i] = MachineSummary{ID: m.ID, Name: m.Name, Status: m.Status, GPUModel: m.GPUModel, GPUCount: m.GPUCount, GPUUtil: m.GPUUtil,
			Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort)}
		if m.Allocation != nil {
			out[i].EndAt = m.Allocation.EndAt
		}
	}
	return ok(ctx, out)
}

func (h *customerMachinesHandler) get(ctx context.Context, in *CustomerMachineIDInput) (*Resp[CustomerMachine], error) {
	m, err := h.s.lease.CustomerMachine(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, customerMachine(m))
}

func (h *customerMachinesHandler) reveal(ctx context.Context, in *CustomerMachineIDInput) (*Resp[RevealedPassword], error) {
	r, err := h.s.lease.RevealCustomerPassword(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

func (h *customerMachinesHandler) event(ctx context.Context, in *ConnectionEventInput) (*Resp[Empty], error) {
	if err := h.s.lease.RecordConnection(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

// history reads the tenant's connection entries from the audit log: owners see everyone's, members their own.
func (h *customerMachinesHandler) history(ctx context.Context, in *ConnectionHistoryInput) (*Resp[Page[store.AuditLog]], error) {
	p := principal(ctx)
	if err := validUUIDs(map[string]string{"machineId": in.MachineID}); err != nil {
		return nil, err
	}
	f := store.AuditFilter{TenantID: p.TenantID, TargetType: "machine", Actions: []string{"machine.reveal_password", "machine.copy_ssh_command"}}
	if p.Role != "owner" {
		f.ActorID = p.UserID
	}
	if in.MachineID != "" {
		f.TargetID = in.MachineID
	}
	list, total, err := h.s.Store.ListAudit(ctx, f, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].IP, list[i].TraceID = "", ""
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *customerMachinesHandler) stats(ctx context.Context, _ *struct{}) (*Resp[CustomerDashboardStats], error) {
	list, err := h.all(ctx)
	if err != nil {
		return nil, err
	}
	var st CustomerDashboardStats
	for _, m := range list {
		st.Machines++
		st.GPUs += m.GPUCount
		if m.Status == "online" {
			st.OnlineMachines++
		}
		if m.AllocationStatus == "expiring" {
			st.ExpiringSoon++
		}
	}
	now := h.s.now()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	if st.HoursThisMonth, err = h.s.Store.TenantUsageHours(ctx, principal(ctx).TenantID, monthStart, now); err != nil {
		return nil, err
	}
	tc, err := h.s.tasks.MyCounts(ctx)
	if err != nil {
		return nil, err
	}
	st.RunningTasks, st.QueuedTasks = tc.Running, tc.Queued
	return ok(ctx, st)
}
