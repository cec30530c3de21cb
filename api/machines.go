package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/store"
)

// machinesHandler is the admin's machine management (requirements 2.1.2).
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

func applySpec(m *store.Machine, s fleet.Spec) {
	m.Name, m.Region, m.Room, m.GPUModel, m.GPUMemoryGB, m.GPUCount = s.Name, s.Region, s.Room, s.GPUModel, s.GPUMemoryGB, s.GPUCount
	m.CUDAVersion, m.DriverVersion, m.CPUModel, m.CPUCores, m.MemoryGB, m.DiskGB = s.CUDAVersion, s.DriverVersion, s.CPUModel, s.CPUCores, s.MemoryGB, s.DiskGB
	m.InternalIP, m.SSHHost, m.SSHPort, m.ContainerDomainPrefix, m.SSHUser = s.InternalIP, s.SSHHost, s.SSHPort, s.ContainerDomainPrefix, s.SSHUser
}

// specErrors turns fleet's field errors into one 400 with every field named.
func specErrors(errs []fleet.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	e := apperr.New(apperr.Invalid, apperr.CodeValidation, errs[0].Message)
	for _, fe := range errs {
		e.Fields = append(e.Fields, apperr.FieldError{Location: "body." + fe.Field, Message: fe.Message})
	}
	return e
}

type CreateMachineInput struct {
	Body struct {
		MachineFields
		SSHPassword string `json:"sshPassword,omitempty" maxLength:"128" doc:"Generated (strong, random) when empty"`
		Status      string `json:"status,omitempty" enum:"online,offline," doc:"Until the machine's agent reports, the state the admin declares (default online)"`
	}
}

type CreatedMachine struct {
	Machine store.Machine `json:"machine"`
	AgentBootstrap
}

// AgentBootstrap is shown once: the token is stored hashed.
type AgentBootstrap struct {
	AgentToken     string    `json:"agentToken" doc:"Shown once; the agent exchanges it for its own credentials"`
	ExpiresAt      time.Time `json:"expiresAt" doc:"The token works once, until then (BOOTSTRAP_TOKEN_TTL)"`
	InstallCommand string    `json:"installCommand" doc:"One line that configures the installed agent on the host and (re)starts it, which registers it"`
}

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

type RevealedPassword struct {
	Password string `json:"password"`
	User     string `json:"user"`
	Command  string `json:"command"`
}

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
		http.StatusBadRequest, http.StatusUnprocessableEntity), h.list)
	huma.Register(api, reg(operation(http.MethodPost, "/api/admin/machines", "create-machine", tag,
		"Add a machine; returns the agent bootstrap token once", roleAdmin, http.StatusConflict, http.StatusUnprocessableEntity), http.StatusCreated), h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/options", "get-machine-options", tag,
		"Regions, GPU models and states the forms offer", roleAdmin), h.options)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/maintenance-records", "list-maintenance-records", tag,
		"Maintenance records (维护记录)", roleAdmin, http.StatusBadRequest, http.StatusUnprocessableEntity), h.listMaintenance)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}", "get-machine", tag, "A machine", roleAdmin, http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/machines/{id}", "update-machine", tag, "Edit a machine", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.update)
	huma.Register(api, operation(http.MethodDelete, "/api/admin/machines/{id}", "delete-machine", tag,
		"Delete a machine (refused while allocated); its allocation history stays", roleAdmin, http.StatusNotFound, http.StatusConflict), h.delete)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/reveal-password", "reveal-machine-password", tag,
		"Reveal the SSH password for copying (audited)", roleAdmin, http.StatusNotFound), h.reveal)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/ssh-command", "get-machine-ssh-command", tag,
		"The ready SSH command (一键登录)", roleAdmin, http.StatusNotFound), h.sshCommand)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/agent-token", "rotate-machine-agent-token", tag,
		"Issue a new agent bootstrap token (the old one stops working); shown once", roleAdmin, http.StatusNotFound), h.agentToken)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/maintenance", "start-machine-maintenance", tag,
		"Put a machine into maintenance, with a record", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.startMaintenance)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/maintenance/end", "end-machine-maintenance", tag,
		"Take a machine out of maintenance", roleAdmin, http.StatusNotFound, http.StatusConflict), h.endMaintenance)
}

