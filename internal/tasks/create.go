package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// CreateInput is the create form (3.1.3.2).
type CreateInput struct {
	Name                      string
	Type                      string // training or inference
	MachineID                 string
	AnyMachine                bool
	GPUCount                  int
	Image                     string
	WorkDir                   string
	ScriptPath                string
	Command                   string
	Env                       []store.TaskEnv
	AutoRestart               bool
	MaxAttempts               int
	NotifyInApp               bool
	NotifyMail                bool
	CheckpointIntervalSeconds int
	ServicePort               *int
	// Datasets are mounts (mounted on the task's machine) bound read-only
	// at /rgpu/datasets/<dataset name> in the container.
	Datasets []string
}

// Limits of the create form.
const (
	MaxNameLen       = 64
	MaxAttempts      = 10
	MinCheckpointS   = 60
	MaxCheckpointS   = 86400
	MinServicePort   = 1024
	MaxServicePort   = 65535
	maxEnvVars       = 100
	maxCommandLen    = 10000
	maxPathLen       = 1024
	maxImageLen      = 500
	maxEnvValueBytes = 8192
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv are set by the platform in every task container.
var reservedEnv = []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}

// problems gathers the field errors of a form, so it answers all at once.
type problems struct{ err *apperr.Error }

func (p *problems) add(field, code, message string, params apperr.P) {
	e := apperr.New(apperr.Invalid, code, message, params)
	if p.err == nil {
		p.err = apperr.New(apperr.Invalid, code, e.Message, params)
	}
	p.err.Fields = append(p.err.Fields, apperr.FieldError{Location: field, Code: code, Params: e.Params, Message: e.Message})
}

func (p *problems) result() error {
	if p.err == nil {
		return nil
	}
	return p.err
}

// Create records a queued task on a machine leased to the caller's tenant
// (audited in the same transaction) and starts its workflow; a task whose
// workflow cannot start is removed again.
func (s *Service) Create(ctx context.Context, in CreateInput) (*store.Task, error) {
	spec, err := s.validate(ctx, in)
	if err != nil {
		return nil, err
	}
	var id string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if id, err = store.New(tx).CreateTask(ctx, spec); err != nil {
			return err
		}
		if err := store.New(tx).RecordTaskDatasets(ctx, id, spec.Datasets); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "task.create", TargetType: "task", TargetID: id, Success: true,
			Detail: map[string]any{"name": spec.Name, "type": spec.Type, "machineId": spec.MachineID, "gpuCount": spec.GPUCount, "image": spec.Image}})
	})
	if err != nil {
		return nil, err
	}
	if err := s.startRun(ctx, id, spec.MachineID, 1, spec, enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		// nothing runs it: it goes, and the record says so
		_ = s.Store.DropTask(ctx, id)
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "task.create", TargetType: "task", TargetID: id, Success: false,
			Detail: map[string]any{"name": spec.Name, "error": "the workflow could not start"}})
		return nil, err
	}
	return s.get(ctx, customer(ctx), id)
}

// startRun starts the task's workflow at an attempt.
func (s *Service) startRun(ctx context.Context, id, machineID string, attempt int, spec store.TaskSpec, conflict enums.WorkflowIdConflictPolicy) error {
	if s.Temporal == nil {
		return errWorkflowDown()
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.TaskRunWorkflowID(id), TaskQueue: s.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, WorkflowIDConflictPolicy: conflict},
		workflows.TaskRun, workflows.TaskRunInput{TaskID: id, MachineID: machineID, Attempt: attempt, FirstAttempt: attempt,
			MaxAttempts: spec.MaxAttempts, AutoRestart: spec.AutoRestart, AnyMachine: spec.AnyMachine})
	if err != nil {
		slog.ErrorContext(ctx, "unable to start the task workflow", "task", id, "err", err)
		return errWorkflowDown()
	}
	return nil
}

