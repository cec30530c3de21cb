package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

// TestAllocationLifecycle runs leases through the real Temporal dev server:
// allocate → the customer sees the machine → renew → reclaim → it is gone
// from the customer's view, with its password.
func TestAllocationLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	m1 := addMachine(t, admin, "lease-01", "北京", "H100").Machine
	m2 := addMachine(t, admin, "lease-02", "北京", "H100").Machine
	m3 := addMachine(t, admin, "lease-03", "上海", "H100").Machine

	// refusals: maintenance, offline, disabled customer, bad months
	admin.must(200, "POST", "/api/admin/machines/"+m3.ID+"/maintenance", map[string]any{"reason": "fan"})
	r := admin.must(409, "POST", "/api/admin/allocations", map[string]any{"tenantId": e.fx.tenantA.ID, "machineIds": []string{m1.ID, m3.ID}, "months": 3})
	if !strings.Contains(r.Message, "maintenance") || reasonOf(t, r) != "lease.machineInMaintenance" {
		t.Fatalf("maintenance refusal %q", r.Message)
	}
	admin.must(200, "POST", "/api/admin/machines/"+m3.ID+"/maintenance/end", nil)
	admin.must(200, "PUT", "/api/admin/machines/"+m3.ID, map[string]any{"name": "lease-03", "region": "上海", "gpuModel": "H100", "gpuMemoryGb": 24, "gpuCount": 8, "status": "offline"})
	r = admin.must(409, "POST", "/api/admin/machines/"+m3.ID+"/allocate", map[string]any{"tenantId": e.fx.tenantA.ID, "months": 1})
	if !strings.Contains(r.Message, "offline") || reasonOf(t, r) != "lease.machineOffline" {
		t.Fatalf("offline refusal %q", r.Message)
	}
	admin.must(200, "POST", "/api/admin/customers/"+e.fx.tenantB.ID+"/disable", nil)
	if r := admin.must(409, "POST", "/api/admin/machines/"+m1.ID+"/allocate", map[string]any{"tenantId": e.fx.tenantB.ID, "months": 1}); reasonOf(t, r) != "lease.customerInactive" {
		t.Fatalf("disabled customer refusal %s", r.Data)
	}
	admin.must(200, "POST", "/api/admin/customers/"+e.fx.tenantB.ID+"/enable", nil)
	admin.must(400, "POST", "/api/admin/allocations", map[string]any{"tenantId": e.fx.tenantA.ID, "machineIds": []string{m1.ID}, "months": 0})
	// nothing was recorded by the refused requests
	var n int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM allocations`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d allocations after refusals", n)
	}

	var created []store.Allocation
	admin.must(201, "POST", "/api/admin/allocations", map[string]any{"tenantId": e.fx.tenantA.ID, "machineIds": []string{m1.ID, m2.ID}, "months": 3, "remark": "训练集群"}).decode(t, &created)
	if len(created) != 2 {
		t.Fatalf("created %+v", created)
	}
	// a machine is never in two live allocations
	admin.must(409, "POST", "/api/admin/machines/"+m1.ID+"/allocate", map[string]any{"tenantId": e.fx.tenantB.ID, "months": 1})

	var a store.Allocation
	waitFor(t, "allocation active", func() bool {
		admin.must(200, "GET", "/api/admin/allocations/"+created[0].ID, nil).decode(t, &a)
		return a.Status == "active"
	})
	if a.StartAt == nil || a.EndAt == nil || a.EndAt.Sub(*a.StartAt) < 89*24*time.Hour {
		t.Fatalf("active allocation %+v", a)
	}
	waitFor(t, "second allocation active", func() bool {
		var b store.Allocation
		admin.must(200, "GET", "/api/admin/allocations/"+created[1].ID, nil).decode(t, &b)
		return b.Status == "active"
	})

	owner := e.login("owner-a")
	var mine struct {
		List  []api.CustomerMachine `json:"list"`
		Total int                   `json:"total"`
	}
	owner.must(200, "GET", "/api/customer/machines", nil).decode(t, &mine)
	if mine.Total != 2 || mine.List[0].SSH.Password != store.MaskedPassword || mine.List[0].SSH.Command == "" {
		t.Fatalf("customer machines %+v", mine)
	}
	var pw api.RevealedPassword
	owner.must(200, "POST", "/api/customer/machines/"+m1.ID+"/reveal-password", nil).decode(t, &pw)
	owner.must(200, "POST", "/api/customer/machines/"+m1.ID+"/connection-events", map[string]any{"kind": "copy_command"})
	var hist struct {
		List []store.AuditLog `json:"list"`
	}
	owner.must(200, "GET", "/api/customer/machines/connection-history", nil).decode(t, &hist)
	if len(hist.List) != 2 {
		t.Fatalf("connection history %+v", hist.List)
	}
	e.login("owner-b").must(404, "GET", "/api/customer/machines/"+m1.ID, nil)
	var st api.CustomerDashboardStats
	owner.must(200, "GET", "/api/customer/dashboard/stats", nil).decode(t, &st)
	if st.Machines != 2 || st.GPUs != 16 {
		t.Fatalf("customer stats %+v", st)
	}

	// renew twice; a retried request with the same Idempotency-Key renews once
	end0 := *a.EndAt
	key := map[string]string{"Idempotency-Key": "renew-2-months"}
	admin.mustWith(200, "POST", "/api/admin/allocations/"+a.ID+"/extend", map[string]any{"months": 2}, key).decode(t, &a)
	admin.mustWith(200, "POST", "/api/admin/allocations/"+a.ID+"/extend", map[string]any{"months": 2}, key).decode(t, &a)
	if a.Months != 5 || a.Extensions != 1 {
		t.Fatalf("a retried renewal renewed again: %+v", a)
	}
	admin.must(200, "POST", "/api/admin/allocations/"+a.ID+"/extend", map[string]any{"months": 1}).decode(t, &a)
	if a.Months != 6 || a.Extensions != 2 || !a.EndAt.Equal(end0.AddDate(0, 3, 0)) {
		t.Fatalf("after renewals %+v (end0 %s)", a, end0)
	}
	admin.must(400, "POST", "/api/admin/allocations/"+a.ID+"/extend", map[string]any{"months": 99})

	// early reclaim through the machine action: accepted at once (202); the
	// lease ends when decided, and with no agent on the host the machine
	// waits in maintenance for its cleanup, its password unchanged
	var m2before api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m2.ID+"/reveal-password", nil).decode(t, &m2before)
	var rec store.Allocation
	admin.must(202, "POST", "/api/admin/machines/"+m2.ID+"/reclaim", map[string]any{"reason": "客户要求"}).decode(t, &rec)
	waitFor(t, "the lease reclaimed", func() bool {
		admin.must(200, "GET", "/api/admin/allocations/"+rec.ID, nil).decode(t, &rec)
		return rec.Status == "reclaimed"
	})
	if rec.EndReason != "客户要求" || rec.CleanupStatus != "running" || len(rec.HostSteps) != 4 || rec.HostSteps[0].Confirmed ||
		rec.HostSteps[0].State != "pending" {
		t.Fatalf("reclaimed %+v", rec)
	}
	// a retried reclaim is the same reclaim; the lease is over for both
	admin.must(409, "POST", "/api/admin/allocations/"+rec.ID+"/reclaim", nil)
	admin.must(409, "POST", "/api/admin/allocations/"+rec.ID+"/extend", map[string]any{"months": 1})

	// the customer no longer sees the machine or its password
	owner.must(200, "GET", "/api/customer/machines", nil).decode(t, &mine)
	if mine.Total != 1 || mine.List[0].ID != m1.ID {
		t.Fatalf("after reclaim %+v", mine)
	}
	owner.must(404, "GET", "/api/customer/machines/"+m2.ID, nil)
	owner.must(404, "POST", "/api/customer/machines/"+m2.ID+"/reveal-password", nil)
	var m2pw api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m2.ID+"/reveal-password", nil).decode(t, &m2pw)
	if m2pw.Password != m2before.Password {
		t.Fatal("the recorded password changed although no host applied a new one")
	}
	var machine store.Machine
	admin.must(200, "GET", "/api/admin/machines/"+m2.ID, nil).decode(t, &machine)
	if machine.AllocationStatus != "unallocated" || machine.Status != "maintenance" || machine.Cleanup == nil || machine.Cleanup.AllocationID != rec.ID {
		t.Fatalf("machine after reclaim %+v", machine)
	}
	r = admin.must(409, "POST", "/api/admin/machines/"+m2.ID+"/allocate", map[string]any{"tenantId": e.fx.tenantB.ID, "months": 1})
	if !strings.Contains(r.Message, "cleaned") || reasonOf(t, r) != "lease.machineBeingCleaned" {
		t.Fatalf("allocating a machine awaiting its cleanup: %q", r.Message)
	}
	admin.must(409, "POST", "/api/admin/machines/"+m2.ID+"/maintenance/end", nil)
	admin.must(409, "DELETE", "/api/admin/machines/"+m2.ID, nil)

	// lists and tabs
	var page struct {
		List  []store.Allocation `json:"list"`
		Total int                `json:"total"`
	}
	admin.must(200, "GET", "/api/admin/allocations?tab=current", nil).decode(t, &page)
	if page.Total != 1 {
		t.Fatalf("current %+v", page)
	}
	admin.must(200, "GET", "/api/admin/allocations?tab=history&tenantId="+e.fx.tenantA.ID, nil).decode(t, &page)
	if page.Total != 1 || page.List[0].ID != rec.ID {
		t.Fatalf("history %+v", page)
	}
	var recent []store.Allocation
	admin.must(200, "GET", "/api/admin/allocations/recent", nil).decode(t, &recent)
	if len(recent) != 2 || recent[0].CreatedAt.Before(recent[1].CreatedAt) {
		t.Fatalf("recent %+v", recent)
	}
	var stats store.FleetStats
	admin.must(200, "GET", "/api/admin/dashboard/stats", nil).decode(t, &stats)
	if stats.Machines != 3 || stats.Allocated != 1 || stats.ActiveCustomers != 1 || stats.GPUs != 24 {
		t.Fatalf("fleet stats %+v", stats)
	}
	// a customer that holds machines cannot be deleted; a machine that is allocated neither
	admin.must(409, "DELETE", "/api/admin/customers/"+e.fx.tenantA.ID, nil)
	admin.must(409, "DELETE", "/api/admin/machines/"+m1.ID, nil)

	// every step is in the audit log
	var actions []string
	rows, _ := e.st.Pool.Query(context.Background(), `SELECT DISTINCT action FROM audit_logs WHERE action LIKE 'allocation.%' ORDER BY 1`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		actions = append(actions, s)
	}
	if got := strings.Join(actions, ","); got != "allocation.create,allocation.extend,allocation.reclaim,allocation.reclaim_done" {
		t.Fatalf("audit actions %s", got)
	}
}

// reasonOf is the data.reason of an error answer.
func reasonOf(t *testing.T, r *reply) string {
	t.Helper()
	var d api.ErrorData
	r.decode(t, &d)
	return d.Reason
}
