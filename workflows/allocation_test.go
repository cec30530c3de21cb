package workflows

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

const (
	testAllocation = "a1"
	testMachine    = "m1"
	testTenant     = "t1"
	week           = 7 * 24 * time.Hour
	day            = 24 * time.Hour
)

// leaseStart is when every test lease starts (workflow clock).
var leaseStart = time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)

type notice struct {
	EndAt time.Time // the end the notice was about
	At    time.Time // when it went out
}

// lease is a fake of the allocation record and the host behind the mocked
// activities; the mocks run on other goroutines, hence the mutex.
type lease struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu          sync.Mutex
	activations int
	endAt       time.Time
	months      int
	extensions  int
	extends     []activities.ExtendAllocationInput
	notices     []notice
	mails       int
	finished    []activities.FinishInput
	rotations   int
	ends        []activities.EndAllocationInput
	hostCalls   []string

	agent     bool             // HostAgentPresent answers this
	agentErr  error            // or fails with this
	hostFails map[string]error // host activity name -> error
	endDelay  time.Duration    // how long closing the record takes
	syncs     []time.Time      // when the SSH keys were synced
	passwords []time.Time      // when a new password was set at the start
	cleanups  []LeaseCleanupInput
}

func newLease(t *testing.T) *lease {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(leaseStart)
	l := &lease{t: t, env: env, hostFails: map[string]error{}}

	var a *activities.Allocations
	var n *activities.Notifications
	env.RegisterActivity(a)
	env.RegisterActivity(n)
	// The agent's activities, as it will register them on host.<machineID>.
	env.RegisterActivityWithOptions(func(_ context.Context, in activities.HostStopTenantContainersInput) (activities.HostStopTenantContainersResult, error) {
		if err := l.host(activities.HostStopTenantContainers); err != nil {
			return activities.HostStopTenantContainersResult{}, err
		}
		if in.TenantID != testTenant || in.MachineID != testMachine || in.AllocationID != testAllocation {
			return activities.HostStopTenantContainersResult{}, temporal.NewNonRetryableApplicationError("wrong input", "Invalid", nil)
		}
		return activities.HostStopTenantContainersResult{Stopped: 3}, nil
	}, activity.RegisterOptions{Name: activities.HostStopTenantContainers})
	env.RegisterActivityWithOptions(func(_ context.Context, in activities.HostSetSSHPasswordInput) (activities.HostSetSSHPasswordResult, error) {
		if err := l.host(activities.HostSetSSHPassword); err != nil {
			return activities.HostSetSSHPasswordResult{}, err
		}
		return activities.HostSetSSHPasswordResult{User: in.User}, nil
	}, activity.RegisterOptions{Name: activities.HostSetSSHPassword})
	var h *activities.Host
	env.RegisterActivity(h)
	env.OnActivity(h.SyncSSHKeys, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SyncSSHKeysInput) (agentproto.SyncSSHKeysResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			if in.MachineID != testMachine || in.AllocationID != testAllocation {
				return agentproto.SyncSSHKeysResult{}, temporal.NewNonRetryableApplicationError("wrong input", "Invalid", nil)
			}
			l.syncs = append(l.syncs, env.Now().UTC())
			return agentproto.SyncSSHKeysResult{User: "root", Keys: 2}, nil
		}).Maybe()
	env.OnActivity(h.SetPassword, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetPasswordInput) (agentproto.SetPasswordResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.passwords = append(l.passwords, env.Now().UTC())
			return agentproto.SetPasswordResult{User: "root"}, nil
		}).Maybe()
	env.RegisterWorkflow(LeaseCleanup)
	env.OnWorkflow(LeaseCleanup, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in LeaseCleanupInput) (LeaseCleanupResult, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cleanups = append(l.cleanups, in)
		return LeaseCleanupResult{Outcome: CleanupDone}, nil
	}).Maybe()
	env.OnActivity(a.ActivateAllocation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ActivateAllocationInput) (activities.ActivateAllocationResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.activations++
			if l.endAt.IsZero() {
				l.endAt = in.EndAt
				l.months = monthsBetween(in.StartAt, in.EndAt)
			}
			return activities.ActivateAllocationResult{StartAt: in.StartAt, EndAt: l.endAt, MachineID: testMachine, TenantID: testTenant}, nil
		}).Maybe()
	env.OnActivity(a.ExtendAllocation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExtendAllocationInput) (activities.ExtendAllocationResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			if !in.NewEnd.After(l.endAt) {
				return activities.ExtendAllocationResult{}, temporal.NewNonRetryableApplicationError("not after the current end", "Invalid", nil)
			}
			l.extends = append(l.extends, in)
			l.endAt, l.months, l.extensions = in.NewEnd, l.months+in.Months, l.extensions+1
			return activities.ExtendAllocationResult{EndAt: l.endAt, Months: l.months, Extensions: l.extensions}, nil
		}).Maybe()
	env.OnActivity(a.NotifyAllocationExpiring, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyExpiringInput) (activities.NotifyExpiringResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.notices = append(l.notices, notice{EndAt: in.EndAt, At: env.Now().UTC()})
			return activities.NotifyExpiringResult{BatchID: activities.ExpiringNoticeBatchID(in.AllocationID, in.EndAt), Owners: 2,
				Recipients: []activities.Recipient{{UserID: "u1", Email: "owner@x.test", Name: "Owner"}}}, nil
		}).Maybe()
	env.OnActivity(n.MailNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.MailInput) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.mails++
		return nil
	}).Maybe()
	env.OnActivity(n.FinishNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishInput) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.finished = append(l.finished, in)
		return nil
	}).Maybe()
	env.OnActivity(a.HostAgentPresent, mock.Anything, testMachine).Return(func(context.Context, string) (bool, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.agent, l.agentErr
	}).Maybe()
	env.OnActivity(a.RotateMachinePassword, mock.Anything, activities.RotateMachinePasswordInput{MachineID: testMachine}).Return(
		func(context.Context, activities.RotateMachinePasswordInput) (activities.RotateMachinePasswordResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.rotations++
			return activities.RotateMachinePasswordResult{SSHUser: "root"}, nil
		}).Maybe()
	env.OnActivity(a.EndAllocation, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.endDelay
	}).Return(
		func(_ context.Context, in activities.EndAllocationInput) (activities.EndAllocationResult, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.ends = append(l.ends, in)
			return activities.EndAllocationResult{Status: in.Status, EndedAt: env.Now().UTC()}, nil
		}).Maybe()

	return l
}