func (h *machinesHandler) expiring() time.Duration { return h.s.Config.Fleet.ExpiringNotice }

func (h *machinesHandler) list(ctx context.Context, in *ListMachinesInput) (*Resp[Page[store.Machine]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.MachineFilter{GPUModel: pick(in.GPUModel, f, "gpuModel"), Region: pick(in.Region, f, "region"),
		Status: pick(in.Status, f, "status"), AllocationStatus: pick(in.AllocationStatus, f, "allocationStatus"),
		Keyword: pick(in.Keyword, f, "keyword"), TenantID: pick(in.TenantID, f, "tenantId")}
	if err := validUUIDs(map[string]string{"tenantId": filter.TenantID}); err != nil {
		return nil, err
	}
	list, total, err := h.s.Store.ListMachines(ctx, filter, in.ListParams.store(), h.expiring())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *machinesHandler) options(ctx context.Context, _ *struct{}) (*Resp[MachineOptions], error) {
	return ok(ctx, MachineOptions{Catalog: h.s.Config.Fleet.Config().Catalog,
		Statuses: []string{"online", "offline", "maintenance"}, AllocationStatuses: []string{"allocated", "unallocated", "expiring"}})
}

func (h *machinesHandler) create(ctx context.Context, in *CreateMachineInput) (*Resp[CreatedMachine], error) {
	spec := in.Body.spec()
	spec.SSHPassword = in.Body.SSHPassword
	if err := specErrors(spec.Normalize(h.s.Config.Fleet.Config(), true)); err != nil {
		return nil, err
	}
	enc, err := h.s.Secrets.Seal(spec.SSHPassword)
	if err != nil {
		return nil, err
	}
	m := store.Machine{SSHPasswordEnc: enc, Status: in.Body.Status}
	applySpec(&m, spec)
	boot := h.newBootstrap()
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.CreateMachine(ctx, tx, &m, ""); err != nil {
			return err
		}
		if err := store.SetAgentToken(ctx, tx, m.ID, auth.HashToken(boot.AgentToken), boot.ExpiresAt); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.create", TargetType: "machine", TargetID: m.ID, Success: true,
			Detail: map[string]any{"after": machineAudit(&m)}})
	})
	if err != nil {
		return nil, machineConflict(err)
	}
	created, err := h.s.Store.GetMachine(ctx, m.ID, h.expiring())
	if err != nil {
		return nil, err
	}
	boot.InstallCommand = h.installCommand(m.ID, boot.AgentToken)
	return ok(ctx, CreatedMachine{Machine: *created, AgentBootstrap: boot})
}

func (h *machinesHandler) newBootstrap() AgentBootstrap {
	tok, _ := auth.NewRefreshToken()
	return AgentBootstrap{AgentToken: "rga_" + tok, ExpiresAt: h.s.now().Add(h.s.Config.Fleet.BootstrapTTL()).UTC()}
}

// installCommand is the one line the admin runs on a host where the agent
// and its systemd unit are installed (README, "The host agent"): it writes
// the agent's configuration and (re)starts it, which registers it.
func (h *machinesHandler) installCommand(machineID, token string) string {
	base := strings.TrimRight(h.s.Config.PublicURL, "/")
	if base == "" {
		base = "https://<control-plane>"
	}
	return fmt.Sprintf("sudo install -d -m 0700 /etc/remotegpu && printf 'REMOTEGPU_URL=%%s\\nREMOTEGPU_MACHINE_ID=%%s\\nREMOTEGPU_AGENT_TOKEN=%%s\\n' "+
		"%s %s %s | sudo install -m 0600 /dev/stdin /etc/remotegpu/agent.env && sudo systemctl restart remotegpu-agent", base, machineID, token)
}

