package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Tasks are the control-plane activities of the TaskRun workflow: the
// queue (admission and release, in Postgres), the task's record, the
// completion notice.
type Tasks struct {
	Store *store.Store
	// Objects holds the output files fetched for download (nil: none kept).
	Objects *objstore.Store
	// Client tells the task workflows that the lease of their machine ended.
	Client client.Client
}

// The TaskRun workflow's ID and signals, here so that activities (the
// lease end) and the api can address it without importing the workflows.
const (
	// TaskStopSignal asks a task to stop (StopRequest).
	TaskStopSignal = "stop"
	// TaskAdmittedSignal hints that the task's queue moved (no payload).
	TaskAdmittedSignal = "admitted"
	// TaskGPUFaultSignal says that a GPU the task holds reported a fault (GPUFault).
	TaskGPUFaultSignal = "gpuFault"
)

// TaskWorkflowID is the workflow of one task (each run of it).
func TaskWorkflowID(taskID string) string { return "task:" + taskID }

// Reasons a task stopped or an attempt ended (tasks.reason.*), codes the console translates.
const (
	ReasonStoppedByUser  = "tasks.reason.stoppedByUser"
	ReasonStoppedByAdmin = "tasks.reason.stoppedByAdmin"
	ReasonLeaseEnded     = "tasks.reason.leaseEnded"
	ReasonExitCode       = "tasks.reason.exitCode"
	ReasonOOMKilled      = "tasks.reason.oomKilled"
	ReasonMissing        = "tasks.reason.containerMissing"
	ReasonHostLost       = "tasks.reason.hostLost"
	ReasonStartFailed    = "tasks.reason.startFailed"
	ReasonWaitFailed     = "tasks.reason.waitFailed"
	ReasonCompleted      = "tasks.reason.completed"
	// ReasonGPUFault: a GPU of the attempt reported a fault ({gpuIndex} and {xid} or {ecc}).
	ReasonGPUFault = "tasks.reason.gpuFault"
)

// StopRequest is the payload of TaskStopSignal.
type StopRequest struct {
	Reason string         // ReasonStoppedByUser, ReasonStoppedByAdmin or ReasonLeaseEnded
	Params map[string]any // the admin's reason ({reason})
	By     string
}

// GPUFault is the payload of TaskGPUFaultSignal: a fault of a GPU an
// attempt of the task holds, as its host's agent reported it.
type GPUFault struct {
	Attempt  int // the attempt that holds the GPU
	GPUIndex int
	XID      int       // the critical XID error, 0 for an ECC fault
	ECC      int64     // new uncorrected ECC errors, 0 for an XID
	At       time.Time // the sample's time
}

// Params are the figures of ReasonGPUFault.
func (f GPUFault) Params() map[string]any {
	if f.XID != 0 {
		return map[string]any{"gpuIndex": f.GPUIndex, "xid": f.XID}
	}
	return map[string]any{"gpuIndex": f.GPUIndex, "ecc": f.ECC}
}

type AdmitTaskInput struct {
	TaskID  string
	Attempt int
}

type AdmitTaskResult struct {
	Granted bool
	GPUs    []int
	// Ended: the attempt will not run (stopped or failed meanwhile); Status says how.
	Ended  bool
	Status string
	// Admitted are other tasks that got GPUs; the workflow tells them.
	Admitted []string
}