func monthsBetween(from, to time.Time) int {
	n := 0
	for from.AddDate(0, n, 0).Before(to) {
		n++
	}
	return n
}

func (l *lease) host(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hostCalls = append(l.hostCalls, name)
	return l.hostFails[name]
}

// at runs fn when the workflow clock is d after the start.
func (l *lease) at(d time.Duration, fn func()) { l.env.RegisterDelayedCallback(fn, d) }

func (l *lease) run(in AllocationInput) {
	l.env.ExecuteWorkflow(Allocation, in)
	if !l.env.IsWorkflowCompleted() {
		l.t.Fatal("workflow did not complete")
	}
}

func (l *lease) result() AllocationResult {
	l.t.Helper()
	if err := l.env.GetWorkflowError(); err != nil {
		l.t.Fatalf("workflow failed: %v", err)
	}
	var res AllocationResult
	if err := l.env.GetWorkflowResult(&res); err != nil {
		l.t.Fatal(err)
	}
	return res
}

func (l *lease) state() AllocationState {
	l.t.Helper()
	v, err := l.env.QueryWorkflow(AllocationStateQuery)
	if err != nil {
		l.t.Fatalf("query: %v", err)
	}
	var s AllocationState
	if err := v.Get(&s); err != nil {
		l.t.Fatal(err)
	}
	return s
}

type updateOutcome struct {
	rejected error
	err      error
	done     bool
}

// update sends an update and records how it went; the result goes into res.
func (l *lease) update(name string, res any, arg any) *updateOutcome {
	o := &updateOutcome{}
	l.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnReject: func(err error) { o.rejected = err },
		OnComplete: func(v any, err error) {
			o.done, o.err = true, err
			if err == nil && res != nil {
				if c, ok := v.(converter.EncodedValue); ok {
					_ = c.Get(res)
				} else if ev, ok := res.(*ExtendResult); ok {
					*ev = v.(ExtendResult)
				} else if rv, ok := res.(*ReclaimResult); ok {
					*rv = v.(ReclaimResult)
				}
			}
		},
	}, arg)
	return o
}

