package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// leasedMachine is a machine with gpus GPUs actively leased to the tenant.
func leasedMachine(t *testing.T, st *store.Store, tenantID, name string, gpus int) string {
	t.Helper()
	ctx := context.Background()
	m := store.Machine{Name: name, Region: "r", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: gpus, SSHHost: name + ".local", SSHPort: 22,
		SSHUser: "root", SSHPasswordEnc: []byte("x"), Status: "online"}
	if err := st.CreateMachine(ctx, &m, ""); err != nil {
		t.Fatal(err)
	}
	id, err := st.CreateAllocation(ctx, tenantID, m.ID, 1, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ActivateAllocation(ctx, id, time.Now(), time.Now().AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func newTask(t *testing.T, st *store.Store, tenantID, machineID, name string, gpus int) string {
	t.Helper()
	id, err := st.CreateTask(context.Background(), store.TaskSpec{TenantID: tenantID, Name: name, Type: "training", MachineID: machineID,
		GPUCount: gpus, Image: "img", Command: "true", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func admit(t *testing.T, st *store.Store, id string, attempt int) *store.Admission {
	t.Helper()
	a, err := st.AdmitTask(context.Background(), id, attempt)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAdmissionNeverSharesAGPU: many tasks admitted at once on one machine
// never hold the same GPU, and the GPUs go strictly in queue order.
func TestAdmissionNeverSharesAGPU(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "q1")
	machine := leasedMachine(t, st, tenant, "q1-m", 8)
	var ids []string
	for i := range 12 {
		ids = append(ids, newTask(t, st, tenant, machine, fmt.Sprintf("t%02d", i), 2))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.AdmitTask(ctx, id, 1); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var granted []string
	seen := map[int]string{}
	for _, id := range ids {
		task, err := st.GetTask(ctx, store.TaskScope{All: true}, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != store.TaskRunning {
			continue
		}
		granted = append(granted, id)
		for _, g := range task.GPUs {
			if other, dup := seen[g]; dup {
				t.Fatalf("GPU %d granted to %s and %s", g, other, id)
			}
			seen[g] = id
		}
	}
	// FIFO: the first four (by queue order) got the 8 GPUs
	if !slices.Equal(granted, ids[:4]) {
		t.Fatalf("granted %v, want the first four %v", granted, ids[:4])
	}
	// the fifth is first in the queue
	if task, _ := st.GetTask(ctx, store.TaskScope{TenantID: tenant}, ids[4], false); task.QueuePosition == nil || *task.QueuePosition != 1 {
		t.Fatalf("position of the fifth: %v", task.QueuePosition)
	}
}

// TestAdmissionFIFOAndRelease: a task that does not fit holds the ones
// behind it; releasing an attempt admits the head of the queue in the same
// transaction.
func TestAdmissionFIFOAndRelease(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "q2")
	machine := leasedMachine(t, st, tenant, "q2-m", 4)
	a := newTask(t, st, tenant, machine, "a", 3)
	big := newTask(t, st, tenant, machine, "big", 4)
	small := newTask(t, st, tenant, machine, "small", 1)

	if r := admit(t, st, a, 1); !r.Granted || !slices.Equal(r.GPUs, []int{0, 1, 2}) {
		t.Fatalf("a: %+v", r)
	}
	// one GPU is free, but big is ahead of small: neither runs
	if r := admit(t, st, small, 1); r.Granted || r.Ended {
		t.Fatalf("small jumped the queue: %+v", r)
	}
	if r := admit(t, st, big, 1); r.Granted {
		t.Fatalf("big: %+v", r)
	}
	// a repeated admit of a granted attempt answers the same
	if r := admit(t, st, a, 1); !r.Granted || !slices.Equal(r.GPUs, []int{0, 1, 2}) {
		t.Fatalf("a again: %+v", r)
	}
	// a ends: big gets all four, small still waits
	code := 0
	end, err := st.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: a, Attempt: 1, Status: store.TaskSucceeded, Reason: "tasks.reason.completed", ExitCode: &code})
	if err != nil {
		t.Fatal(err)
	}
	if !end.Final || end.Status != store.TaskSucceeded || !slices.Equal(end.Admitted, []string{big}) {
		t.Fatalf("end of a: %+v", end)
	}
	if r := admit(t, st, big, 1); !r.Granted || !slices.Equal(r.GPUs, []int{0, 1, 2, 3}) {
		t.Fatalf("big after a: %+v", r)
	}
	// finishing twice changes nothing
	if again, err := st.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: a, Attempt: 1, Status: store.TaskFailed}); err != nil || again.Status != store.TaskSucceeded {
		t.Fatalf("finish again: %+v %v", again, err)
	}
	// big fails and restarts after a backoff: small goes first meanwhile
	end, err = st.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: big, Attempt: 1, Status: store.TaskFailed, Reason: "tasks.reason.exitCode",
		Next: true, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if end.Final || end.Status != store.TaskQueued || !slices.Equal(end.Admitted, []string{small}) {
		t.Fatalf("end of big's first attempt: %+v", end)
	}
	// big's own timer fired: it is admitted behind nobody once GPUs are free
	if r := admit(t, st, big, 2); r.Granted {
		t.Fatalf("big's second attempt took GPUs small holds: %+v", r)
	}
	if _, err := st.FinishTaskAttempt(ctx, store.AttemptEnd{TaskID: small, Attempt: 1, Status: store.TaskStopped, Reason: "tasks.reason.stoppedByUser"}); err != nil {
		t.Fatal(err)
	}
	if r := admit(t, st, big, 2); !r.Granted || len(r.GPUs) != 4 {
		t.Fatalf("big's second attempt: %+v", r)
	}
	attempts, err := st.TaskAttempts(ctx, big)
	if err != nil || len(attempts) != 2 || attempts[0].Attempt != 2 || attempts[1].Reason != "tasks.reason.exitCode" {
		t.Fatalf("attempts %+v %v", attempts, err)
	}
}

// TestAdmissionAfterLeaseEnd: the end of the lease stops the tenant's live
// tasks on the machine and frees their GPUs; a late admit finds them ended.
func TestAdmissionAfterLeaseEnd(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "q3")
	machine := leasedMachine(t, st, tenant, "q3-m", 2)
	running := newTask(t, st, tenant, machine, "running", 2)
	queued := newTask(t, st, tenant, machine, "queued", 1)
	admit(t, st, running, 1)
	m, err := st.GetMachine(ctx, machine, 0)
	if err != nil {
		t.Fatal(err)
	}
	end, err := st.EndAllocationWith(ctx, store.EndAllocationOptions{ID: m.Allocation.ID, Status: "reclaimed", Reason: "r", ByName: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(end.StoppedTasks)
	want := []string{running, queued}
	slices.Sort(want)
	if !slices.Equal(end.StoppedTasks, want) {
		t.Fatalf("stopped %v, want %v", end.StoppedTasks, want)
	}
	for _, id := range want {
		task, err := st.GetTask(ctx, store.TaskScope{TenantID: tenant}, id, false)
		if err != nil || task.Status != store.TaskStopped || task.StatusReason != "tasks.reason.leaseEnded" {
			t.Fatalf("task %s: %+v %v", id, task, err)
		}
	}
	if r := admit(t, st, queued, 1); !r.Ended || r.Status != store.TaskStopped {
		t.Fatalf("admit after the lease: %+v", r)
	}
	var grants int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM task_gpu_grants`).Scan(&grants); err != nil || grants != 0 {
		t.Fatalf("grants left: %d %v", grants, err)
	}
	// another tenant cannot see them
	other := newTenant(t, st, "q3-other")
	if _, err := st.GetTask(ctx, store.TaskScope{TenantID: other}, running, false); err != store.ErrNotFound {
		t.Fatalf("another tenant's read: %v", err)
	}
}
