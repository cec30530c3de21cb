package lease_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/lease"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/schema"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// fakeTemporal answers workflow starts: every start fails while down.
type fakeTemporal struct {
	client.Client
	down    bool
	started []string
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	if f.down {
		return nil, errors.New("connection refused")
	}
	f.started = append(f.started, o.ID)
	return nil, nil
}

type fixture struct {
	svc    *lease.Service
	st     *store.Store
	tc     *fakeTemporal
	ctx    context.Context
	tenant *store.Tenant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, _ := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Fleet: config.Fleet{Regions: fleet.DefaultCatalog.Regions, GPUModels: fleet.DefaultCatalog.GPUModels,
		ExpiringNotice: 7 * 24 * time.Hour, SSHBaseDomain: "gpu.test"}, TemporalTaskQueue: "test"}
	tc := &fakeTemporal{}
	ctx := context.Background()
	admin := &store.User{Username: "admin1", Name: "admin1", Email: "admin1@example.test", Role: "admin", AuthSource: "local"}
	if err := st.CreateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	ctx = caller.WithPrincipal(ctx, &caller.Principal{UserID: admin.ID, Username: admin.Username, Role: "admin"})
	tenant := &store.Tenant{Name: "A", Company: "Company A", Code: "a", Email: "a@example.test", Status: "active"}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: lease.New(st, tc, box, nil, cfg, nil), st: st, tc: tc, ctx: ctx, tenant: tenant}
}

func (f *fixture) machine(t *testing.T, name string) *store.Machine {
	t.Helper()
	c, err := f.svc.CreateMachine(f.ctx, lease.CreateMachineInput{Spec: fleet.Spec{Name: name, Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8}})
	if err != nil {
		t.Fatal(err)
	}
	return &c.Machine
}

