package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// TaskRunWorkflowID is the workflow of one task; a re-run is a new run of the same ID.
func TaskRunWorkflowID(taskID string) string { return activities.TaskWorkflowID(taskID) }

// Signals of TaskRun.
const (
	// TaskStopSignal stops the task in any state (activities.StopRequest).
	TaskStopSignal = activities.TaskStopSignal
	// TaskAdmittedSignal hints that the queue moved: look again now.
	TaskAdmittedSignal = activities.TaskAdmittedSignal
	// TaskGPUFaultSignal says that a GPU of an attempt failed (activities.GPUFault).
	TaskGPUFaultSignal = activities.TaskGPUFaultSignal
	// TaskStateQuery returns TaskRunState.
	TaskStateQuery = "state"
)

// TaskRunInput starts a run of a task at an attempt the api queued.
type TaskRunInput struct {
	TaskID       string
	MachineID    string // the machine of Attempt
	Attempt      int
	FirstAttempt int // the run's first attempt: MaxAttempts counts from it
	MaxAttempts  int
	AutoRestart  bool
	AnyMachine   bool
	// Failures so far in this run (carried when it continues as new).
	Failures int
}

// TaskRunResult is how the run ended.
type TaskRunResult struct {
	Status  string
	Attempt int
}

// TaskRunState is what the run is doing.
type TaskRunState struct {
	Phase     string // queued, starting, running, stopping, backoff, done
	Attempt   int
	MachineID string
}

// Timing of a run.
const (
	// TaskRecheck: a queued task looks at its queue this often, whatever
	// signal was lost.
	TaskRecheck = 30 * time.Second
	// TaskStopGrace is the time between SIGTERM and SIGKILL on a stop.
	TaskStopGrace = 30 * time.Second
	// TaskFaultGrace is the same when a GPU fault stops the attempt: the
	// process cannot do much on a failed GPU.
	TaskFaultGrace = 10 * time.Second
	// TaskWaitHeartbeat: a host that does not heartbeat a running
	// attempt's wait for this long is lost.
	TaskWaitHeartbeat = 60 * time.Second
	// taskStartHeartbeat: the same for the start (an image may be pulled).
	taskStartHeartbeat = 2 * time.Minute
	taskBackoffBase    = 10 * time.Second
	taskBackoffMax     = 5 * time.Minute
	// taskHistoryMax: a task queued for long continues as new before its history grows large.
	taskHistoryMax = 2000
)

// TaskBackoff is the wait before the attempt after the n-th failure of a run.
func TaskBackoff(n int) time.Duration {
	d := taskBackoffBase
	for i := 1; i < n && d < taskBackoffMax; i++ {
		d *= 2
	}
	return min(d, taskBackoffMax)
}

// TaskRun drives one task through its attempts: wait in its machine's
// queue until it holds its GPUs (admission is Postgres', see
// store.AdmitTask), start the attempt's container, wait for it to exit,
// then end the task or, when it failed and may restart, queue the next
// attempt after a backoff (on another machine when the host was lost or a
// GPU of the attempt failed, and the task allows it). A GPU fault signal
// stops the attempt's container (see runAttempt). A stop signal ends it in
// any state. The customer is told when it ends.
func TaskRun(ctx workflow.Context, in TaskRunInput) (TaskRunResult, error) {
	if in.TaskID == "" || in.MachineID == "" || in.Attempt < 1 {
		return TaskRunResult{}, temporal.NewNonRetryableApplicationError("task, machine and attempt are required", "InvalidArgument", nil)
	}
	if in.FirstAttempt < 1 {
		in.FirstAttempt = in.Attempt
	}
	w := &taskRun{in: in, attempt: in.Attempt, machine: in.MachineID, failures: in.Failures, phase: "queued", logger: workflow.GetLogger(ctx)}
	if err := w.setup(ctx); err != nil {
		return TaskRunResult{}, err
	}
	return w.run(ctx)
}

type taskRun struct {
	in       TaskRunInput
	attempt  int
	machine  string
	failures int
	phase    string
	stop     *activities.StopRequest
	// fault is the first GPU fault of the current attempt (faults of other
	// attempts, late or repeated signals, are dropped).
	fault    *activities.GPUFault
	admitted int // admitted signals received
	logger   log.Logger
}

