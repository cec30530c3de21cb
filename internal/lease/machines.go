package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/store"
)

// AgentBootstrap is shown once: the token is stored hashed.
type AgentBootstrap struct {
	AgentToken     string    `json:"agentToken" doc:"Shown once; the agent exchanges it for its own credentials"`
	ExpiresAt      time.Time `json:"expiresAt" doc:"The token works once, until then (BOOTSTRAP_TOKEN_TTL)"`
	InstallCommand string    `json:"installCommand" doc:"One line that configures the installed agent on the host and (re)starts it, which registers it"`
}

// CreatedMachine is a new machine with its agent's bootstrap token.
type CreatedMachine struct {
	Machine store.Machine `json:"machine"`
	AgentBootstrap
}

// RevealedPassword is a machine's SSH login, for copying.
type RevealedPassword struct {
	Password string `json:"password"`
	User     string `json:"user"`
	Command  string `json:"command"`
}

// CreateMachineInput adds a machine. Status is what the admin declares
// until the agent reports (default online).
type CreateMachineInput struct {
	Spec   fleet.Spec
	Status string
}

// UpdateMachineInput edits a machine. An empty SSH host keeps the current
// one; an empty status keeps it.
type UpdateMachineInput struct {
	ID     string
	Spec   fleet.Spec
	Status string
}

// SpecErrors turns fleet's field errors into one 400 with every field named
// (location body.<field>).
func SpecErrors(errs []apperr.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	e := apperr.New(apperr.Invalid, apperr.CodeValidation, errs[0].Message)
	for _, fe := range errs {
		fe.Location = "body." + fe.Location
		e.Fields = append(e.Fields, fe)
	}
	return e
}

func applySpec(m *store.Machine, s fleet.Spec) {
	m.Name, m.Region, m.Room, m.GPUModel, m.GPUMemoryGB, m.GPUCount = s.Name, s.Region, s.Room, s.GPUModel, s.GPUMemoryGB, s.GPUCount
	m.CUDAVersion, m.DriverVersion, m.CPUModel, m.CPUCores, m.MemoryGB, m.DiskGB = s.CUDAVersion, s.DriverVersion, s.CPUModel, s.CPUCores, s.MemoryGB, s.DiskGB
	m.InternalIP, m.SSHHost, m.SSHPort, m.ContainerDomainPrefix, m.SSHUser = s.InternalIP, s.SSHHost, s.SSHPort, s.ContainerDomainPrefix, s.SSHUser
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
		return apperr.ConflictErr("machines.nameTaken", "a machine with this name already exists").AtField("body.name")
	}
	return err
}

// CreateMachine validates and adds a machine (generating what may be
// generated) with a bootstrap token for its agent, audited.
func (s *Service) CreateMachine(ctx context.Context, in CreateMachineInput) (*CreatedMachine, error) {
	spec := in.Spec
	if err := SpecErrors(spec.Normalize(s.Config.Fleet.Config(), true)); err != nil {
		return nil, err
	}
	enc, err := s.Secrets.Seal(spec.SSHPassword)
	if err != nil {
		return nil, err
	}
	m := store.Machine{SSHPasswordEnc: enc, Status: in.Status}
	applySpec(&m, spec)
	boot := s.newBootstrap()
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).CreateMachine(ctx, &m, ""); err != nil {
			return err
		}
		if err := store.New(tx).SetAgentToken(ctx, m.ID, auth.HashToken(boot.AgentToken), boot.ExpiresAt); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.create", TargetType: "machine", TargetID: m.ID, Success: true,
			Detail: map[string]any{"after": machineAudit(&m)}})
	})
	if err != nil {
		return nil, machineConflict(err)
	}
	created, err := s.Store.GetMachine(ctx, m.ID, s.expiring())
	if err != nil {
		return nil, err
	}
	boot.InstallCommand = s.installCommand(m.ID, boot.AgentToken)
	return &CreatedMachine{Machine: *created, AgentBootstrap: boot}, nil
}