// AdmitTask grants the machine's free GPUs to its queue in order and says
// whether the task's attempt has its GPUs (see store.AdmitTask).
func (a *Tasks) AdmitTask(ctx context.Context, in AdmitTaskInput) (AdmitTaskResult, error) {
	adm, err := a.Store.AdmitTask(ctx, in.TaskID, in.Attempt)
	if errors.Is(err, store.ErrNotFound) {
		return AdmitTaskResult{}, temporal.NewNonRetryableApplicationError("task not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return AdmitTaskResult{}, fmt.Errorf("unable to admit the task: %w", err)
	}
	return AdmitTaskResult{Granted: adm.Granted, GPUs: adm.GPUs, Ended: adm.Ended, Status: adm.Status, Admitted: adm.Admitted}, nil
}

type MarkTaskRunningInput struct {
	TaskID     string
	Attempt    int
	Container  string
	StartedAt  time.Time
	GPUDevices bool
}

// MarkTaskRunning records that the attempt's container started.
func (a *Tasks) MarkTaskRunning(ctx context.Context, in MarkTaskRunningInput) error {
	if err := a.Store.MarkTaskRunning(ctx, in.TaskID, in.Attempt, in.Container, in.StartedAt, in.GPUDevices); err != nil {
		return fmt.Errorf("unable to mark the task running: %w", err)
	}
	return nil
}

type FinishTaskAttemptInput struct {
	TaskID   string
	Attempt  int
	Status   string // the task's end: succeeded, failed or stopped (or the failed attempt's, with Next)
	Reason   string
	Params   map[string]any
	ExitCode *int
	// Next queues attempt Attempt+1 on NextMachine (the same when empty)
	// after Backoff.
	Next        bool
	NextMachine string
	Backoff     time.Duration
}

type FinishTaskAttemptResult struct {
	Status   string
	Final    bool
	Admitted []string
}

// FinishTaskAttempt records the attempt's end and releases its GPUs to the
// machine's queue, ending the task or queueing its next attempt (the
// Release of docs/tasks.md).
func (a *Tasks) FinishTaskAttempt(ctx context.Context, in FinishTaskAttemptInput) (FinishTaskAttemptResult, error) {
	res, err := a.Store.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: in.TaskID, Attempt: in.Attempt, Status: in.Status, Reason: in.Reason,
		Params: in.Params, ExitCode: in.ExitCode, Next: in.Next, NextMachine: in.NextMachine, Backoff: in.Backoff})
	if errors.Is(err, store.ErrNotFound) {
		return FinishTaskAttemptResult{}, temporal.NewNonRetryableApplicationError("task not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return FinishTaskAttemptResult{}, fmt.Errorf("unable to finish the attempt: %w", err)
	}
	return FinishTaskAttemptResult{Status: res.Status, Final: res.Final, Admitted: res.Admitted}, nil
}

type PickTaskMachineInput struct {
	TaskID  string
	Exclude string // the machine that was lost
}

// PickTaskMachine is another machine leased to the task's tenant with
// enough GPUs (the one with the most free), or "" when there is none.
func (a *Tasks) PickTaskMachine(ctx context.Context, in PickTaskMachineInput) (string, error) {
	id, err := a.Store.PickTaskMachine(ctx, in.TaskID, in.Exclude)
	if err != nil {
		return "", fmt.Errorf("unable to pick a machine: %w", err)
	}
	return id, nil
}

type NotifyTaskDoneInput struct {
	TaskID string
}

type NotifyTaskDoneResult struct {
	Skipped    bool // the customer asked for no notice
	BatchID    string
	Owners     int // in-app copies
	Recipients []Recipient
}

// taskNoticeNamespace makes a notice's batch ID a function of the task and its run.
var taskNoticeNamespace = uuid.MustParse("2b7c0c8e-5d0e-4f7a-9a61-0c3f1f0d7e52")