// outcome is how an attempt ended.
type outcome struct {
	ok bool
	// move: the next attempt may go to another machine (the host was lost
	// or a GPU failed).
	move     bool
	reason   string
	params   map[string]any
	exitCode *int
}

func (w *taskRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, TaskStateQuery, func() (TaskRunState, error) {
		return TaskRunState{Phase: w.phase, Attempt: w.attempt, MachineID: w.machine}, nil
	}); err != nil {
		return fmt.Errorf("unable to register the state query: %w", err)
	}
	stopCh := workflow.GetSignalChannel(ctx, TaskStopSignal)
	admittedCh := workflow.GetSignalChannel(ctx, TaskAdmittedSignal)
	faultCh := workflow.GetSignalChannel(ctx, TaskGPUFaultSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(stopCh, func(c workflow.ReceiveChannel, _ bool) {
				var r activities.StopRequest
				c.Receive(ctx, &r)
				if w.stop == nil {
					w.stop = &r
				}
			})
			sel.AddReceive(admittedCh, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				w.admitted++
			})
			sel.AddReceive(faultCh, func(c workflow.ReceiveChannel, _ bool) {
				var f activities.GPUFault
				c.Receive(ctx, &f)
				if w.fault == nil && f.Attempt == w.attempt && w.phase != "backoff" && w.phase != "done" {
					w.fault = &f
				}
			})
			sel.Select(ctx)
		}
	})
	return nil
}

func (w *taskRun) run(ctx workflow.Context) (TaskRunResult, error) {
	var a *activities.Tasks
	for {
		granted, ended, err := w.queue(ctx)
		if err != nil {
			return TaskRunResult{}, err
		}
		if ended != "" {
			return w.done(ctx, ended)
		}
		if !granted && w.stop == nil {
			w.logger.Info("task continues as new while queued", "TaskID", w.in.TaskID)
			next := w.in
			next.MachineID, next.Attempt, next.Failures = w.machine, w.attempt, w.failures
			return TaskRunResult{}, workflow.NewContinueAsNewError(ctx, TaskRun, next)
		}
		var out outcome
		if w.stop == nil {
			out = w.runAttempt(ctx)
		}
		fin := activities.FinishTaskAttemptInput{TaskID: w.in.TaskID, Attempt: w.attempt, Reason: out.reason, Params: out.params, ExitCode: out.exitCode}
		switch {
		case w.stop != nil:
			fin.Status, fin.Reason, fin.Params = store.TaskStopped, w.stop.Reason, w.stop.Params
		case out.ok:
			fin.Status, fin.Reason = store.TaskSucceeded, activities.ReasonCompleted
		default:
			fin.Status = store.TaskFailed
			if w.in.AutoRestart && w.attempt-w.in.FirstAttempt+1 < w.in.MaxAttempts {
				w.failures++
				fin.Next, fin.Backoff = true, TaskBackoff(w.failures)
				if out.move && w.in.AnyMachine {
					fin.NextMachine = w.pickMachine(ctx)
				}
			}
		}
		var res activities.FinishTaskAttemptResult
		if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.FinishTaskAttempt, fin).Get(ctx, &res); err != nil {
			return TaskRunResult{}, fmt.Errorf("unable to finish the attempt: %w", err)
		}
		w.tell(ctx, res.Admitted)
		if res.Final || !fin.Next {
			return w.done(ctx, res.Status)
		}
		w.attempt++
		w.fault = nil
		if fin.NextMachine != "" {
			w.machine = fin.NextMachine
		}
		w.phase = "backoff"
		if _, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: fin.Backoff,
			TimerOptions: workflow.TimerOptions{Summary: "restart backoff"}}, func() bool { return w.stop != nil }); err != nil {
			return TaskRunResult{}, err
		}
	}
}

// queue waits until the attempt holds its GPUs (granted), the task ended
// meanwhile (ended is its status), a stop came, or it is time to continue
// as new (none of these).
func (w *taskRun) queue(ctx workflow.Context) (granted bool, ended string, err error) {
	var a *activities.Tasks
	w.phase = "queued"
	for w.stop == nil {
		var r activities.AdmitTaskResult
		if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.AdmitTask, activities.AdmitTaskInput{TaskID: w.in.TaskID,
			Attempt: w.attempt}).Get(ctx, &r); err != nil {
			return false, "", fmt.Errorf("unable to admit the task: %w", err)
		}
		w.tell(ctx, r.Admitted)
		switch {
		case r.Ended:
			return false, r.Status, nil
		case r.Granted:
			return true, "", nil
		}
		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > taskHistoryMax {
			return false, "", nil
		}
		seen := w.admitted
		if _, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: TaskRecheck,
			TimerOptions: workflow.TimerOptions{Summary: "queue re-check"}}, func() bool { return w.admitted != seen || w.stop != nil }); err != nil {
			return false, "", err
		}
	}
	return false, "", nil
}