func (s *Service) newBootstrap() AgentBootstrap {
	tok, _ := auth.NewRefreshToken()
	return AgentBootstrap{AgentToken: "rga_" + tok, ExpiresAt: s.Now().Add(s.Config.Fleet.BootstrapTTL()).UTC()}
}

// installCommand is the one line the admin runs on a host where the agent
// and its systemd unit are installed (README, "The host agent"): it writes
// the agent's configuration and (re)starts it, which registers it.
func (s *Service) installCommand(machineID, token string) string {
	base := strings.TrimRight(s.Config.PublicURL, "/")
	if base == "" {
		base = "https://<control-plane>"
	}
	return fmt.Sprintf("sudo install -d -m 0700 /etc/remotegpu && printf 'REMOTEGPU_URL=%%s\\nREMOTEGPU_MACHINE_ID=%%s\\nREMOTEGPU_AGENT_TOKEN=%%s\\n' "+
		"%s %s %s | sudo install -m 0600 /dev/stdin /etc/remotegpu/agent.env && sudo systemctl restart remotegpu-agent", base, machineID, token)
}

// UpdateMachine edits a machine's record and the status the admin declares,
// audited with before and after; a machine in maintenance keeps its status.
func (s *Service) UpdateMachine(ctx context.Context, in UpdateMachineInput) (*store.Machine, error) {
	before, err := s.GetMachine(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	spec := in.Spec
	if spec.SSHHost == "" {
		spec.SSHHost = before.SSHHost
	}
	if err := SpecErrors(spec.Normalize(s.Config.Fleet.Config(), false)); err != nil {
		return nil, err
	}
	after := *before
	applySpec(&after, spec)
	status := in.Status
	if status != "" && status != before.Status && before.Status == "maintenance" {
		return nil, apperr.ConflictErr("machines.inMaintenance", "the machine is in maintenance; end the maintenance first").AtField("body.status")
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).UpdateMachine(ctx, &after); err != nil {
			return err
		}
		if status != "" && status != before.Status {
			if err := store.New(tx).SetMachineStatus(ctx, after.ID, status); err != nil {
				return err
			}
			after.Status = status
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.update", TargetType: "machine", TargetID: after.ID, Success: true,
			Detail: map[string]any{"before": machineAudit(before), "after": machineAudit(&after)}})
	})
	if err != nil {
		return nil, machineConflict(err)
	}
	return s.GetMachine(ctx, in.ID)
}

// DeleteMachine removes a machine that is neither leased nor waiting for
// its last lease's cleanup; its allocation history stays.
func (s *Service) DeleteMachine(ctx context.Context, id string) error {
	m, err := s.GetMachine(ctx, id)
	if err != nil {
		return err
	}
	if m.Allocation != nil {
		return apperr.ConflictErr("machines.deleteAllocated", "the machine is allocated to {customer}; reclaim it first",
			apperr.P{"customer": m.Allocation.Customer})
	}
	if m.Cleanup != nil {
		return apperr.ConflictErr("machines.deleteBeingCleaned",
			"the machine's last lease is still being cleaned; if the host was reinstalled or is gone, mark it reinstalled first")
	}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).DeleteMachine(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.delete", TargetType: "machine", TargetID: id, Success: true,
			Detail: map[string]any{"before": machineAudit(m)}})
	})
	if store.IsUniqueViolation(err, "allocations_live_machine_key") || store.IsForeignKeyViolation(err) {
		return apperr.ConflictErr("machines.beingAllocated", "the machine is being allocated; try again")
	}
	return MachineNotFound(err)
}

// RevealPassword decrypts a machine's SSH password for the caller (the
// admin, or the customer leasing it: the caller looked it up) and records
// the reveal: a reveal that cannot be audited does not happen.
func (s *Service) RevealPassword(ctx context.Context, m *store.Machine) (*RevealedPassword, error) {
	pw, err := s.Secrets.Open(m.SSHPasswordEnc)
	if err != nil {
		return nil, fmt.Errorf("unable to decrypt the SSH password of %s: %w", m.ID, err)
	}
	if err := audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "machine.reveal_password", TargetType: "machine", TargetID: m.ID, Success: true,
		Detail: map[string]any{"machine": m.Name}}); err != nil {
		return nil, fmt.Errorf("unable to audit the password reveal of %s: %w", m.ID, err)
	}
	return &RevealedPassword{Password: pw, User: m.SSHUser, Command: fleet.SSHCommand(m.SSHUser, m.SSHHost, m.SSHPort)}, nil
}

