package api

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/internal/tasks"
	"github.com/remotegpu/remotegpu/store"
)

// tasksHandler is the customer's tasks (requirements 3.1.3, docs/tasks.md):
// HTTP over tasks.Service, which owns the rules, the records, the audit and
// the TaskRun workflows. Every read is the caller's tenant's, in SQL.
type tasksHandler struct{ s *Server }

// The answers, as the service gives them.
type (
	Task             = store.Task
	TaskDetails      = store.TaskDetail
	TaskAttempt      = store.TaskAttempt
	TaskEnv          = store.TaskEnv
	AvailableMachine = store.AvailableMachine
	MachineImage     = store.MachineImage
	TaskLogPage      = tasks.LogPage
	TaskMetrics      = monitoring.GPUsOverTime
	TaskOutputs      = agentproto.TaskOutputsResult
)

type ListTasksInput struct {
	ListParams
	Type      string `query:"type" enum:"training,inference," doc:"training (训练任务) or inference (推理任务)"`
	Status    string `query:"status" doc:"Comma list of queued, running, succeeded, failed, stopped"`
	MachineID string `query:"machineId"`
	Q         string `query:"q" maxLength:"100" doc:"Name contains"`
	From      string `query:"from" doc:"Created at or after (RFC 3339)"`
	To        string `query:"to" doc:"Created before (RFC 3339)"`
	Tab       string `query:"tab" enum:"queue," doc:"queue: the queued tasks by machine and queue position"`
}

// listInput reads the filters (named parameters win over the filters object).
func (in *ListTasksInput) listInput(tenantID string) (tasks.ListInput, error) {
	f, err := in.filters()
	if err != nil {
		return tasks.ListInput{}, err
	}
	out := tasks.ListInput{Statuses: pick(in.Status, f, "status"), Page: in.ListParams.store(), Filter: store.TaskFilter{
		Type: pick(in.Type, f, "type"), MachineID: pick(in.MachineID, f, "machineId"), TenantID: tenantID, Name: pick(in.Q, f, "q"),
		Queue: pick(in.Tab, f, "tab") == "queue"}}
	if err := validUUIDs(map[string]string{"machineId": out.Filter.MachineID, "tenantId": tenantID}); err != nil {
		return out, err
	}
	if out.Filter.From, err = timeParam("from", pick(in.From, f, "from")); err != nil {
		return out, err
	}
	if out.Filter.To, err = timeParam("to", pick(in.To, f, "to")); err != nil {
		return out, err
	}
	return out, nil
}

func timeParam(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "invalidTime", "{name} must be a time such as 2026-01-02T15:04:05Z", apperr.P{"name": name}).
			AtField("query." + name)
	}
	return &t, nil
}

// TaskFields is the create form (3.1.3.2); the service checks each field
// and answers every problem at once (data.errors).
type TaskFields struct {
	Name                      string             `json:"name" maxLength:"200" doc:"1 to 64 characters"`
	Type                      string             `json:"type" enum:"training,inference" doc:"inference needs servicePort"`
	MachineID                 string             `json:"machineId" format:"uuid" doc:"A machine leased to the company (get-available-machines)"`
	AnyMachine                bool               `json:"anyMachine,omitempty" doc:"When its host is lost, the next attempt may run on another leased machine"`
	GPUCount                  int                `json:"gpuCount" doc:"1 to the machine's GPU count"`
	Image                     string             `json:"image" maxLength:"1000" doc:"One of the machine's images (list-images) while it reported any"`
	WorkDir                   string             `json:"workDir,omitempty" maxLength:"4096" doc:"Absolute; the image's when empty"`
	ScriptPath                string             `json:"scriptPath,omitempty" maxLength:"4096"`
	Command                   string             `json:"command" maxLength:"20000" doc:"Run with /bin/sh -c in workDir"`
	Env                       []TaskEnv          `json:"env,omitempty" maxItems:"200" doc:"Names [A-Za-z_][A-Za-z0-9_]*, not RGPU_* nor CUDA_/NVIDIA_VISIBLE_DEVICES"`
	AutoRestart               bool               `json:"autoRestart,omitempty" doc:"Restart a failed attempt (backoff 10 s × 2^(n-1), at most 5 min)"`
	MaxAttempts               int                `json:"maxAttempts,omitempty" default:"1" doc:"1 to 10, counting the first"`
	NotifyInApp               bool               `json:"notifyInApp,omitempty" default:"true" doc:"Tell the creator in the console when it ends"`
	NotifyMail                bool               `json:"notifyMail,omitempty" doc:"And by mail"`
	CheckpointIntervalSeconds int                `json:"checkpointIntervalSeconds,omitempty" doc:"0 (none) or 60 to 86400; given to the container as RGPU_CHECKPOINT_INTERVAL"`
	ServicePort               *int               `json:"servicePort,omitempty" nullable:"true" doc:"Inference: the port the service listens on (1024 to 65535), published on the host"`
	Datasets                  []TaskDatasetInput `json:"datasets,omitempty" maxItems:"10" doc:"Mounted datasets of the machine, bound read-only at /rgpu/datasets/<dataset name>"`
}