// wantCleanup checks the end: the record closed once, at the moment the end
// was decided, with the machine handed to its cleanup and every step
// pending; the LeaseCleanup workflow started for it.
func (l *lease) wantCleanup(t *testing.T, status, by string, at time.Time) {
	t.Helper()
	if len(l.ends) != 1 {
		t.Fatalf("ends %+v", l.ends)
	}
	e := l.ends[0]
	if e.Status != status || e.By != by || e.MachineID != testMachine || !e.StartCleanup || !e.DecidedAt.Equal(at) {
		t.Fatalf("end %+v, want %s by %s at %v with the cleanup", e, status, by, at)
	}
	if len(e.HostSteps) != len(CleanupSteps) {
		t.Fatalf("end steps %+v", e.HostSteps)
	}
	for i, st := range e.HostSteps {
		if st.Step != CleanupSteps[i] || st.Confirmed || st.State != StepPending {
			t.Fatalf("end step %d %+v, want %s pending", i, st, CleanupSteps[i])
		}
	}
	if len(l.cleanups) != 1 || !reflect.DeepEqual(l.cleanups[0], LeaseCleanupInput{AllocationID: testAllocation, MachineID: testMachine,
		TenantID: testTenant, EndedAt: at}) {
		t.Fatalf("cleanups %+v", l.cleanups)
	}
	if len(l.hostCalls) != 0 || l.rotations != 0 {
		t.Fatalf("the lease ran host steps itself: %v, rotations %d", l.hostCalls, l.rotations)
	}
}

func TestAllocationLeaseToExpiry(t *testing.T) {
	l := newLease(t)
	end := leaseStart.AddDate(0, 1, 0)
	var early, afterNotice AllocationState
	l.at(day, func() { early = l.state() })
	l.at(end.Sub(leaseStart)-week+time.Hour, func() { afterNotice = l.state() })
	l.run(AllocationInput{AllocationID: testAllocation, Months: 1})
	res := l.result()

	if res.Status != "expired" || !res.EndedAt.Equal(end) {
		t.Fatalf("result %+v, want expired at %v", res, end)
	}
	l.wantCleanup(t, "expired", "system", end)
	if early.Status != "active" || !early.StartAt.Equal(leaseStart) || !early.EndAt.Equal(end) || early.Notified {
		t.Fatalf("state after a day %+v", early)
	}
	if !afterNotice.Notified {
		t.Fatalf("state after the notice %+v", afterNotice)
	}
	if l.activations != 1 {
		t.Fatalf("activated %d times", l.activations)
	}
	// The notice: once, exactly 7 days before the end, mailed to the owner, batch finished.
	if len(l.notices) != 1 || !l.notices[0].EndAt.Equal(end) || !l.notices[0].At.Equal(end.Add(-week)) {
		t.Fatalf("notices %+v, want one at %v", l.notices, end.Add(-week))
	}
	if l.mails != 1 || len(l.finished) != 1 || l.finished[0].Status != "sent" || l.finished[0].Recipients != 2 {
		t.Fatalf("mails %d, finished %+v", l.mails, l.finished)
	}
	// A new password and the keys went onto the machine when the lease started.
	if len(l.syncs) != 1 || !l.syncs[0].Equal(leaseStart) || len(l.passwords) != 1 || !l.passwords[0].Equal(leaseStart) {
		t.Fatalf("key syncs %v, passwords %v", l.syncs, l.passwords)
	}
}

func TestAllocationNoticeWindow(t *testing.T) {
	cases := []struct {
		name       string
		notice     time.Duration
		months     int
		wantNotice time.Duration // after the start
	}{
		{"default seven days", 0, 2, leaseStart.AddDate(0, 2, 0).Sub(leaseStart) - week},
		{"configured three days", 3 * day, 1, leaseStart.AddDate(0, 1, 0).Sub(leaseStart) - 3*day},
		// a notice window longer than the lease: the owner hears at once
		{"window longer than the lease", 60 * day, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLease(t)
			l.run(AllocationInput{AllocationID: testAllocation, Months: c.months, ExpiringNotice: c.notice})
			res := l.result()
			if res.Status != "expired" {
				t.Fatalf("result %+v", res)
			}
			if len(l.notices) != 1 || !l.notices[0].At.Equal(leaseStart.Add(c.wantNotice)) {
				t.Fatalf("notices %+v, want one at %v", l.notices, leaseStart.Add(c.wantNotice))
			}
		})
	}
}