// RevealMachinePassword is RevealPassword for the admin, by the machine's ID.
func (s *Service) RevealMachinePassword(ctx context.Context, id string) (*RevealedPassword, error) {
	m, err := s.GetMachine(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.RevealPassword(ctx, m)
}

// RotateAgentToken issues a new bootstrap token for installing the machine's
// agent (the old bootstrap token stops working), audited. An agent already
// registered keeps its key until an agent registers with the new token; the
// key is rotated at the end of every lease (lease cleanup).
func (s *Service) RotateAgentToken(ctx context.Context, id string) (*AgentBootstrap, error) {
	m, err := s.GetMachine(ctx, id)
	if err != nil {
		return nil, err
	}
	boot := s.newBootstrap()
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.New(tx).SetAgentToken(ctx, m.ID, auth.HashToken(boot.AgentToken), boot.ExpiresAt); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.agent_token", TargetType: "machine", TargetID: m.ID, Success: true,
			Detail: map[string]any{"machine": m.Name}})
	})
	if err != nil {
		return nil, err
	}
	boot.InstallCommand = s.installCommand(m.ID, boot.AgentToken)
	return &boot, nil
}

// StartMaintenanceInput puts a machine into maintenance.
type StartMaintenanceInput struct {
	MachineID string
	Reason    string
	Until     *time.Time // planned end
}

// StartMaintenance puts a machine into maintenance with a record, audited.
func (s *Service) StartMaintenance(ctx context.Context, in StartMaintenanceInput) (*store.MaintenanceRecord, error) {
	p := caller.From(ctx)
	if in.Until != nil && in.Until.Before(s.Now()) {
		return nil, apperr.New(apperr.Invalid, "machines.maintenanceUntilPast", "the planned end must be in the future").AtField("body.until")
	}
	var rec *store.MaintenanceRecord
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if rec, err = store.New(tx).StartMaintenance(ctx, in.MachineID, strings.TrimSpace(in.Reason), in.Until, p.UserID, p.Username); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.maintenance_start", TargetType: "machine", TargetID: in.MachineID, Success: true,
			Detail: map[string]any{"reason": rec.Reason, "until": in.Until, "before": rec.PreviousStatus, "after": "maintenance"}})
	})
	if store.IsUniqueViolation(err, "maintenance_records_open_key") {
		return nil, apperr.ConflictErr("machines.alreadyInMaintenance", "the machine is already in maintenance")
	}
	if err != nil {
		return nil, MachineNotFound(err)
	}
	rec.MachineID = in.MachineID
	return rec, nil
}

// EndMaintenance takes a machine out of the maintenance an admin started
// (the cleanup after a lease ends by itself), audited.
func (s *Service) EndMaintenance(ctx context.Context, machineID string) (*store.MaintenanceRecord, error) {
	p := caller.From(ctx)
	if _, err := s.GetMachine(ctx, machineID); err != nil {
		return nil, err
	}
	var rec *store.MaintenanceRecord
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if rec, err = store.New(tx).EndMaintenance(ctx, machineID, p.UserID, p.Username); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.maintenance_end", TargetType: "machine", TargetID: machineID, Success: true,
			Detail: map[string]any{"before": "maintenance", "after": rec.PreviousStatus}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.ConflictErr("machines.notInMaintenance", "the machine is not in maintenance")
	}
	if errors.Is(err, store.ErrCleanupMaintenance) {
		return nil, apperr.ConflictErr("machines.maintenanceIsCleanup",
			"this maintenance is the cleanup after a lease: it ends when the host confirmed every step, or mark the machine reinstalled")
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}