// machineAudit is what the audit log keeps of a machine: never the password.
func machineAudit(m *store.Machine) map[string]any {
	return map[string]any{"name": m.Name, "region": m.Region, "room": m.Room, "gpuModel": m.GPUModel, "gpuMemoryGb": m.GPUMemoryGB,
		"gpuCount": m.GPUCount, "cudaVersion": m.CUDAVersion, "driverVersion": m.DriverVersion, "cpuModel": m.CPUModel,
		"cpuCores": m.CPUCores, "memoryGb": m.MemoryGB, "diskGb": m.DiskGB, "internalIp": m.InternalIP, "sshHost": m.SSHHost,
		"sshPort": m.SSHPort, "sshUser": m.SSHUser, "containerDomainPrefix": m.ContainerDomainPrefix, "status": m.Status}
}

func machineConflict(err error) error {
	if store.IsUniqueViolation(err, "machines_name_key") {
		return apperr.Conflictf("机器名称已存在 / a machine with this name already exists").AtField("body.name")
	}
	return err
}

func machineNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("机器不存在 / machine not found")
	}
	return err
}

func (h *machinesHandler) get(ctx context.Context, in *MachineIDInput) (*Resp[store.Machine], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	return ok(ctx, *m)
}

func (h *machinesHandler) update(ctx context.Context, in *UpdateMachineInput) (*Resp[store.Machine], error) {
	before, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	spec := in.Body.spec()
	if spec.SSHHost == "" {
		spec.SSHHost = before.SSHHost
	}
	if err := specErrors(spec.Normalize(h.s.Config.Fleet.Config(), false)); err != nil {
		return nil, err
	}
	after := *before
	applySpec(&after, spec)
	status := in.Body.Status
	if status != "" && status != before.Status && before.Status == "maintenance" {
		return nil, apperr.Conflictf("机器维护中，请先结束维护 / the machine is in maintenance; end the maintenance first").AtField("body.status")
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpdateMachine(ctx, tx, &after); err != nil {
			return err
		}
		if status != "" && status != before.Status {
			if err := store.SetMachineStatus(ctx, tx, after.ID, status); err != nil {
				return err
			}
			after.Status = status
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.update", TargetType: "machine", TargetID: after.ID, Success: true,
			Detail: map[string]any{"before": machineAudit(before), "after": machineAudit(&after)}})
	})
	if err != nil {
		return nil, machineConflict(err)
	}
	return h.get(ctx, &MachineIDInput{ID: in.ID})
}

func (h *machinesHandler) delete(ctx context.Context, in *MachineIDInput) (*Resp[Empty], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	if m.Allocation != nil {
		return nil, apperr.Conflictf("机器已分配给 %s，请先回收 / the machine is allocated to %s; reclaim it first", m.Allocation.Customer, m.Allocation.Customer)
	}
	if m.Cleanup != nil {
		return nil, apperr.Conflictf("机器上一租期的清理尚未完成；主机已重装或不再使用时请先标记为已重装 / " +
			"the machine's last lease is still being cleaned; if the host was reinstalled or is gone, mark it reinstalled first")
	}
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteMachine(ctx, tx, in.ID); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.delete", TargetType: "machine", TargetID: in.ID, Success: true,
			Detail: map[string]any{"before": machineAudit(m)}})
	})
	if store.IsUniqueViolation(err, "allocations_live_machine_key") || store.IsForeignKeyViolation(err) {
		return nil, apperr.Conflictf("机器正在被分配，请稍后重试 / the machine is being allocated; try again")
	}
	if err != nil {
		return nil, machineNotFound(err)
	}
	return ok(ctx, Empty{})
}

func (h *machinesHandler) reveal(ctx context.Context, in *MachineIDInput) (*Resp[RevealedPassword], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	return h.s.revealPassword(ctx, m)
}