func TestAllocationRenew(t *testing.T) {
	end1 := leaseStart.AddDate(0, 1, 0) // 2026-02-10
	cases := []struct {
		name        string
		renewals    []time.Duration // when, after the start; each renews by Months[i]
		months      []int
		wantEnd     time.Time
		wantNotices []time.Time // the end each notice was about, in order
	}{
		{"twice before the notice", []time.Duration{3 * day, 10 * day}, []int{2, 1},
			end1.AddDate(0, 3, 0), []time.Time{end1.AddDate(0, 3, 0)}},
		{"after the notice went out", []time.Duration{end1.Sub(leaseStart) - 2*day, end1.Sub(leaseStart) - day}, []int{1, 1},
			end1.AddDate(0, 2, 0), []time.Time{end1, end1.AddDate(0, 2, 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLease(t)
			results := make([]ExtendResult, len(c.renewals))
			outcomes := make([]*updateOutcome, len(c.renewals))
			for i, when := range c.renewals {
				l.at(when, func() {
					outcomes[i] = l.update(AllocationExtendUpdate, &results[i], ExtendRequest{Months: c.months[i], By: "admin"})
				})
			}
			var final AllocationState
			l.at(c.renewals[len(c.renewals)-1]+time.Hour, func() { final = l.state() })
			l.run(AllocationInput{AllocationID: testAllocation, Months: 1})
			res := l.result()

			prev := end1
			total := 1
			for i, o := range outcomes {
				if o == nil || !o.done || o.err != nil || o.rejected != nil {
					t.Fatalf("renewal %d: %+v", i, o)
				}
				prev = prev.AddDate(0, c.months[i], 0)
				total += c.months[i]
				if !results[i].EndAt.Equal(prev) || results[i].Months != total {
					t.Fatalf("renewal %d returned %+v, want end %v, %d months", i, results[i], prev, total)
				}
			}
			if len(l.extends) != 2 || !l.extends[1].NewEnd.Equal(c.wantEnd) || l.extends[0].By != "admin" {
				t.Fatalf("extends %+v", l.extends)
			}
			if final.Extensions != 2 || !final.EndAt.Equal(c.wantEnd) || final.Notified {
				t.Fatalf("state after the renewals %+v", final)
			}
			if res.Status != "expired" || !res.EndedAt.Equal(c.wantEnd) {
				t.Fatalf("result %+v, want expired at %v", res, c.wantEnd)
			}
			if len(l.notices) != len(c.wantNotices) {
				t.Fatalf("notices %+v, want for %v", l.notices, c.wantNotices)
			}
			for i, n := range l.notices {
				if !n.EndAt.Equal(c.wantNotices[i]) || !n.At.Equal(c.wantNotices[i].Add(-week)) {
					t.Fatalf("notice %d %+v, want for %v at %v", i, n, c.wantNotices[i], c.wantNotices[i].Add(-week))
				}
			}
		})
	}
}

func TestAllocationEarlyReclaim(t *testing.T) {
	l := newLease(t)
	var got ReclaimResult
	var o *updateOutcome
	l.at(5*day, func() {
		o = l.update(AllocationReclaimUpdate, &got, ReclaimRequest{Reason: "customer left", By: "alice", Actor: activities.Actor{Name: "alice"}})
	})
	l.run(AllocationInput{AllocationID: testAllocation, Months: 3})
	res := l.result()

	if o == nil || !o.done || o.err != nil || o.rejected != nil {
		t.Fatalf("reclaim: %+v", o)
	}
	when := leaseStart.Add(5 * day)
	if got.Status != "reclaimed" || !got.EndedAt.Equal(when) {
		t.Fatalf("reclaim returned %+v", got)
	}
	if res.Status != "reclaimed" || !res.EndedAt.Equal(when) || len(res.HostSteps) != 0 {
		t.Fatalf("workflow result %+v", res)
	}
	l.wantCleanup(t, "reclaimed", "alice", when)
	if l.ends[0].Reason != "customer left" || l.ends[0].Actor.Name != "alice" {
		t.Fatalf("end %+v", l.ends[0])
	}
	if len(l.notices) != 0 {
		t.Fatalf("notices %+v", l.notices)
	}
}

func TestAllocationUpdatesRejected(t *testing.T) {
	// Through the workflow: bad months, and every update once the end has begun.
	l := newLease(t)
	l.endDelay = time.Hour // the record takes an hour to close, so updates arrive while the lease is ending
	type sent struct {
		name    string
		o       *updateOutcome
		errType string
	}
	var sends []sent
	send := func(when time.Duration, name, update string, arg any, errType string) {
		l.at(when, func() { sends = append(sends, sent{name, l.update(update, nil, arg), errType}) })
	}
	send(day, "zero months", AllocationExtendUpdate, ExtendRequest{Months: 0}, ErrTypeInvalidMonths)
	send(day, "negative months", AllocationExtendUpdate, ExtendRequest{Months: -2}, ErrTypeInvalidMonths)
	send(day, "37 months", AllocationExtendUpdate, ExtendRequest{Months: 37}, ErrTypeInvalidMonths)
	send(2*day, "36 months", AllocationExtendUpdate, ExtendRequest{Months: 36}, "")
	send(3*day, "reclaim", AllocationReclaimUpdate, ReclaimRequest{By: "alice"}, "")
	send(3*day+time.Minute, "extend while ending", AllocationExtendUpdate, ExtendRequest{Months: 1}, ErrTypeLeaseEnding)
	send(3*day+time.Minute, "reclaim while ending", AllocationReclaimUpdate, ReclaimRequest{By: "bob"}, ErrTypeLeaseEnding)
	l.run(AllocationInput{AllocationID: testAllocation, Months: 1})
	if res := l.result(); res.Status != "reclaimed" {
		t.Fatalf("result %+v", res)
	}
	if len(sends) != 7 {
		t.Fatalf("%d updates sent", len(sends))
	}
	for _, s := range sends {
		if s.errType == "" {
			if s.o.rejected != nil || !s.o.done || s.o.err != nil {
				t.Errorf("%s: %+v, want accepted and done", s.name, s.o)
			}
			continue
		}
		var ae *temporal.ApplicationError
		if !errors.As(s.o.rejected, &ae) || ae.Type() != s.errType {
			t.Errorf("%s: rejected with %v, want type %s", s.name, s.o.rejected, s.errType)
		}
	}
	if len(l.ends) != 1 || len(l.extends) != 1 || !l.extends[0].NewEnd.Equal(leaseStart.AddDate(0, 37, 0)) {
		t.Fatalf("ends %+v, extends %+v", l.ends, l.extends)
	}
}

func TestAllocationValidators(t *testing.T) {
	// The validators alone, over every phase of the lease (including after the end,
	// which the test environment cannot reach through an update).
	ended := &AllocationResult{Status: "expired"}
	cases := []struct {
		name    string
		w       allocation
		req     ExtendRequest
		errType string
	}{
		{"active, 1 month", allocation{status: "active"}, ExtendRequest{Months: 1}, ""},
		{"active, 36 months", allocation{status: "active"}, ExtendRequest{Months: 36}, ""},
		{"pending (waits for the activation)", allocation{status: "pending"}, ExtendRequest{Months: 1}, ""},
		{"0 months", allocation{status: "active"}, ExtendRequest{Months: 0}, ErrTypeInvalidMonths},
		{"37 months", allocation{status: "active"}, ExtendRequest{Months: 37}, ErrTypeInvalidMonths},
		{"reclaim asked", allocation{status: "active", reclaim: &ReclaimRequest{}}, ExtendRequest{Months: 1}, ErrTypeLeaseEnding},
		{"ending", allocation{status: "active", closing: true}, ExtendRequest{Months: 1}, ErrTypeLeaseEnding},
		{"ended", allocation{status: "expired", closing: true, result: ended}, ExtendRequest{Months: 1}, ErrTypeLeaseEnded},
		{"end failed", allocation{status: "active", closing: true, endErr: errors.New("x")}, ExtendRequest{Months: 1}, ErrTypeLeaseEnded},
	}
	check := func(t *testing.T, err error, errType string) {
		t.Helper()
		if errType == "" {
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			return
		}
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.Type() != errType {
			t.Fatalf("got %v, want type %s", err, errType)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, c.w.validateExtend(nil, c.req), c.errType)
			if c.errType != ErrTypeInvalidMonths {
				check(t, c.w.validateReclaim(nil, ReclaimRequest{}), c.errType)
			}
		})
	}
}

