package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

var taskStart = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

const (
	testTask     = "task-1"
	otherMachine = "m2"
)

// taskFake is the queue, the record and the host behind the mocked
// activities of one task (the mocks run on other goroutines: the mutex).
type taskFake struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	grantAt  time.Duration // the queue grants the task's GPUs from this time on
	admits   []activities.AdmitTaskInput
	admitsAt []time.Duration
	starts   []activities.TaskStartInput
	waits    []activities.TaskHostInput
	stops    []activities.TaskHostInput
	stopsAt  []time.Duration
	finishes []activities.FinishTaskAttemptInput
	finishAt []time.Duration
	notices  int
	mails    int
	picked   int

	startFor time.Duration // how long a start takes
	runFor   time.Duration // how long a container runs (unless stopped)
	// exits are the exit codes of the attempts in order (0 when not given);
	// lost makes an attempt's host stop heartbeating.
	exits []int
	lost  map[int]bool
	ended string   // the queue says the task ended so
	told  []string // workflows signalled admitted
}

func newTaskFake(t *testing.T) *taskFake {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(taskStart)
	f := &taskFake{t: t, env: env, runFor: time.Hour, lost: map[int]bool{}}
	var a *activities.Tasks
	var h *activities.Host
	var n *activities.Notifications
	env.RegisterActivity(a)
	env.RegisterActivity(h)
	env.RegisterActivity(n)
	env.OnActivity(a.AdmitTask, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AdmitTaskInput) (activities.AdmitTaskResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.admits = append(f.admits, in)
		f.admitsAt = append(f.admitsAt, f.since())
		if f.ended != "" {
			return activities.AdmitTaskResult{Ended: true, Status: f.ended}, nil
		}
		if f.since() < f.grantAt {
			return activities.AdmitTaskResult{Status: store.TaskQueued}, nil
		}
		return activities.AdmitTaskResult{Granted: true, GPUs: []int{0, 1}, Status: store.TaskRunning, Admitted: []string{"other-task"}}, nil
	}).Maybe()
	env.OnActivity(h.TaskStart, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return f.startFor }).Return(
		func(_ context.Context, in activities.TaskStartInput) (agentproto.TaskStartResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.starts = append(f.starts, in)
			return agentproto.TaskStartResult{ContainerID: "c", StartedAt: env.Now().UTC(), GPUDevices: true}, nil
		}).Maybe()
	env.OnActivity(a.MarkTaskRunning, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(h.TaskWait, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.lost[len(f.waits)+1] {
			return TaskWaitHeartbeat
		}
		return f.runFor
	}).Return(func(_ context.Context, in activities.TaskHostInput) (agentproto.TaskWaitResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.waits = append(f.waits, in)
		if f.lost[len(f.waits)] {
			return agentproto.TaskWaitResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
		}
		for _, s := range f.stops {
			if s.Attempt == in.Attempt {
				return agentproto.TaskWaitResult{ExitCode: 143, FinishedAt: env.Now().UTC(), LogsShipped: true}, nil
			}
		}
		code := 0
		if len(f.waits) <= len(f.exits) {
			code = f.exits[len(f.waits)-1]
		}
		return agentproto.TaskWaitResult{ExitCode: code, FinishedAt: env.Now().UTC(), LogsShipped: true}, nil
	}).Maybe()
	env.OnActivity(h.TaskStop, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.TaskHostInput) (agentproto.TaskStopResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stops = append(f.stops, in)
		f.stopsAt = append(f.stopsAt, f.since())
		return agentproto.TaskStopResult{WasRunning: true}, nil
	}).Maybe()
	env.OnActivity(a.FinishTaskAttempt, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishTaskAttemptInput) (activities.FinishTaskAttemptResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.finishes = append(f.finishes, in)
			f.finishAt = append(f.finishAt, f.since())
			if in.Next {
				return activities.FinishTaskAttemptResult{Status: store.TaskQueued}, nil
			}
			return activities.FinishTaskAttemptResult{Status: in.Status, Final: true}, nil
		}).Maybe()
	env.OnActivity(a.PickTaskMachine, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PickTaskMachineInput) (string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.picked++
		if in.Exclude != testMachine {
			return "", nil
		}
		return otherMachine, nil
	}).Maybe()
	env.OnActivity(a.NotifyTaskDone, mock.Anything, mock.Anything).Return(func(context.Context, activities.NotifyTaskDoneInput) (activities.NotifyTaskDoneResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.notices++
		return activities.NotifyTaskDoneResult{BatchID: "b1", Owners: 1, Recipients: []activities.Recipient{{UserID: "u1", Email: "u@x.test"}}}, nil
	}).Maybe()
	env.OnActivity(n.MailNotification, mock.Anything, mock.Anything).Return(func(context.Context, activities.MailInput) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.mails++
		return nil
	}).Maybe()
	env.OnActivity(n.FinishNotification, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, TaskAdmittedSignal, mock.Anything).Return(
		func(_, id, _, _ string, _ any) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.told = append(f.told, id)
			return nil
		}).Maybe()
	return f
}