// validate checks the form against the rules and the machine; it answers
// every field's problem at once.
func (s *Service) validate(ctx context.Context, in CreateInput) (store.TaskSpec, error) {
	p := &problems{}
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameLen {
		p.add("body.name", "tasks.nameLength", "the name must be 1 to {max} characters", apperr.P{"max": MaxNameLen})
	}
	if in.Type != "training" && in.Type != "inference" {
		p.add("body.type", "tasks.typeInvalid", "the type must be training or inference", nil)
	}
	image := strings.TrimSpace(in.Image)
	switch {
	case image == "":
		p.add("body.image", "tasks.imageRequired", "choose an image", nil)
	case len(image) > maxImageLen || strings.ContainsAny(image, " \t\n"):
		p.add("body.image", "tasks.imageInvalid", "the image must be a reference such as repo:tag", nil)
	}
	command := strings.TrimSpace(in.Command)
	switch {
	case command == "":
		p.add("body.command", "tasks.commandRequired", "the command is required", nil)
	case len(command) > maxCommandLen:
		p.add("body.command", "tasks.commandTooLong", "the command must be at most {max} characters", apperr.P{"max": maxCommandLen})
	}
	workDir := strings.TrimSpace(in.WorkDir)
	if workDir != "" && (!strings.HasPrefix(workDir, "/") || len(workDir) > maxPathLen) {
		p.add("body.workDir", "tasks.workDirInvalid", "the working directory must be an absolute path", nil)
	}
	if len(in.ScriptPath) > maxPathLen {
		p.add("body.scriptPath", "tasks.scriptPathTooLong", "the script path must be at most {max} characters", apperr.P{"max": maxPathLen})
	}
	env := checkEnv(p, in.Env)
	if in.MaxAttempts < 1 || in.MaxAttempts > MaxAttempts {
		p.add("body.maxAttempts", "tasks.maxAttemptsRange", "the attempts must be between 1 and {max}", apperr.P{"max": MaxAttempts})
	}
	if c := in.CheckpointIntervalSeconds; c != 0 && (c < MinCheckpointS || c > MaxCheckpointS) {
		p.add("body.checkpointIntervalSeconds", "tasks.checkpointIntervalRange", "the checkpoint interval must be 0 (none) or {min} to {max} seconds",
			apperr.P{"min": MinCheckpointS, "max": MaxCheckpointS})
	}
	switch port := in.ServicePort; {
	case port == nil && in.Type == "inference":
		p.add("body.servicePort", "tasks.servicePortRequired", "an inference task needs its service port", nil)
	case port != nil && (*port < MinServicePort || *port > MaxServicePort):
		p.add("body.servicePort", "tasks.servicePortRange", "the service port must be between {min} and {max}",
			apperr.P{"min": MinServicePort, "max": MaxServicePort})
	}
	m, err := s.Store.GetTenantMachine(ctx, caller.From(ctx).TenantID, in.MachineID, s.Expiring)
	var uses []store.TaskDatasetUse
	switch {
	case err == nil:
		if in.GPUCount < 1 || in.GPUCount > m.GPUCount {
			p.add("body.gpuCount", "tasks.gpuCountRange", "the GPU count must be between 1 and {max}, the GPUs of {machine}",
				apperr.P{"max": m.GPUCount, "machine": m.Name})
		}
		if image != "" {
			if err := s.checkImage(ctx, p, m, image); err != nil {
				return store.TaskSpec{}, err
			}
		}
		if in.ServicePort != nil {
			if err := s.checkPort(ctx, p, m, *in.ServicePort); err != nil {
				return store.TaskSpec{}, err
			}
		}
		if uses, err = s.checkDatasets(ctx, p, m, in.Datasets); err != nil {
			return store.TaskSpec{}, err
		}
	case errors.Is(err, store.ErrNotFound):
		p.add("body.machineId", "tasks.machineNotLeased", "choose a machine leased to your company", nil)
	default:
		return store.TaskSpec{}, err
	}
	if err := p.result(); err != nil {
		return store.TaskSpec{}, err
	}
	pr := caller.From(ctx)
	by := pr.Name
	if by == "" {
		by = pr.Username
	}
	return store.TaskSpec{TenantID: pr.TenantID, CreatedBy: pr.UserID, CreatedByName: by, Name: name, Type: in.Type, MachineID: m.ID,
		AnyMachine: in.AnyMachine, GPUCount: in.GPUCount, Image: image, WorkDir: workDir, ScriptPath: strings.TrimSpace(in.ScriptPath),
		Command: command, Env: env, AutoRestart: in.AutoRestart, MaxAttempts: in.MaxAttempts, NotifyInApp: in.NotifyInApp,
		NotifyMail: in.NotifyMail, CheckpointIntervalSeconds: in.CheckpointIntervalSeconds, ServicePort: in.ServicePort, Datasets: uses}, nil
}

// checkEnv checks the variables' names: shell names, each once, none the
// platform sets (RGPU_*, the visible devices).
func checkEnv(p *problems, env []store.TaskEnv) []store.TaskEnv {
	if len(env) > maxEnvVars {
		p.add("body.env", "tasks.envTooMany", "at most {max} environment variables", apperr.P{"max": maxEnvVars})
		return nil
	}
	out := make([]store.TaskEnv, 0, len(env))
	seen := map[string]bool{}
	for i, e := range env {
		field := fmt.Sprintf("body.env[%d].name", i)
		switch {
		case !envName.MatchString(e.Name):
			p.add(field, "tasks.envNameInvalid", "{name} is not a variable name (letters, digits and _, not starting with a digit)",
				apperr.P{"name": e.Name})
		case strings.HasPrefix(strings.ToUpper(e.Name), "RGPU_") || slices.Contains(reservedEnv, strings.ToUpper(e.Name)):
			p.add(field, "tasks.envNameReserved", "{name} is set by the platform", apperr.P{"name": e.Name})
		case seen[e.Name]:
			p.add(field, "tasks.envNameDuplicate", "{name} is given twice", apperr.P{"name": e.Name})
		case len(e.Value) > maxEnvValueBytes:
			p.add(fmt.Sprintf("body.env[%d].value", i), "tasks.envValueTooLong", "the value of {name} must be at most {max} bytes",
				apperr.P{"name": e.Name, "max": maxEnvValueBytes})
		}
		seen[e.Name] = true
		out = append(out, store.TaskEnv{Name: e.Name, Value: e.Value})
	}
	return out
}

// checkImage: until the image market exists, a task runs one of the images
// its host reported; a host that has reported none takes any reference (its
// agent pulls it).
func (s *Service) checkImage(ctx context.Context, p *problems, m *store.Machine, image string) error {
	images, err := s.Store.HostImages(ctx, m.ID)
	if err != nil {
		return err
	}
	if len(images) == 0 || slices.ContainsFunc(images, func(im store.MachineImage) bool { return im.Ref == image }) {
		return nil
	}
	p.add("body.image", "tasks.imageNotOnHost", "{image} is not on {machine}", apperr.P{"image": image, "machine": m.Name})
	return nil
}

// checkPort: two live tasks of a machine cannot publish the same port.
func (s *Service) checkPort(ctx context.Context, p *problems, m *store.Machine, port int) error {
	used, err := s.Store.ServicePortInUse(ctx, m.ID, port)
	if err != nil {
		return err
	}
	if used {
		p.add("body.servicePort", "tasks.servicePortInUse", "port {port} is used by another task on {machine}", apperr.P{"port": port, "machine": m.Name})
	}
	return nil
}