func TestAllocationKeySync(t *testing.T) {
	// Synced at the start and after each change signal (changes close
	// together are one sync); none once the end has begun.
	l := newLease(t)
	signal := func(d time.Duration) {
		l.at(d, func() { l.env.SignalWorkflow(AllocationKeysChangedSignal, nil) })
	}
	signal(day)
	signal(2 * day)
	signal(2*day + time.Millisecond)
	var got ReclaimResult
	l.at(3*day, func() { l.update(AllocationReclaimUpdate, &got, ReclaimRequest{By: "alice"}) })
	signal(3*day + time.Hour)
	l.run(AllocationInput{AllocationID: testAllocation, Months: 1})
	if res := l.result(); res.Status != "reclaimed" {
		t.Fatalf("result %+v", res)
	}
	if len(l.syncs) < 3 || len(l.syncs) > 4 || !l.syncs[0].Equal(leaseStart) || !l.syncs[1].Equal(leaseStart.Add(day)) {
		t.Fatalf("syncs %v", l.syncs)
	}
	for _, at := range l.syncs {
		if !at.Before(leaseStart.Add(3 * day)) {
			t.Fatalf("synced at %v, after the end began", at)
		}
	}
}

func continuedInput(t *testing.T, err error) AllocationInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	if can.WorkflowType == nil || can.WorkflowType.Name != "Allocation" {
		t.Fatalf("continues as %+v", can.WorkflowType)
	}
	var in AllocationInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestAllocationContinueAsNew(t *testing.T) {
	t.Run("after 20 renewals", func(t *testing.T) {
		l := newLease(t)
		for i := range MaxExtensionsPerRun {
			l.at(time.Duration(i+1)*time.Hour, func() { l.update(AllocationExtendUpdate, nil, ExtendRequest{Months: 1}) })
		}
		l.run(AllocationInput{AllocationID: testAllocation, Months: 1, ExpiringNotice: 3 * day})
		in := continuedInput(t, l.env.GetWorkflowError())
		want := AllocationInput{AllocationID: testAllocation, Months: 1 + MaxExtensionsPerRun, ExpiringNotice: 3 * day,
			StartAt: leaseStart, EndAt: leaseStart.AddDate(0, 1+MaxExtensionsPerRun, 0), Notified: false,
			Extensions: MaxExtensionsPerRun, MachineID: testMachine, TenantID: testTenant}
		if !sameInput(in, want) {
			t.Fatalf("carried %+v\nwant    %+v", in, want)
		}
		if len(l.extends) != MaxExtensionsPerRun || len(l.ends) != 0 {
			t.Fatalf("extends %d, ends %d", len(l.extends), len(l.ends))
		}
	})

	t.Run("suggested by Temporal", func(t *testing.T) {
		l := newLease(t)
		l.env.SetContinueAsNewSuggested(true)
		l.run(AllocationInput{AllocationID: testAllocation, Months: 2})
		in := continuedInput(t, l.env.GetWorkflowError())
		want := AllocationInput{AllocationID: testAllocation, Months: 2, ExpiringNotice: DefaultExpiringNotice,
			StartAt: leaseStart, EndAt: leaseStart.AddDate(0, 2, 0), MachineID: testMachine, TenantID: testTenant}
		if !sameInput(in, want) {
			t.Fatalf("carried %+v\nwant    %+v", in, want)
		}
	})

	// A continued run picks up the carried state: no second activation, the
	// notice only when not yet sent, the end at the carried end.
	end := leaseStart.Add(10 * day)
	cases := []struct {
		name        string
		notified    bool
		wantNotices []time.Time // when
	}{
		{"notice already sent", true, nil},
		{"notice still due", false, []time.Time{end.Add(-week)}},
	}
	for _, c := range cases {
		t.Run("continued run, "+c.name, func(t *testing.T) {
			l := newLease(t)
			var st AllocationState
			l.at(time.Hour, func() { st = l.state() })
			l.run(AllocationInput{AllocationID: testAllocation, Months: 5, StartAt: leaseStart.AddDate(0, -5, 0), EndAt: end,
				Notified: c.notified, Extensions: 4, MachineID: testMachine, TenantID: testTenant})
			res := l.result()
			if res.Status != "expired" || !res.EndedAt.Equal(end) || l.activations != 0 || len(l.passwords) != 0 {
				t.Fatalf("result %+v, activations %d, start passwords %d (a continued run sets none)", res, l.activations, len(l.passwords))
			}
			if st.Status != "active" || st.Extensions != 4 || !st.StartAt.Equal(leaseStart.AddDate(0, -5, 0)) {
				t.Fatalf("state %+v", st)
			}
			if len(l.notices) != len(c.wantNotices) {
				t.Fatalf("notices %+v", l.notices)
			}
			for i, n := range l.notices {
				if !n.At.Equal(c.wantNotices[i]) {
					t.Fatalf("notice %d at %v, want %v", i, n.At, c.wantNotices[i])
				}
			}
		})
	}
}