// since is the workflow clock since the start.
func (f *taskFake) since() time.Duration { return f.env.Now().Sub(taskStart) }

func (f *taskFake) at(d time.Duration, fn func()) { f.env.RegisterDelayedCallback(fn, d) }

func (f *taskFake) stopAt(d time.Duration) {
	f.at(d, func() {
		f.env.SignalWorkflow(TaskStopSignal, activities.StopRequest{Reason: activities.ReasonStoppedByUser, By: "owner"})
	})
}

func (f *taskFake) run(in TaskRunInput) TaskRunResult {
	f.t.Helper()
	if in.TaskID == "" {
		in.TaskID, in.MachineID, in.Attempt, in.FirstAttempt = testTask, testMachine, 1, 1
	}
	if in.MaxAttempts == 0 {
		in.MaxAttempts = 1
	}
	f.env.ExecuteWorkflow(TaskRun, in)
	if !f.env.IsWorkflowCompleted() {
		f.t.Fatal("workflow did not complete")
	}
	if err := f.env.GetWorkflowError(); err != nil {
		f.t.Fatalf("workflow failed: %v", err)
	}
	var res TaskRunResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

// wantEnd checks the last FinishTaskAttempt: the task ended with status and reason.
func (f *taskFake) wantEnd(status, reason string) activities.FinishTaskAttemptInput {
	f.t.Helper()
	if len(f.finishes) == 0 {
		f.t.Fatal("no attempt finished")
	}
	last := f.finishes[len(f.finishes)-1]
	if last.Next || last.Status != status || last.Reason != reason {
		f.t.Fatalf("end %+v, want %s (%s)", last, status, reason)
	}
	if f.notices != 1 {
		f.t.Fatalf("notices %d, want 1", f.notices)
	}
	return last
}

func TestTaskRunSucceeds(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = 2 * time.Hour
	res := f.run(TaskRunInput{})
	if res.Status != store.TaskSucceeded || res.Attempt != 1 {
		t.Fatalf("result %+v", res)
	}
	end := f.wantEnd(store.TaskSucceeded, activities.ReasonCompleted)
	if end.ExitCode == nil || *end.ExitCode != 0 || f.finishAt[0] != 2*time.Hour {
		t.Fatalf("end %+v at %v", end, f.finishAt)
	}
	if len(f.starts) != 1 || f.starts[0] != (activities.TaskStartInput{TaskID: testTask, Attempt: 1}) ||
		f.waits[0] != (activities.TaskHostInput{TaskID: testTask, Attempt: 1, MachineID: testMachine}) || len(f.stops) != 0 {
		t.Fatalf("host calls: starts %+v waits %+v stops %+v", f.starts, f.waits, f.stops)
	}
	if f.mails != 1 {
		t.Fatalf("mails %d", f.mails)
	}
	if !slices.Equal(f.told, []string{TaskRunWorkflowID("other-task")}) {
		t.Fatalf("told %v", f.told)
	}
}

func TestTaskRunRestartsWithBackoff(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = time.Minute
	f.exits = []int{1, 137}
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 3, AutoRestart: true})
	if res.Status != store.TaskSucceeded || res.Attempt != 3 {
		t.Fatalf("result %+v", res)
	}
	if len(f.finishes) != 3 {
		t.Fatalf("finishes %+v", f.finishes)
	}
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second} {
		fin := f.finishes[i]
		if !fin.Next || fin.Backoff != want || fin.Attempt != i+1 || fin.Status != store.TaskFailed || fin.Reason != activities.ReasonExitCode ||
			fin.NextMachine != "" {
			t.Fatalf("finish %d: %+v", i, fin)
		}
	}
	// each next attempt is admitted only once its backoff has passed
	if f.admitsAt[1] != f.finishAt[0]+10*time.Second || f.admitsAt[2] != f.finishAt[1]+20*time.Second {
		t.Fatalf("admitted at %v, finished at %v", f.admitsAt, f.finishAt)
	}
	if f.admits[2].Attempt != 3 || f.starts[2].Attempt != 3 {
		t.Fatalf("admits %+v starts %+v", f.admits, f.starts)
	}
	f.wantEnd(store.TaskSucceeded, activities.ReasonCompleted)
}

