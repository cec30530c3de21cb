package api_test

import (
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
)

// A GPU that faulted is set aside: the machine's free count leaves it out
// and the admin sees it, until an admin (only) clears it, audited.
func TestGPUFaultSetAsideAndCleared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ag := addAgent(t, e, admin, "faulty-host", "北京")
	lease(t, e, e.fx.tenantA.ID, ag.machineID)
	ag.post(t, round(time.Now().UTC(), 8, 10))
	fault := round(time.Now().UTC(), 8, 20)
	fault.GPUs[3].XIDs = []int{79} // fallen off the bus
	ag.post(t, fault)

	path := "/api/admin/machines/" + ag.machineID
	var faulty []api.FaultyGPU
	waitFor(t, "the fault recorded", func() bool {
		admin.must(200, "GET", path+"/gpu-faults", nil).decode(t, &faulty)
		return len(faulty) == 1
	})
	if faulty[0].GPUIndex != 3 || faulty[0].XID != 79 {
		t.Fatalf("faulty %+v", faulty)
	}
	var avail []api.AvailableMachine
	owner.must(200, "GET", "/api/customer/machines/available", nil).decode(t, &avail)
	if len(avail) != 1 || avail[0].FreeGPUs != 7 {
		t.Fatalf("available %+v", avail)
	}

	owner.must(403, "POST", path+"/gpus/3/clear-fault", nil)
	owner.must(403, "GET", path+"/gpu-faults", nil)
	admin.must(404, "POST", path+"/gpus/8/clear-fault", nil)
	var out api.GPUFaultCleared
	admin.must(200, "POST", path+"/gpus/3/clear-fault", nil).decode(t, &out)
	if out.Cleared != 1 || len(out.FaultyGPUs) != 0 {
		t.Fatalf("cleared %+v", out)
	}
	if n := auditCount(t, e, "machine.gpu_fault_clear", true); n != 1 {
		t.Fatalf("%d clears audited", n)
	}
	owner.must(200, "GET", "/api/customer/machines/available", nil).decode(t, &avail)
	if avail[0].FreeGPUs != 8 {
		t.Fatalf("available after the clear %+v", avail)
	}
}