// runAttempt starts the attempt's container and waits for it to end,
// stopping it when asked to. A GPU fault of the attempt stops it too (with
// TaskFaultGrace) and ends it as tasks.reason.gpuFault, a failure whose
// next attempt may move like a lost host's; only an exit 0 that came before
// the fault did anything keeps it a success, and a stop wins over it. A
// fault before the start skips the start.
func (w *taskRun) runAttempt(ctx workflow.Context) outcome {
	w.phase = "starting"
	if w.fault != nil {
		return w.faultOutcome(nil)
	}
	out := w.startAndWait(ctx)
	if w.fault != nil && !out.ok {
		return w.faultOutcome(out.exitCode)
	}
	return out
}

// faultOutcome ends the attempt for its GPU fault.
func (w *taskRun) faultOutcome(exitCode *int) outcome {
	return outcome{move: true, reason: activities.ReasonGPUFault, params: w.fault.Params(), exitCode: exitCode}
}

func (w *taskRun) startAndWait(ctx workflow.Context) outcome {
	var h *activities.Host
	var a *activities.Tasks
	var started agentproto.TaskStartResult
	// a stop (or fault) during the start waits for it: the container exists then, and is stopped below
	err := workflow.ExecuteActivity(taskStartOptions(ctx), h.TaskStart, activities.TaskStartInput{TaskID: w.in.TaskID, Attempt: w.attempt}).
		Get(ctx, &started)
	if err != nil {
		w.cleanup(ctx) // it may have started all the same
		if hostLost(err) {
			return outcome{move: true, reason: activities.ReasonHostLost}
		}
		return outcome{reason: activities.ReasonStartFailed, params: map[string]any{"error": rootMessage(err)}}
	}
	if err := workflow.ExecuteActivity(controlOptions(ctx, 0), a.MarkTaskRunning, activities.MarkTaskRunningInput{TaskID: w.in.TaskID,
		Attempt: w.attempt, Container: started.ContainerID, StartedAt: started.StartedAt, GPUDevices: started.GPUDevices}).Get(ctx, nil); err != nil {
		w.logger.Error("unable to mark the task running", "TaskID", w.in.TaskID, "Error", err)
	}
	w.phase = "running"
	in := activities.TaskHostInput{TaskID: w.in.TaskID, Attempt: w.attempt, MachineID: w.machine}
	wait := workflow.ExecuteActivity(taskWaitOptions(ctx), h.TaskWait, in)
	var stopped workflow.Future
	for !wait.IsReady() {
		if (w.stop != nil || w.fault != nil) && stopped == nil {
			w.phase = "stopping"
			stop := in
			stop.GraceSeconds = int(TaskStopGrace / time.Second)
			if w.stop == nil {
				stop.GraceSeconds = int(TaskFaultGrace / time.Second)
			}
			stopped = workflow.ExecuteActivity(taskStopOptions(ctx), h.TaskStop, stop)
		}
		if err := workflow.Await(ctx, func() bool { return wait.IsReady() || ((w.stop != nil || w.fault != nil) && stopped == nil) }); err != nil {
			break
		}
	}
	var res agentproto.TaskWaitResult
	err = wait.Get(ctx, &res)
	if stopped != nil {
		_ = stopped.Get(ctx, nil) // the wait said how it ended; a failed stop changes nothing
	}
	switch {
	case err != nil && hostLost(err):
		if stopped == nil {
			w.cleanup(ctx)
		}
		return outcome{move: true, reason: activities.ReasonHostLost}
	case err != nil:
		return outcome{reason: activities.ReasonWaitFailed, params: map[string]any{"error": rootMessage(err)}}
	case res.Missing:
		return outcome{reason: activities.ReasonMissing}
	case res.OOMKilled:
		return outcome{reason: activities.ReasonOOMKilled, exitCode: &res.ExitCode, params: map[string]any{"code": res.ExitCode}}
	case res.ExitCode != 0:
		return outcome{reason: activities.ReasonExitCode, exitCode: &res.ExitCode, params: map[string]any{"code": res.ExitCode}}
	}
	if stopped != nil && w.stop == nil {
		// stopped for a fault: an exit 0 after SIGTERM is no success
		return outcome{exitCode: &res.ExitCode}
	}
	return outcome{ok: true, exitCode: &res.ExitCode}
}