func TestTaskRunFailsAfterMaxAttempts(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = time.Minute
	f.exits = []int{2, 2, 2}
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 4, FirstAttempt: 4, MaxAttempts: 2, AutoRestart: true})
	if res.Status != store.TaskFailed || res.Attempt != 5 || len(f.starts) != 2 {
		t.Fatalf("result %+v after %d starts", res, len(f.starts))
	}
	end := f.wantEnd(store.TaskFailed, activities.ReasonExitCode)
	if end.Attempt != 5 || end.Params["code"] != float64(2) || *end.ExitCode != 2 {
		t.Fatalf("end %+v", end)
	}
}

func TestTaskRunNoRestartWhenOff(t *testing.T) {
	f := newTaskFake(t)
	f.exits = []int{1}
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 5})
	if res.Status != store.TaskFailed || len(f.starts) != 1 {
		t.Fatalf("result %+v after %d starts", res, len(f.starts))
	}
}

func TestTaskRunStopWhileQueued(t *testing.T) {
	f := newTaskFake(t)
	f.grantAt = 24 * time.Hour
	f.stopAt(75 * time.Second)
	res := f.run(TaskRunInput{})
	if res.Status != store.TaskStopped {
		t.Fatalf("result %+v", res)
	}
	f.wantEnd(store.TaskStopped, activities.ReasonStoppedByUser)
	// it looked at its queue at the start and every 30 s, and stopped at once
	if !slices.Equal(f.admitsAt, []time.Duration{0, 30 * time.Second, time.Minute}) || f.finishAt[0] != 75*time.Second {
		t.Fatalf("admits at %v, finished at %v", f.admitsAt, f.finishAt)
	}
	if len(f.starts) != 0 || len(f.stops) != 0 {
		t.Fatalf("a queued task touched the host: %+v %+v", f.starts, f.stops)
	}
}

func TestTaskRunAdmittedSignal(t *testing.T) {
	f := newTaskFake(t)
	f.grantAt = 10 * time.Second
	f.at(10*time.Second, func() { f.env.SignalWorkflow(TaskAdmittedSignal, nil) })
	f.runFor = time.Minute
	f.run(TaskRunInput{})
	// the signal, not the 30 s re-check, brought it to its queue again
	if !slices.Equal(f.admitsAt, []time.Duration{0, 10 * time.Second}) {
		t.Fatalf("admits at %v", f.admitsAt)
	}
}

func TestTaskRunStopDuringStart(t *testing.T) {
	f := newTaskFake(t)
	f.startFor = 20 * time.Second
	f.stopAt(5 * time.Second)
	res := f.run(TaskRunInput{})
	if res.Status != store.TaskStopped {
		t.Fatalf("result %+v", res)
	}
	// the start finished, then the container was stopped at once
	if len(f.stops) != 1 || f.stopsAt[0] != 20*time.Second || f.stops[0].GraceSeconds != 30 {
		t.Fatalf("stops %+v at %v", f.stops, f.stopsAt)
	}
	f.wantEnd(store.TaskStopped, activities.ReasonStoppedByUser)
}

func TestTaskRunStopWhileRunning(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = 3 * time.Hour
	f.stopAt(10 * time.Minute)
	res := f.run(TaskRunInput{AutoRestart: true, MaxAttempts: 3, TaskID: testTask, MachineID: testMachine, Attempt: 1})
	if res.Status != store.TaskStopped || len(f.starts) != 1 {
		t.Fatalf("result %+v after %d starts", res, len(f.starts))
	}
	if len(f.stops) != 1 || f.stopsAt[0] != 10*time.Minute ||
		f.stops[0] != (activities.TaskHostInput{TaskID: testTask, Attempt: 1, MachineID: testMachine, GraceSeconds: 30}) {
		t.Fatalf("stops %+v at %v", f.stops, f.stopsAt)
	}
	end := f.wantEnd(store.TaskStopped, activities.ReasonStoppedByUser)
	if end.ExitCode == nil || *end.ExitCode != 143 {
		t.Fatalf("end %+v", end)
	}
}

func TestTaskRunStopDuringBackoff(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = time.Minute
	f.exits = []int{1}
	f.stopAt(time.Minute + 5*time.Second)
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, MaxAttempts: 3, AutoRestart: true})
	if res.Status != store.TaskStopped || len(f.starts) != 1 || len(f.admits) != 1 {
		t.Fatalf("result %+v, starts %d, admits %d", res, len(f.starts), len(f.admits))
	}
	end := f.wantEnd(store.TaskStopped, activities.ReasonStoppedByUser)
	if end.Attempt != 2 {
		t.Fatalf("the queued attempt 2 ends: %+v", end)
	}
}