func sameInput(a, b AllocationInput) bool {
	return a.AllocationID == b.AllocationID && a.Months == b.Months && a.ExpiringNotice == b.ExpiringNotice &&
		a.StartAt.Equal(b.StartAt) && a.EndAt.Equal(b.EndAt) && a.Notified == b.Notified && a.Extensions == b.Extensions &&
		a.MachineID == b.MachineID && a.TenantID == b.TenantID
}

func TestAllocationActivationFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Allocations
	env.RegisterActivity(a)
	env.OnActivity(a.ActivateAllocation, mock.Anything, mock.Anything).After(time.Hour).Return(activities.ActivateAllocationResult{},
		temporal.NewNonRetryableApplicationError("allocation not found", activities.ErrTypeNotFound, nil)).Once()
	// Updates sent while the activation runs get the failure, not silence.
	var reclaimErr, extendErr error
	var reclaimDone, extendDone bool
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(AllocationExtendUpdate, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("extend rejected: %v", err) },
			OnComplete: func(_ any, err error) { extendDone, extendErr = true, err }}, ExtendRequest{Months: 1})
		env.UpdateWorkflow(AllocationReclaimUpdate, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("reclaim rejected: %v", err) },
			OnComplete: func(_ any, err error) { reclaimDone, reclaimErr = true, err }}, ReclaimRequest{By: "alice"})
	}, time.Minute)
	env.ExecuteWorkflow(Allocation, AllocationInput{AllocationID: testAllocation, Months: 1})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "unable to activate the allocation") {
		t.Fatalf("got %v", err)
	}
	if !reclaimDone || reclaimErr == nil || !extendDone || extendErr == nil {
		t.Fatalf("reclaim %v %v, extend %v %v", reclaimDone, reclaimErr, extendDone, extendErr)
	}
	env.AssertExpectations(t)

	env = s.NewTestWorkflowEnvironment()
	env.ExecuteWorkflow(Allocation, AllocationInput{AllocationID: testAllocation, Months: 0})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "months must be at least 1") {
		t.Fatalf("zero months: %v", err)
	}
}