// TaskDatasetInput is a mount a task binds.
type TaskDatasetInput struct {
	MountID string `json:"mountId" doc:"A mount of the company's, mounted on the task's machine"`
}

type CreateTaskInput struct {
	Body TaskFields
}

type TaskIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type TaskLogsInput struct {
	ID      string `path:"id" format:"uuid"`
	Attempt int    `query:"attempt" minimum:"0" doc:"Default: the latest"`
	Q       string `query:"q" maxLength:"200" doc:"Lines containing this (case-insensitive)"`
	AfterN  int64  `query:"afterN" minimum:"0" doc:"Lines after this number (lines count from 1)"`
	Limit   int    `query:"limit" minimum:"0" maximum:"5000" default:"1000"`
	Format  string `query:"format" enum:"json,text," doc:"text: the attempt's whole log as text/plain (a download)"`
}

type TaskOutputsInput struct {
	ID  string `path:"id" format:"uuid"`
	Dir string `query:"dir" maxLength:"1024" doc:"A directory inside the output directory (empty: its top)"`
}

type TaskOutputDownloadInput struct {
	ID   string `path:"id" format:"uuid"`
	Path string `query:"path" maxLength:"1024" doc:"A file inside the output directory"`
}

type MachineTasksInput struct {
	ListParams
	ID string `path:"id" format:"uuid"`
}

type ImagesInput struct {
	MachineID string `query:"machineId" format:"uuid" required:"true"`
}