func TestTaskRunHostLostRequeuesOnAnotherMachine(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = time.Hour
	f.lost[1] = true
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 2, AutoRestart: true, AnyMachine: true})
	if res.Status != store.TaskSucceeded || res.Attempt != 2 {
		t.Fatalf("result %+v", res)
	}
	lost := f.finishes[0]
	if !lost.Next || lost.Reason != activities.ReasonHostLost || lost.NextMachine != otherMachine || lost.Backoff != 10*time.Second {
		t.Fatalf("after the lost host: %+v", lost)
	}
	// the lost host was asked to stop the attempt (in case it comes back); the next attempt ran on the other machine
	if len(f.stops) != 1 || f.stops[0].MachineID != testMachine || f.stops[0].Attempt != 1 {
		t.Fatalf("stops %+v", f.stops)
	}
	if f.waits[1].MachineID != otherMachine || f.waits[1].Attempt != 2 {
		t.Fatalf("waits %+v", f.waits)
	}
	f.wantEnd(store.TaskSucceeded, activities.ReasonCompleted)
}

func TestTaskRunHostLostStaysWithoutAnyMachine(t *testing.T) {
	f := newTaskFake(t)
	f.lost[1] = true
	f.runFor = time.Minute
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, MaxAttempts: 2, AutoRestart: true})
	if res.Status != store.TaskSucceeded || f.picked != 0 || f.finishes[0].NextMachine != "" || f.waits[1].MachineID != testMachine {
		t.Fatalf("result %+v, picked %d, finishes %+v", res, f.picked, f.finishes)
	}
}

func TestTaskRunEndedInTheQueue(t *testing.T) {
	f := newTaskFake(t)
	f.ended = store.TaskStopped // the lease ended while it waited
	res := f.run(TaskRunInput{})
	if res.Status != store.TaskStopped || len(f.finishes) != 0 || len(f.starts) != 0 || f.notices != 1 {
		t.Fatalf("result %+v, finishes %+v", res, f.finishes)
	}
}

func TestTaskBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 5: 160 * time.Second, 6: 5 * time.Minute, 9: 5 * time.Minute} {
		if got := TaskBackoff(n); got != want {
			t.Errorf("TaskBackoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func (f *taskFake) faultAt(d time.Duration, fault activities.GPUFault) {
	f.at(d, func() { f.env.SignalWorkflow(TaskGPUFaultSignal, fault) })
}

// A GPU fault while the attempt runs: its container is stopped with the
// short grace, the attempt fails as tasks.reason.gpuFault and the next one
// goes to another machine, as after a lost host.
func TestTaskRunGPUFaultRequeuesOnAnotherMachine(t *testing.T) {
	f := newTaskFake(t)
	f.faultAt(10*time.Minute, activities.GPUFault{Attempt: 1, GPUIndex: 1, XID: 79, At: taskStart.Add(10 * time.Minute)})
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 2, AutoRestart: true, AnyMachine: true})
	if res.Status != store.TaskSucceeded || res.Attempt != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(f.stops) != 1 || f.stopsAt[0] != 10*time.Minute ||
		f.stops[0] != (activities.TaskHostInput{TaskID: testTask, Attempt: 1, MachineID: testMachine, GraceSeconds: 10}) {
		t.Fatalf("stops %+v at %v", f.stops, f.stopsAt)
	}
	fault := f.finishes[0]
	if !fault.Next || fault.Status != store.TaskFailed || fault.Reason != activities.ReasonGPUFault || fault.NextMachine != otherMachine ||
		fault.Backoff != 10*time.Second || fault.Params["gpuIndex"] != float64(1) || fault.Params["xid"] != float64(79) ||
		fault.ExitCode == nil || *fault.ExitCode != 143 {
		t.Fatalf("after the fault: %+v", fault)
	}
	if f.picked != 1 || len(f.starts) != 2 || f.waits[1] != (activities.TaskHostInput{TaskID: testTask, Attempt: 2, MachineID: otherMachine}) {
		t.Fatalf("picked %d, waits %+v", f.picked, f.waits)
	}
	f.wantEnd(store.TaskSucceeded, activities.ReasonCompleted)
}