// revealPassword decrypts a machine's SSH password for the caller (admin or
// the customer leasing it) and records the reveal in the audit log.
func (s *Server) revealPassword(ctx context.Context, m *store.Machine) (*Resp[RevealedPassword], error) {
	pw, err := s.Secrets.Open(m.SSHPasswordEnc)
	if err != nil {
		return nil, fmt.Errorf("unable to decrypt the SSH password of %s: %w", m.ID, err)
	}
	// No record, no password: a reveal that cannot be audited does not happen.
	if err := s.audit(ctx, nil, auditEntry{Action: "machine.reveal_password", TargetType: "machine", TargetID: m.ID, Success: true,
		Detail: map[string]any{"machine": m.Name}}); err != nil {
		return nil, fmt.Errorf("unable to audit the password reveal of %s: %w", m.ID, err)
	}
	return ok(ctx, RevealedPassword{Password: pw, User: m.SSHUser, Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort)})
}

func (h *machinesHandler) sshCommand(ctx context.Context, in *MachineIDInput) (*Resp[SSHCommand], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	return ok(ctx, SSHCommand{Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort), Host: m.SSHHost, Port: m.SSHPort, User: m.SSHUser})
}

func (h *machinesHandler) agentToken(ctx context.Context, in *MachineIDInput) (*Resp[AgentBootstrap], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	boot := h.newBootstrap()
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.SetAgentToken(ctx, tx, m.ID, auth.HashToken(boot.AgentToken), boot.ExpiresAt); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.agent_token", TargetType: "machine", TargetID: m.ID, Success: true,
			Detail: map[string]any{"machine": m.Name}})
	})
	if err != nil {
		return nil, err
	}
	boot.InstallCommand = h.installCommand(m.ID, boot.AgentToken)
	return ok(ctx, boot)
}

func (h *machinesHandler) startMaintenance(ctx context.Context, in *StartMaintenanceInput) (*Resp[store.MaintenanceRecord], error) {
	p := principal(ctx)
	if in.Body.Until != nil && in.Body.Until.Before(h.s.now()) {
		return nil, apperr.Newf(apperr.Unprocessable, "计划结束时间须晚于现在 / the planned end must be in the future").AtField("body.until")
	}
	var rec *store.MaintenanceRecord
	err := h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if rec, err = store.StartMaintenance(ctx, tx, in.ID, strings.TrimSpace(in.Body.Reason), in.Body.Until, p.UserID, p.Username); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.maintenance_start", TargetType: "machine", TargetID: in.ID, Success: true,
			Detail: map[string]any{"reason": rec.Reason, "until": in.Body.Until, "before": rec.PreviousStatus, "after": "maintenance"}})
	})
	if store.IsUniqueViolation(err, "maintenance_records_open_key") {
		return nil, apperr.Conflictf("机器已在维护中 / the machine is already in maintenance")
	}
	if err != nil {
		return nil, machineNotFound(err)
	}
	rec.MachineID = in.ID
	return ok(ctx, *rec)
}

func (h *machinesHandler) endMaintenance(ctx context.Context, in *MachineIDInput) (*Resp[store.MaintenanceRecord], error) {
	p := principal(ctx)
	if _, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring()); err != nil {
		return nil, machineNotFound(err)
	}
	var rec *store.MaintenanceRecord
	err := h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if rec, err = store.EndMaintenance(ctx, tx, in.ID, p.UserID, p.Username); err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "machine.maintenance_end", TargetType: "machine", TargetID: in.ID, Success: true,
			Detail: map[string]any{"before": "maintenance", "after": rec.PreviousStatus}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.Conflictf("机器不在维护中 / the machine is not in maintenance")
	}
	if errors.Is(err, store.ErrCleanupMaintenance) {
		return nil, apperr.Conflictf("该维护是租期结束后的清理，主机确认全部步骤后自动结束；主机已重装时请标记为已重装 / " +
			"this maintenance is the cleanup after a lease: it ends when the host confirmed every step, or mark the machine reinstalled")
	}
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