func (h *tasksHandler) register(api huma.API) {
	const tag = "tasks"
	bad, nf, conflict, down := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks", "list-my-tasks", tag,
		"The company's tasks; sortBy createdAt|name|status|startedAt|finishedAt|gpuCount|machineName|type; tab=queue lists the queued ones "+
			"by machine and queue position", roleCustomer, bad), h.list)
	op := operation(http.MethodPost, "/api/customer/tasks/training", "create-task", tag,
		"Create a task (training, or inference with servicePort): queued on the machine, then run by its workflow", roleCustomer, bad, down)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks/recent", "list-recent-tasks", tag,
		"The company's latest 10 tasks (the home page)", roleCustomer), h.recent)
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks/{id}", "get-my-task", tag, "A task", roleCustomer, nf), h.get)
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks/{id}/details", "get-my-task-details", tag,
		"A task with its spec, attempts and whether its GPUs are simulated", roleCustomer, nf), h.details)
	sop := operation(http.MethodPost, "/api/customer/tasks/{id}/stop", "stop-my-task", tag,
		"Stop a task (202): a queued one ends at once, a running one gets SIGTERM and 30 s before SIGKILL", roleCustomer, nf, conflict, down)
	sop.DefaultStatus = http.StatusAccepted
	huma.Register(api, sop, h.stop)
	huma.Register(api, operation(http.MethodPost, "/api/customer/tasks/{id}/restart", "restart-my-task", tag,
		"Run a finished task again as its next attempt (the earlier attempts stay)", roleCustomer, nf, conflict, down), h.restart)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/tasks/{id}", "delete-my-task", tag,
		"Delete a finished task with its logs, attempts and (through the agent) its directory on the host", roleCustomer, nf, conflict, down), h.delete)
	h.registerLogs(api, operation(http.MethodGet, "/api/customer/tasks/{id}/logs", "get-my-task-logs", tag,
		"A page of an attempt's log (lines after afterN, optionally containing q), or with format=text the whole log as text/plain",
		roleCustomer, nf, bad), h.logs)
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks/{id}/metrics", "get-my-task-metrics", tag,
		"The task's own GPUs (utilisation, memory) over its attempts' run times, from the host samples", roleCustomer, nf), h.metrics)
	huma.Register(api, operation(http.MethodGet, "/api/customer/tasks/{id}/outputs", "list-my-task-outputs", tag,
		"Files under the task's output directory, listed by the machine's agent; 503 tasks.hostUnreachable when it does not answer in 10 s",
		roleCustomer, nf, bad, conflict, down), h.outputs)
	dop := operation(http.MethodGet, "/api/customer/tasks/{id}/outputs/download", "download-my-task-output", tag,
		"One file of the task's output directory (at most 2 GiB), uploaded by the machine's agent and sent as an attachment; "+
			"503 tasks.hostUnreachable when the agent does not upload it in 60 s, 413 tasks.outputTooLarge",
		roleCustomer, nf, bad, conflict, http.StatusRequestEntityTooLarge, down)
	dop.Responses = map[string]*huma.Response{"200": {Description: "The file",
		Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}}
	huma.Register(api, dop, h.outputDownload)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}/tasks", "list-my-machine-tasks", tag,
		"The company's tasks on one of its machines (its 任务历史); sortBy as list-my-tasks", roleCustomer, nf, bad), h.machineTasks)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/available", "get-available-machines", tag,
		"The machines leased to the company, with their free GPUs and queued tasks (the create form)", roleCustomer), h.available)
	huma.Register(api, operation(http.MethodGet, "/api/customer/images", "list-images", tag,
		"The images a machine's agent reported (what the create form offers until the image market exists)", roleCustomer, nf, bad), h.images)
}

// registerLogs registers a log operation: a JSON page or a text download.
func (h *tasksHandler) registerLogs(api huma.API, op huma.Operation, fn func(context.Context, *TaskLogsInput) (*huma.StreamResponse, error)) {
	schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(Envelope[TaskLogPage]{}), true, "")
	op.Responses = map[string]*huma.Response{"200": {Description: "A page of lines (JSON), or the whole log (format=text)",
		Content: map[string]*huma.MediaType{"application/json": {Schema: schema}, "text/plain": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, op, fn)
}

func (h *tasksHandler) list(ctx context.Context, in *ListTasksInput) (*Resp[Page[Task]], error) {
	li, err := in.listInput("")
	if err != nil {
		return nil, err
	}
	list, total, err := h.s.tasks.List(ctx, li)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (in TaskFields) input() tasks.CreateInput {
	return tasks.CreateInput{Name: in.Name, Type: in.Type, MachineID: in.MachineID, AnyMachine: in.AnyMachine, GPUCount: in.GPUCount,
		Image: in.Image, WorkDir: in.WorkDir, ScriptPath: in.ScriptPath, Command: in.Command, Env: in.Env, AutoRestart: in.AutoRestart,
		MaxAttempts: in.MaxAttempts, NotifyInApp: in.NotifyInApp, NotifyMail: in.NotifyMail, CheckpointIntervalSeconds: in.CheckpointIntervalSeconds,
		ServicePort: in.ServicePort, Datasets: mountIDs(in.Datasets)}
}

func mountIDs(ds []TaskDatasetInput) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.MountID
	}
	return out
}

func (h *tasksHandler) create(ctx context.Context, in *CreateTaskInput) (*Resp[Task], error) {
	return task(ctx)(h.s.tasks.Create(ctx, in.Body.input()))
}