func (f *fixture) audits(t *testing.T, action string) int {
	t.Helper()
	var n int
	if err := f.st.Pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_logs WHERE action = $1`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantCode fails unless err is a domain error of that kind and code.
func wantCode(t *testing.T, err error, kind apperr.Kind, code string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Code != code {
		t.Fatalf("error %v (%+v), want kind %d code %s", err, e, kind, code)
	}
	return e
}

func TestLeaseAllocateRules(t *testing.T) {
	f := newFixture(t)
	m1, m2 := f.machine(t, "alloc-01"), f.machine(t, "alloc-02")

	if _, err := f.svc.StartMaintenance(f.ctx, lease.StartMaintenanceInput{MachineID: m2.ID, Reason: "fan"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: f.tenant.ID, MachineIDs: []string{m1.ID, m2.ID}, Months: 3})
	e := wantCode(t, err, apperr.Conflict, "lease.machineInMaintenance")
	if e.Params["machine"] != "alloc-02" || e.Message != "machine alloc-02 is in maintenance and cannot be allocated" {
		t.Fatalf("refusal %+v", e)
	}
	if _, err := f.svc.EndMaintenance(f.ctx, m2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.EndMaintenance(f.ctx, m2.ID)
	wantCode(t, err, apperr.Conflict, "machines.notInMaintenance")

	// the workflow service is down: nothing stays allocated
	f.tc.down = true
	_, err = f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: f.tenant.ID, MachineIDs: []string{m1.ID}, Months: 3})
	if e := wantCode(t, err, apperr.Unavailable, "lease.notAllocatedWorkflowDown"); e.Params["machines"] != "alloc-01" {
		t.Fatalf("params %+v", e.Params)
	}
	if m, _ := f.svc.GetMachine(f.ctx, m1.ID); m.Allocation != nil {
		t.Fatalf("machine still allocated: %+v", m.Allocation)
	}
	closed, _, err := f.st.ListAllocations(f.ctx, store.AllocationFilter{MachineID: m1.ID}, store.Page{PageSize: 10}, time.Hour)
	if err != nil || len(closed) != 1 || closed[0].EndReason != store.ReasonWorkflowNotStarted || closed[0].EndReasonCode != "lease.workflowNotStarted" {
		t.Fatalf("the lease closed again: %+v %v", closed, err)
	}
	f.tc.down = false

	// every machine is read, and one that does not exist refuses them all
	for _, ids := range [][]string{{m1.ID, "00000000-0000-0000-0000-000000000000"}, {"not-a-uuid", m1.ID}} {
		_, err = f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: f.tenant.ID, MachineIDs: ids, Months: 3})
		wantCode(t, err, apperr.NotFound, "machines.notFound")
	}

	list, err := f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: f.tenant.ID, MachineIDs: []string{m1.ID, m2.ID}, Months: 3, Remark: " r "})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Remark != "r" || list[0].MachineID != m1.ID || list[1].MachineID != m2.ID ||
		len(f.tc.started) != 2 || f.audits(t, "allocation.create") != 3 {
		t.Fatalf("allocated %+v, started %v, audits %d", list, f.tc.started, f.audits(t, "allocation.create"))
	}
	_, err = f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: f.tenant.ID, MachineIDs: []string{m1.ID}, Months: 1})
	if e := wantCode(t, err, apperr.Conflict, "lease.machineAllocated"); e.Params["customer"] != "Company A" {
		t.Fatalf("params %+v", e.Params)
	}
	err = f.svc.DeleteMachine(f.ctx, m1.ID)
	wantCode(t, err, apperr.Conflict, "machines.deleteAllocated")

	_, err = f.svc.Allocate(f.ctx, lease.AllocateInput{TenantID: "00000000-0000-0000-0000-000000000000", MachineIDs: []string{m1.ID}, Months: 1})
	wantCode(t, err, apperr.NotFound, "lease.customerNotFound")
	_, err = f.svc.Reclaim(f.ctx, lease.ReclaimInput{MachineID: f.machine(t, "alloc-03").ID})
	wantCode(t, err, apperr.Conflict, "lease.machineNotAllocated")
}

func TestMachineRules(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.CreateMachine(f.ctx, lease.CreateMachineInput{Spec: fleet.Spec{Name: "bad name", Region: "火星", GPUCount: 100}})
	e := wantCode(t, err, apperr.Invalid, apperr.CodeValidation)
	codes := map[string]string{}
	for _, fe := range e.Fields {
		codes[fe.Location] = fe.Code
	}
	if codes["body.name"] != "machines.field.name" || codes["body.region"] != "machines.field.region" || codes["body.gpuCount"] != "machines.field.gpuCount" {
		t.Fatalf("field errors %+v", e.Fields)
	}
	m := f.machine(t, "m-01")
	if f.audits(t, "machine.create") != 1 {
		t.Fatal("the creation was not audited")
	}
	_, err = f.svc.CreateMachine(f.ctx, lease.CreateMachineInput{Spec: fleet.Spec{Name: "M-01", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8}})
	if e := wantCode(t, err, apperr.Conflict, "machines.nameTaken"); len(e.Fields) != 1 || e.Fields[0].Location != "body.name" {
		t.Fatalf("fields %+v", e.Fields)
	}

	_, err = f.svc.StartMaintenance(f.ctx, lease.StartMaintenanceInput{MachineID: m.ID, Reason: "x", Until: new(time.Now().Add(-time.Hour))})
	wantCode(t, err, apperr.Invalid, "machines.maintenanceUntilPast")
	if _, err := f.svc.StartMaintenance(f.ctx, lease.StartMaintenanceInput{MachineID: m.ID, Reason: "fan"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.StartMaintenance(f.ctx, lease.StartMaintenanceInput{MachineID: m.ID, Reason: "again"})
	wantCode(t, err, apperr.Conflict, "machines.alreadyInMaintenance")
	_, err = f.svc.UpdateMachine(f.ctx, lease.UpdateMachineInput{ID: m.ID, Status: "online",
		Spec: fleet.Spec{Name: "m-01", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8}})
	wantCode(t, err, apperr.Conflict, "machines.inMaintenance")

	// an audited action fails when its record cannot be written
	if _, err := f.st.Pool.Exec(f.ctx, `ALTER TABLE audit_logs ADD CONSTRAINT no_more CHECK (action <> 'machine.delete')`); err != nil {
		t.Fatal(err)
	}
	other := f.machine(t, "m-02")
	if err := f.svc.DeleteMachine(f.ctx, other.ID); err == nil {
		t.Fatal("deleted without its audit record")
	}
	if _, err := f.svc.GetMachine(f.ctx, other.ID); err != nil {
		t.Fatalf("the machine is gone without its audit record: %v", err)
	}
	_, err = f.svc.GetMachine(f.ctx, "00000000-0000-0000-0000-000000000000")
	wantCode(t, err, apperr.NotFound, "machines.notFound")
}

// TestLeaseHostStepsOfOlderRows: migration 010 gives the steps recorded as
// "中文 / English" prose their code, or their English half.
func TestLeaseHostStepsOfOlderRows(t *testing.T) {
	f := newFixture(t)
	m := f.machine(t, "old-01")
	id, err := f.st.CreateAllocation(f.ctx, f.tenant.ID, m.ID, 1, "", caller.From(f.ctx).UserID, "admin1")
	if err != nil {
		t.Fatal(err)
	}
	old := `[{"step": "stop_tenant", "state": "confirmed", "confirmed": true, "detail": "已停止 2 个容器、5 个进程 / stopped 2 containers and 5 processes", "at": "2026-03-01T08:00:00Z"},
		{"step": "rotate_agent_key", "state": "pending", "detail": "等待主机代理确认 / waiting for the host agent to confirm", "at": "2026-03-01T08:00:00Z"},
		{"step": "remove_ssh_keys", "state": "failed", "detail": "主机执行失败，稍后重试：a / b / the host failed (tried again): a / b", "at": "2026-03-01T08:00:00Z"},
		{"step": "rotate_password", "state": "skipped", "detail": "机器已重装 / the machine was reinstalled", "at": "2026-03-01T08:00:00Z"}]`
	if _, err := f.st.Pool.Exec(f.ctx, `UPDATE allocations SET host_steps = $2 WHERE id = $1`, id, old); err != nil {
		t.Fatal(err)
	}
	up, err := fs.ReadFile(schema.Migrations, "010_host_step_codes.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Pool.Exec(f.ctx, string(up)); err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.GetAllocation(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ code, detail string }{{"", "stopped 2 containers and 5 processes"}, {"lease.step.pending", "waiting for the host agent to confirm"},
		{"", "the host failed (tried again): a / b"}, {"lease.step.reinstalled", "the machine was reinstalled"}}
	for i, w := range want {
		if s := a.HostSteps[i]; s.Code != w.code || s.Detail != w.detail {
			t.Errorf("step %d: %+v, want %+v", i, s, w)
		}
	}
}