// cleanup stops an attempt whose start or host failed, in case its
// container runs after all (a host that comes back); it does not wait long.
func (w *taskRun) cleanup(ctx workflow.Context) {
	var h *activities.Host
	cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	_ = workflow.ExecuteActivity(cctx, h.TaskStop, activities.TaskHostInput{TaskID: w.in.TaskID, Attempt: w.attempt, MachineID: w.machine,
		GraceSeconds: 10}).Get(ctx, nil)
}

// pickMachine is where the next attempt goes after a lost host or a GPU
// fault: another leased machine when there is one ("" keeps the same).
func (w *taskRun) pickMachine(ctx workflow.Context) string {
	var a *activities.Tasks
	var id string
	if err := workflow.ExecuteActivity(controlOptions(ctx, 5), a.PickTaskMachine, activities.PickTaskMachineInput{TaskID: w.in.TaskID,
		Exclude: w.machine}).Get(ctx, &id); err != nil {
		w.logger.Warn("unable to pick another machine; the task stays on its own", "TaskID", w.in.TaskID, "Error", err)
		return ""
	}
	return id
}

// tell signals the tasks a grant admitted (a lost signal costs them a re-check).
func (w *taskRun) tell(ctx workflow.Context, ids []string) {
	futures := make([]workflow.Future, 0, len(ids))
	for _, id := range ids {
		futures = append(futures, workflow.SignalExternalWorkflow(ctx, TaskRunWorkflowID(id), "", TaskAdmittedSignal, nil))
	}
	for _, f := range futures {
		_ = f.Get(ctx, nil)
	}
}

// done sends the completion notice and ends the run.
func (w *taskRun) done(ctx workflow.Context, status string) (TaskRunResult, error) {
	w.phase = "done"
	var a *activities.Tasks
	var res activities.NotifyTaskDoneResult
	if err := workflow.ExecuteActivity(controlOptions(ctx, 5), a.NotifyTaskDone, activities.NotifyTaskDoneInput{TaskID: w.in.TaskID}).
		Get(ctx, &res); err != nil {
		w.logger.Error("unable to send the task's notice", "TaskID", w.in.TaskID, "Error", err)
	} else if !res.Skipped && len(res.Recipients) > 0 {
		w.mail(ctx, res)
	}
	w.logger.Info("task ended", "TaskID", w.in.TaskID, "Status", status, "Attempt", w.attempt)
	return TaskRunResult{Status: status, Attempt: w.attempt}, nil
}

// mail sends the notice to its recipients and records the outcome on the batch.
func (w *taskRun) mail(ctx workflow.Context, res activities.NotifyTaskDoneResult) {
	var n *activities.Notifications
	mctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 4}})
	failed := 0
	for _, r := range res.Recipients {
		if err := workflow.ExecuteActivity(mctx, n.MailNotification, activities.MailInput{BatchID: res.BatchID, To: r.Email, Name: r.Name}).
			Get(ctx, nil); err != nil {
			failed++
		}
	}
	status, errText := "sent", ""
	if failed > 0 {
		status, errText = "failed", fmt.Sprintf("%d of %d mails failed", failed, len(res.Recipients))
	}
	if err := finish(controlOptions(ctx, 8), res.BatchID, status, res.Owners, errText); err != nil {
		w.logger.Error("unable to finish the notice batch", "BatchID", res.BatchID, "Error", err)
	}
}

// hostLost: the host stopped answering (no heartbeat, or no answer in time).
func hostLost(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te)
}

// taskStartOptions: one try; a host that does not pick the start up (or
// heartbeat it) in taskStartHeartbeat is lost.
func taskStartOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: taskStartHeartbeat,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
}

// taskWaitOptions: the wait lasts as long as the container; its heartbeats
// tell that the host is there.
func taskWaitOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * 365 * 24 * time.Hour, HeartbeatTimeout: TaskWaitHeartbeat,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
}

func taskStopOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: TaskStopGrace + time.Minute,
		ScheduleToCloseTimeout: 5 * time.Minute, RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3}})
}