// task answers with a task, or the error.
func task(ctx context.Context) func(*store.Task, error) (*Resp[Task], error) {
	return func(t *store.Task, err error) (*Resp[Task], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, *t)
	}
}

func (h *tasksHandler) recent(ctx context.Context, _ *struct{}) (*Resp[[]Task], error) {
	list, err := h.s.tasks.Recent(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *tasksHandler) get(ctx context.Context, in *TaskIDInput) (*Resp[Task], error) {
	return task(ctx)(h.s.tasks.Get(ctx, in.ID))
}

func (h *tasksHandler) details(ctx context.Context, in *TaskIDInput) (*Resp[TaskDetails], error) {
	d, err := h.s.tasks.Details(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *d)
}

func (h *tasksHandler) stop(ctx context.Context, in *TaskIDInput) (*Resp[Task], error) {
	return task(ctx)(h.s.tasks.Stop(ctx, in.ID))
}

func (h *tasksHandler) restart(ctx context.Context, in *TaskIDInput) (*Resp[Task], error) {
	return task(ctx)(h.s.tasks.Restart(ctx, in.ID))
}

func (h *tasksHandler) delete(ctx context.Context, in *TaskIDInput) (*Resp[Empty], error) {
	if err := h.s.tasks.Delete(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *tasksHandler) logs(ctx context.Context, in *TaskLogsInput) (*huma.StreamResponse, error) {
	if in.Format == "text" {
		return download(h.s.tasks.DownloadLog(ctx, in.ID, in.Attempt))
	}
	return logPage(ctx)(h.s.tasks.Logs(ctx, tasks.LogsInput{TaskID: in.ID, Attempt: in.Attempt, Search: in.Q, AfterN: in.AfterN, Limit: in.Limit}))
}

// logPage answers a page of lines in the envelope.
func logPage(ctx context.Context) func(*tasks.LogPage, error) (*huma.StreamResponse, error) {
	return func(p *tasks.LogPage, err error) (*huma.StreamResponse, error) {
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "application/json")
			_ = json.NewEncoder(hc.BodyWriter()).Encode(Envelope[TaskLogPage]{Message: "ok", Data: *p, TraceID: logging.TraceID(ctx)})
		}}, nil
	}
}

// download streams a log as text; a failure midway cuts the answer short.
func download(d *tasks.LogDownload, err error) (*huma.StreamResponse, error) {
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/plain; charset=utf-8")
		hc.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
		_ = d.Write(hc.Context(), hc.BodyWriter())
	}}, nil
}

func (h *tasksHandler) metrics(ctx context.Context, in *TaskIDInput) (*Resp[TaskMetrics], error) {
	m, err := h.s.tasks.Metrics(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, m)
}

func (h *tasksHandler) outputs(ctx context.Context, in *TaskOutputsInput) (*Resp[TaskOutputs], error) {
	o, err := h.s.tasks.Outputs(ctx, tasks.OutputsInput{TaskID: in.ID, Dir: in.Dir})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *o)
}

func (h *tasksHandler) outputDownload(ctx context.Context, in *TaskOutputDownloadInput) (*huma.StreamResponse, error) {
	d, err := h.s.tasks.OutputDownload(ctx, in.ID, in.Path)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		defer d.Body.Close()
		hc.SetHeader("Content-Type", "application/octet-stream")
		hc.SetHeader("Content-Length", strconv.FormatInt(d.Size, 10))
		hc.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
		hc.SetHeader("Cache-Control", "no-store")
		_, _ = io.Copy(hc.BodyWriter(), d.Body)
	}}, nil
}

func (h *tasksHandler) machineTasks(ctx context.Context, in *MachineTasksInput) (*Resp[Page[Task]], error) {
	list, total, err := h.s.tasks.MachineTasks(ctx, in.ID, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *tasksHandler) available(ctx context.Context, _ *struct{}) (*Resp[[]AvailableMachine], error) {
	list, err := h.s.tasks.AvailableMachines(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *tasksHandler) images(ctx context.Context, in *ImagesInput) (*Resp[[]MachineImage], error) {
	list, err := h.s.tasks.Images(ctx, in.MachineID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}
