package activities

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

type allocFixture struct {
	a         *Allocations
	st        *store.Store
	box       *secrets.Box
	tenantID  string
	machineID string
	allocID   string
	owner     store.User
}

// newAllocFixture makes a customer (an owner with mail, a disabled owner, a
// member), a machine and a pending allocation of it, in a database of its own.
func newAllocFixture(t *testing.T) *allocFixture {
	t.Helper()
	st, _ := storetest.New(t)
	ctx := context.Background()
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &allocFixture{a: &Allocations{Store: st, Secrets: box}, st: st, box: box}
	ten := &store.Tenant{Name: "Li Lei", Company: "Acme", Code: "acme", Status: "active"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	f.tenantID = ten.ID
	users := []*store.User{
		{TenantID: &ten.ID, Username: "owner", Email: "owner@acme.test", Name: "Owner", Role: "owner", AuthSource: "local"},
		{TenantID: &ten.ID, Username: "gone", Email: "gone@acme.test", Name: "Gone", Role: "owner", AuthSource: "local", Status: "disabled"},
		{TenantID: &ten.ID, Username: "member", Email: "member@acme.test", Name: "Member", Role: "member", AuthSource: "local"},
	}
	for _, u := range users {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.owner = *users[0]
	enc, err := box.Seal("old-password")
	if err != nil {
		t.Fatal(err)
	}
	m := &store.Machine{Name: "gpu-01", Region: "bj", GPUModel: "A100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "gpu-01.bj.ssh.test",
		SSHPort: 22, SSHUser: "ubuntu", SSHPasswordEnc: enc}
	if err := st.CreateMachine(ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	f.machineID = m.ID
	if f.allocID, err = st.CreateAllocation(ctx, ten.ID, m.ID, 1, "", "", "admin"); err != nil {
		t.Fatal(err)
	}
	return f
}

func wantNonRetryable(t *testing.T, err error, errType string) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != errType {
		t.Fatalf("got %v, want a non-retryable %s", err, errType)
	}
}

func TestAllocationActivitiesLifecycle(t *testing.T) {
	f := newAllocFixture(t)
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Second)
	end := start.AddDate(0, 1, 0)

	// Activate, twice: the second call returns what the first stored.
	act, err := f.a.ActivateAllocation(ctx, ActivateAllocationInput{AllocationID: f.allocID, StartAt: start, EndAt: end})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.a.ActivateAllocation(ctx, ActivateAllocationInput{AllocationID: f.allocID, StartAt: start.Add(time.Hour), EndAt: end.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !act.StartAt.Equal(start) || !act.EndAt.Equal(end) || act.MachineID != f.machineID || act.TenantID != f.tenantID || again != act {
		t.Fatalf("activate %+v, again %+v", act, again)
	}
	al, err := f.st.GetAllocation(ctx, f.allocID, 0)
	if err != nil || al.Status != "active" {
		t.Fatalf("allocation %+v %v", al, err)
	}
	if _, err := f.a.ActivateAllocation(ctx, ActivateAllocationInput{AllocationID: "00000000-0000-0000-0000-000000000000", StartAt: start, EndAt: end}); err == nil {
		t.Fatal("activated a missing allocation")
	} else {
		wantNonRetryable(t, err, ErrTypeNotFound)
	}

	// The notice: owners only (the active one), once per end, allocation marked.
	n, err := f.a.NotifyAllocationExpiring(ctx, NotifyExpiringInput{AllocationID: f.allocID, EndAt: end})
	if err != nil {
		t.Fatal(err)
	}
	if n.Skipped || n.Owners != 1 || len(n.Recipients) != 1 || n.Recipients[0].Email != "owner@acme.test" || n.BatchID != ExpiringNoticeBatchID(f.allocID, end) {
		t.Fatalf("notice %+v", n)
	}
	if _, err := f.a.NotifyAllocationExpiring(ctx, NotifyExpiringInput{AllocationID: f.allocID, EndAt: end}); err != nil {
		t.Fatal(err)
	}
	var copies, batches int
	var title, content, status string
	if err := f.st.Pool.QueryRow(ctx, `SELECT count(*), min(title), min(content) FROM notifications WHERE tenant_id = $1`, f.tenantID).
		Scan(&copies, &title, &content); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Pool.QueryRow(ctx, `SELECT count(*), min(status) FROM notification_batches WHERE tenant_id = $1`, f.tenantID).
		Scan(&batches, &status); err != nil {
		t.Fatal(err)
	}
	// The stored text is the English one (for old clients); the code and
	// params are what the console translates.
	wantTitle := "Machine lease ending soon: gpu-01"
	wantContent := "Your lease of machine gpu-01 (8 × A100) ends on " + end.UTC().Format("2006-01-02 15:04 UTC") + "."
	if copies != 1 || batches != 1 || status != "sending" || title != wantTitle || !strings.HasPrefix(content, wantContent) {
		t.Fatalf("%d copies, %d batches (%s): %q %q", copies, batches, status, title, content)
	}
	list, _, _, err := f.st.ListNotifications(ctx, f.tenantID, f.owner.ID, false, store.Page{Page: 1, PageSize: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("owner's notifications %+v %v", list, err)
	}
	wantParams := map[string]any{"machine": "gpu-01", "gpuModel": "A100", "gpuCount": float64(8), "endAt": end.UTC().Format(time.RFC3339)}
	if list[0].Code != NoticeLeaseExpiring || !reflect.DeepEqual(list[0].Params, wantParams) {
		t.Fatalf("owner's notice %q %#v, want %#v", list[0].Code, list[0].Params, wantParams)
	}
	batch, err := f.st.GetNotificationBatch(ctx, n.BatchID)
	if err != nil || batch.Code != NoticeLeaseExpiring || !reflect.DeepEqual(batch.Params, wantParams) {
		t.Fatalf("batch %+v %v", batch, err)
	}
	if al, _ = f.st.GetAllocation(ctx, f.allocID, 0); al.NotifiedAt == nil {
		t.Fatal("not marked notified")
	}

	// Extend: the end moves, a retry of the same change succeeds, the notice is due again.
	newEnd := end.AddDate(0, 2, 0)
	ext, err := f.a.ExtendAllocation(ctx, ExtendAllocationInput{AllocationID: f.allocID, Months: 2, NewEnd: newEnd, By: "admin"})
	if err != nil || !ext.EndAt.Equal(newEnd) || ext.Months != 3 || ext.Extensions != 1 {
		t.Fatalf("extend %+v %v", ext, err)
	}
	if retry, err := f.a.ExtendAllocation(ctx, ExtendAllocationInput{AllocationID: f.allocID, Months: 2, NewEnd: newEnd}); err != nil || retry != ext {
		t.Fatalf("retried extend %+v %v", retry, err)
	}
	if al, _ = f.st.GetAllocation(ctx, f.allocID, 0); al.NotifiedAt != nil || !al.EndAt.Equal(newEnd) {
		t.Fatalf("after the extension %+v", al)
	}
	// A notice for the new end is a new batch.
	if n2, err := f.a.NotifyAllocationExpiring(ctx, NotifyExpiringInput{AllocationID: f.allocID, EndAt: newEnd}); err != nil || n2.BatchID == n.BatchID {
		t.Fatalf("second notice %+v %v", n2, err)
	}

	// Rotate: a new sealed password, the SSH user back.
	rot, err := f.a.RotateMachinePassword(ctx, RotateMachinePasswordInput{MachineID: f.machineID})
	if err != nil || rot.SSHUser != "ubuntu" {
		t.Fatalf("rotate %+v %v", rot, err)
	}
	m, err := f.st.GetMachine(ctx, f.machineID, 0)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := f.box.Open(m.SSHPasswordEnc)
	if err != nil || pw == "old-password" || len(pw) < 16 {
		t.Fatalf("password after rotation: %q %v", pw, err)
	}
	if m.AllocationStatus != "allocated" {
		t.Fatalf("machine %s before the end", m.AllocationStatus)
	}

	// End, twice: one change, one audit entry.
	steps := []store.HostStep{{Step: "stop_tasks", Detail: "no agent confirmed: the host agent is not connected", At: start},
		{Step: "rotate_password", Detail: "no agent confirmed: the host agent is not connected", At: start}}
	in := EndAllocationInput{AllocationID: f.allocID, MachineID: f.machineID, Status: "expired", Reason: "the lease ended", By: "system", HostSteps: steps}
	e1, err := f.a.EndAllocation(ctx, in)
	if err != nil || e1.Status != "expired" || e1.EndedAt.IsZero() {
		t.Fatalf("end %+v %v", e1, err)
	}
	e2, err := f.a.EndAllocation(ctx, in)
	if err != nil || e2 != e1 {
		t.Fatalf("repeated end %+v %v, want %+v", e2, err, e1)
	}
	al, err = f.st.GetAllocation(ctx, f.allocID, 0)
	if err != nil || al.Status != "expired" || al.EndedByName != "system" || len(al.HostSteps) != 2 || al.HostSteps[0].Confirmed ||
		al.HostSteps[1].Step != "rotate_password" {
		t.Fatalf("ended allocation %+v %v", al, err)
	}
	if m, _ = f.st.GetMachine(ctx, f.machineID, 0); m.AllocationStatus != "unallocated" {
		t.Fatalf("machine %s after the end", m.AllocationStatus)
	}
	logs, total, err := f.st.ListAudit(ctx, store.AuditFilter{Action: "allocation.expire"}, store.Page{Page: 1, PageSize: 10})
	if err != nil || total != 1 {
		t.Fatalf("audit %+v %d %v", logs, total, err)
	}
	lg := logs[0]
	before, _ := lg.Detail["before"].(map[string]any)
	after, _ := lg.Detail["after"].(map[string]any)
	if lg.ActorName != "system" || lg.ActorRole != "system" || lg.TargetType != "allocation" || lg.TargetID != f.allocID ||
		lg.TenantID == nil || *lg.TenantID != f.tenantID || before["status"] != "active" || after["status"] != "expired" || after["hostSteps"] == nil {
		t.Fatalf("audit entry %+v", lg)
	}

	// Over: extending or activating is refused for good, a notice is skipped.
	if _, err := f.a.ExtendAllocation(ctx, ExtendAllocationInput{AllocationID: f.allocID, Months: 1, NewEnd: newEnd.AddDate(0, 1, 0)}); err == nil {
		t.Fatal("extended an ended lease")
	} else {
		wantNonRetryable(t, err, ErrTypeEnded)
	}
	if _, err := f.a.ActivateAllocation(ctx, ActivateAllocationInput{AllocationID: f.allocID, StartAt: start, EndAt: end}); err == nil {
		t.Fatal("activated an ended lease")
	} else {
		wantNonRetryable(t, err, ErrTypeEnded)
	}
	if n3, err := f.a.NotifyAllocationExpiring(ctx, NotifyExpiringInput{AllocationID: f.allocID, EndAt: newEnd}); err != nil || !n3.Skipped {
		t.Fatalf("notice after the end %+v %v", n3, err)
	}
}

func TestAllocationActivitiesReclaim(t *testing.T) {
	f := newAllocFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := f.a.ActivateAllocation(ctx, ActivateAllocationInput{AllocationID: f.allocID, StartAt: now, EndAt: now.AddDate(0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	res, err := f.a.EndAllocation(ctx, EndAllocationInput{AllocationID: f.allocID, MachineID: f.machineID, Status: "reclaimed",
		Reason: "customer left", By: "alice"})
	if err != nil || res.Status != "reclaimed" {
		t.Fatalf("reclaim %+v %v", res, err)
	}
	al, err := f.st.GetAllocation(ctx, f.allocID, 0)
	if err != nil || al.Status != "reclaimed" || al.EndReason != "customer left" || al.EndedByName != "alice" || al.EndAt.After(time.Now()) ||
		len(al.HostSteps) != 0 {
		t.Fatalf("reclaimed allocation %+v %v", al, err)
	}
	logs, total, err := f.st.ListAudit(ctx, store.AuditFilter{Action: "allocation.reclaim_done"}, store.Page{Page: 1, PageSize: 10})
	if err != nil || total != 1 || logs[0].ActorName != "alice" {
		t.Fatalf("audit %+v %d %v", logs, total, err)
	}
}

func TestAllocationActivitiesRefuse(t *testing.T) {
	ctx := context.Background()
	_, err := (&Allocations{}).HostAgentPresent(ctx, "m1")
	wantNonRetryable(t, err, ErrTypeConfig)
	_, err = (&Allocations{}).RotateMachinePassword(ctx, RotateMachinePasswordInput{MachineID: "m1"})
	wantNonRetryable(t, err, ErrTypeConfig)
	_, err = (&Allocations{}).EndAllocation(ctx, EndAllocationInput{AllocationID: "a1", Status: "active"})
	wantNonRetryable(t, err, ErrTypeInvalid)
	_, err = (&Allocations{}).ExtendAllocation(ctx, ExtendAllocationInput{AllocationID: "a1", Months: 0})
	wantNonRetryable(t, err, ErrTypeInvalid)
}

func TestExpiringNoticeBatchID(t *testing.T) {
	end := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)
	a := ExpiringNoticeBatchID("a1", end)
	if a != ExpiringNoticeBatchID("a1", end.In(time.FixedZone("CST", 8*3600))) {
		t.Fatal("the batch ID depends on the time zone")
	}
	if a == ExpiringNoticeBatchID("a1", end.AddDate(0, 1, 0)) || a == ExpiringNoticeBatchID("a2", end) {
		t.Fatal("batch IDs collide")
	}
}