// Without anyMachine the next attempt stays on the machine; an ECC fault
// says how many errors came.
func TestTaskRunGPUFaultStaysWithoutAnyMachine(t *testing.T) {
	f := newTaskFake(t)
	f.faultAt(time.Minute, activities.GPUFault{Attempt: 1, GPUIndex: 0, ECC: 2})
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 2, AutoRestart: true})
	if res.Status != store.TaskSucceeded || res.Attempt != 2 || f.picked != 0 {
		t.Fatalf("result %+v, picked %d", res, f.picked)
	}
	fault := f.finishes[0]
	if fault.Reason != activities.ReasonGPUFault || fault.NextMachine != "" || fault.Params["gpuIndex"] != float64(0) || fault.Params["ecc"] != float64(2) {
		t.Fatalf("after the fault: %+v", fault)
	}
	if f.waits[1].MachineID != testMachine || f.waits[1].Attempt != 2 {
		t.Fatalf("waits %+v", f.waits)
	}
}

// Without restarts left the fault ends the task as failed.
func TestTaskRunGPUFaultFailsTheLastAttempt(t *testing.T) {
	f := newTaskFake(t)
	f.faultAt(time.Minute, activities.GPUFault{Attempt: 1, GPUIndex: 3, XID: 48})
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 1, AutoRestart: true, AnyMachine: true})
	if res.Status != store.TaskFailed || f.picked != 0 || len(f.starts) != 1 {
		t.Fatalf("result %+v, picked %d", res, f.picked)
	}
	f.wantEnd(store.TaskFailed, activities.ReasonGPUFault)
}

// A fault during the start waits for it, then stops the container; one
// that came before the start (the GPUs were granted, the workflow had not
// looked yet) skips the start.
func TestTaskRunGPUFaultAroundTheStart(t *testing.T) {
	f := newTaskFake(t)
	f.startFor = 20 * time.Second
	f.faultAt(5*time.Second, activities.GPUFault{Attempt: 1, GPUIndex: 0, XID: 79})
	f.run(TaskRunInput{})
	if len(f.stops) != 1 || f.stopsAt[0] != 20*time.Second || f.stops[0].GraceSeconds != 10 {
		t.Fatalf("stops %+v at %v", f.stops, f.stopsAt)
	}
	f.wantEnd(store.TaskFailed, activities.ReasonGPUFault)

	f = newTaskFake(t)
	f.grantAt = time.Minute
	f.faultAt(45*time.Second, activities.GPUFault{Attempt: 1, GPUIndex: 0, XID: 79})
	f.run(TaskRunInput{})
	if len(f.starts) != 0 || len(f.stops) != 0 || f.finishAt[0] != time.Minute {
		t.Fatalf("starts %+v stops %+v, finished at %v", f.starts, f.stops, f.finishAt)
	}
	f.wantEnd(store.TaskFailed, activities.ReasonGPUFault)
}

// A stop wins over a fault: the task is stopped, its container stopped once.
func TestTaskRunStopAfterGPUFault(t *testing.T) {
	f := newTaskFake(t)
	f.faultAt(10*time.Minute, activities.GPUFault{Attempt: 1, GPUIndex: 0, XID: 79})
	f.stopAt(10*time.Minute + 2*time.Second)
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 3, AutoRestart: true, AnyMachine: true})
	if res.Status != store.TaskStopped || len(f.stops) != 1 || len(f.starts) != 1 || f.picked != 0 {
		t.Fatalf("result %+v, stops %+v", res, f.stops)
	}
	f.wantEnd(store.TaskStopped, activities.ReasonStoppedByUser)
}

// Faults of another attempt, or ones that come between attempts, change nothing.
func TestTaskRunIgnoresOtherAttemptsFaults(t *testing.T) {
	f := newTaskFake(t)
	f.runFor = time.Minute
	f.exits = []int{1}
	f.faultAt(30*time.Second, activities.GPUFault{Attempt: 2, GPUIndex: 0, XID: 79}) // not the running attempt
	f.faultAt(65*time.Second, activities.GPUFault{Attempt: 1, GPUIndex: 0, XID: 79}) // attempt 1 is over: in the backoff
	f.faultAt(66*time.Second, activities.GPUFault{Attempt: 2, GPUIndex: 0, XID: 79}) // attempt 2 holds no GPU yet
	res := f.run(TaskRunInput{TaskID: testTask, MachineID: testMachine, Attempt: 1, FirstAttempt: 1, MaxAttempts: 2, AutoRestart: true, AnyMachine: true})
	if res.Status != store.TaskSucceeded || res.Attempt != 2 || len(f.stops) != 0 || f.finishes[0].Reason != activities.ReasonExitCode {
		t.Fatalf("result %+v, stops %+v, finishes %+v", res, f.stops, f.finishes)
	}
}
