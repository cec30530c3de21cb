package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// TestAdmissionSkipsAFaultyGPU: a GPU with a fault in the last 24 h is
// granted to no task, nor counted free, until an admin clears it; an older
// fault sets nothing aside.
func TestAdmissionSkipsAFaultyGPU(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "gf")
	machine := leasedMachine(t, st, tenant, "gf-m", 2)
	now := time.Now()
	if err := st.RecordGPUFaults(ctx, machine, []store.GPUFaultRecord{{GPUIndex: 0, At: now.Add(-time.Minute), XID: 79},
		{GPUIndex: 0, At: now.Add(-time.Minute), XID: 79}, // reported twice, stored once
		{GPUIndex: 1, At: now.Add(-25 * time.Hour), ECC: 2}}); err != nil {
		t.Fatal(err)
	}
	faulty, err := st.FaultyGPUs(ctx, machine)
	if err != nil || len(faulty) != 1 || faulty[0].GPUIndex != 0 || faulty[0].XID != 79 || faulty[0].Faults != 1 {
		t.Fatalf("faulty %+v %v", faulty, err)
	}
	free := func() int {
		t.Helper()
		avail, err := st.AvailableMachines(ctx, tenant)
		if err != nil || len(avail) != 1 {
			t.Fatalf("available %+v %v", avail, err)
		}
		return avail[0].FreeGPUs
	}
	if n := free(); n != 1 {
		t.Fatalf("%d free GPUs, want 1 (GPU 0 is set aside)", n)
	}

	one := newTask(t, st, tenant, machine, "one", 1)
	two := newTask(t, st, tenant, machine, "two", 1)
	if r := admit(t, st, one, 1); !r.Granted || !slices.Equal(r.GPUs, []int{1}) {
		t.Fatalf("one: %+v", r)
	}
	if r := admit(t, st, two, 1); r.Granted || r.Ended {
		t.Fatalf("two got the faulty GPU: %+v", r)
	}
	if n := free(); n != 0 {
		t.Fatalf("%d free GPUs, want 0", n)
	}

	cleared, queued, err := st.ClearGPUFaults(ctx, machine, 0, "")
	if err != nil || cleared != 1 || !slices.Equal(queued, []string{two}) {
		t.Fatalf("clear: %d %v %v", cleared, queued, err)
	}
	if faulty, err := st.FaultyGPUs(ctx, machine); err != nil || len(faulty) != 0 {
		t.Fatalf("faulty after the clear %+v %v", faulty, err)
	}
	if r := admit(t, st, two, 1); !r.Granted || !slices.Equal(r.GPUs, []int{0}) {
		t.Fatalf("two after the clear: %+v", r)
	}
	// a new fault after the clear sets it aside again
	if err := st.RecordGPUFaults(ctx, machine, []store.GPUFaultRecord{{GPUIndex: 0, At: time.Now(), ECC: 1}}); err != nil {
		t.Fatal(err)
	}
	if faulty, err := st.FaultyGPUs(ctx, machine); err != nil || len(faulty) != 1 || faulty[0].ECC != 1 {
		t.Fatalf("faulty after a new fault %+v %v", faulty, err)
	}
	// the agent's clock is the customer's: a fault dated next year counts from now
	if err := st.RecordGPUFaults(ctx, machine, []store.GPUFaultRecord{{GPUIndex: 1, At: time.Now().AddDate(1, 0, 0), XID: 48}}); err != nil {
		t.Fatal(err)
	}
	faulty, err = st.FaultyGPUs(ctx, machine)
	if err != nil || len(faulty) != 2 || faulty[1].GPUIndex != 1 || faulty[1].At.After(time.Now()) {
		t.Fatalf("a fault from the future: %+v %v", faulty, err)
	}
}