func TestAllocationWorkflowID(t *testing.T) {
	if got := AllocationWorkflowID("1234"); got != "allocation:1234" {
		t.Fatal(got)
	}
}

// TestReplayCorpus replays histories recorded against a real Temporal dev
// server (record_test.go writes them): the current code must make the same
// decisions from the same history, so a change to a running workflow's
// command sequence that forgot workflow.GetVersion fails here.
//   - allocation_reclaim_restart: the first version (host steps inline, no
//     key sync): activated, renewed, reclaimed while no worker ran, finished
//     on a fresh worker.
//   - allocation_expiry: a continued run that syncs the keys, gets a key
//     change signal, sends the expiring notice and mails it, expires, and
//     starts its cleanup.
//   - lease_cleanup_absent_agent: a cleanup whose agent is away at first,
//     whose host refuses the password once (retried after a timer), and
//     that raises the overdue alert; _v0 is the same before the agent's key
//     moved up to second place (versionKeyFirst).
//   - allocation_continue_as_new: a lease renewed 20 times that continues as new.
//   - task_run_restart_stop: a task queued until an admitted signal, whose
//     first attempt fails and restarts after the backoff, and whose second
//     attempt is stopped while it runs (TestRecordTaskRunCorpus).
func TestReplayCorpus(t *testing.T) {
	for _, f := range []string{"allocation_reclaim_restart", "allocation_expiry", "lease_cleanup_absent_agent", "lease_cleanup_absent_agent_v0",
		"allocation_continue_as_new", "task_run_restart_stop"} {
		t.Run(f, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(Allocation)
			r.RegisterWorkflow(LeaseCleanup)
			r.RegisterWorkflow(TaskRun)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/"+f+".json"); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