// NotifyTaskDone tells the task's creator that it ended: in-app when asked
// (and always when an admin stopped it), with the creator to mail when the
// task asked for mail. Repeating it adds nothing.
func (a *Tasks) NotifyTaskDone(ctx context.Context, in NotifyTaskDoneInput) (NotifyTaskDoneResult, error) {
	t, err := a.Store.TaskRun(ctx, in.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return NotifyTaskDoneResult{Skipped: true}, nil
	}
	if err != nil {
		return NotifyTaskDoneResult{}, fmt.Errorf("unable to load the task: %w", err)
	}
	admin := t.StatusReason == ReasonStoppedByAdmin
	if !store.TaskEnded(t.Status) || t.CreatedBy == "" || (!t.NotifyInApp && !t.NotifyMail && !admin) {
		return NotifyTaskDoneResult{Skipped: true}, nil
	}
	u, err := a.Store.GetUser(ctx, t.CreatedBy)
	if errors.Is(err, store.ErrNotFound) {
		return NotifyTaskDoneResult{Skipped: true}, nil
	}
	if err != nil {
		return NotifyTaskDoneResult{}, fmt.Errorf("unable to load the task's creator: %w", err)
	}
	res := NotifyTaskDoneResult{BatchID: uuid.NewSHA1(taskNoticeNamespace, []byte(fmt.Sprintf("task-done:%s:%d", t.TaskID, t.Attempt))).String()}
	var ids []string
	if t.NotifyInApp || admin {
		ids = []string{u.ID}
		res.Owners = 1
	}
	if t.NotifyMail && u.Email != "" && u.Status == "active" {
		res.Recipients = []Recipient{{UserID: u.ID, Email: u.Email, Name: u.Name}}
	}
	code, params := TaskDoneNotice(t.TaskID, t.Name, t.Status, t.StatusReason, t.StatusParams)
	title, content := englishNotice(code, params)
	level := "info"
	if t.Status != store.TaskSucceeded {
		level = "warning"
	}
	b := &store.NotificationBatch{ID: res.BatchID, TenantID: t.TenantID, Title: title, Content: content,
		Code: code, Params: params, Level: level, SendEmail: len(res.Recipients) > 0, SenderName: "system"}
	if _, err := a.Store.DeliverSystemNotice(ctx, b, ids); err != nil {
		return NotifyTaskDoneResult{}, fmt.Errorf("unable to record the task notice: %w", err)
	}
	return res, nil
}

var taskDoneCodes = map[string]string{
	store.TaskSucceeded: NoticeTaskSucceeded,
	store.TaskFailed:    NoticeTaskFailed,
	store.TaskStopped:   NoticeTaskStopped,
}

// TaskDoneNotice is the code and params of the notice that a task ended:
// by its status, or NoticeTaskStoppedByAdmin with the admin's reason. The
// params keep the task's status reason code and its params as well.
func TaskDoneNotice(taskID, name, status, statusReason string, statusParams map[string]any) (string, map[string]any) {
	code, ok := taskDoneCodes[status]
	if !ok {
		code = NoticeTaskStopped
	}
	if statusParams == nil {
		statusParams = map[string]any{}
	}
	params := map[string]any{"taskId": taskID, "name": name, "status": status,
		"statusReason": statusReason, "statusParams": statusParams}
	if statusReason == ReasonStoppedByAdmin {
		code = NoticeTaskStoppedByAdmin
		reason, _ := statusParams["reason"].(string)
		params["reason"] = reason
	}
	return code, params
}

// stopLeaseTasks tells the workflows of the tasks a lease end stopped; a
// lost signal costs a re-check (the record already says stopped).
func stopLeaseTasks(ctx context.Context, c client.Client, ids []string) {
	if c == nil {
		return
	}
	for _, id := range ids {
		_ = c.SignalWorkflow(ctx, TaskWorkflowID(id), "", TaskStopSignal, StopRequest{Reason: ReasonLeaseEnded, By: "system"})
	}
}

type TaskIDInput struct {
	TaskID string
}

// TaskMachines are the machines a task ran on (for its host cleanup).
func (a *Tasks) TaskMachines(ctx context.Context, in TaskIDInput) ([]string, error) {
	ids, err := a.Store.TaskMachines(ctx, in.TaskID)
	if err != nil {
		return nil, fmt.Errorf("unable to list the task's machines: %w", err)
	}
	return ids, nil
}

// PurgeTask deletes a deleted task's output files fetched for download,
// then its rows (attempts and logs with them).
func (a *Tasks) PurgeTask(ctx context.Context, in TaskIDInput) error {
	tenantID, err := a.Store.DeletedTaskTenant(ctx, in.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // purged already
	}
	if err != nil {
		return fmt.Errorf("unable to read the deleted task: %w", err)
	}
	if a.Objects != nil {
		if err := a.Objects.RemovePrefix(ctx, objstore.BucketTaskOutputs, objstore.TaskOutputsPrefix(tenantID, in.TaskID)); err != nil {
			return fmt.Errorf("unable to delete the task's downloaded outputs: %w", err)
		}
	}
	if err := a.Store.PurgeTask(ctx, in.TaskID); err != nil {
		return fmt.Errorf("unable to delete the task's rows: %w", err)
	}
	return nil
}
