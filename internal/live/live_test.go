package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// recorder is a socket as the fan-out sees it, keeping what it was given.
type recorder struct {
	p      *caller.Principal
	mu     sync.Mutex
	frames []*websocket.PreparedMessage
	closed int // the close code it was kicked with, 0 if none
}

func (r *recorder) principal() *caller.Principal { return r.p }

func (r *recorder) offer(pm *websocket.PreparedMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, pm)
}

func (r *recorder) kick(code int, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed == 0 {
		r.closed = code
	}
}

func (r *recorder) got() ([]*websocket.PreparedMessage, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*websocket.PreparedMessage(nil), r.frames...), r.closed
}

// newService is a service over a fresh database, running (its context
// live) but without its goroutines: the test drives it.
func newService(t *testing.T) (*Service, *store.Store) {
	t.Helper()
	st, _ := storetest.New(t)
	s := New(st, monitoring.New(st, config.Monitoring{}, config.Fleet{}, nil), "", time.Second, DefaultTuning)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	t.Cleanup(s.cancel)
	return s, st
}

func newTenant(t *testing.T, st *store.Store, code string) string {
	t.Helper()
	tn := store.Tenant{Name: code, Company: code + " Ltd", Code: code, Status: "active"}
	if err := st.CreateTenant(context.Background(), &tn); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func newMachine(t *testing.T, st *store.Store, name, status string) string {
	t.Helper()
	m := store.Machine{Name: name, Region: "north", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: name + ".local",
		SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte("x"), Status: status}
	if err := st.CreateMachine(context.Background(), &m, ""); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// lease leases machine to tenant, active for 90 days; it returns the allocation.
func lease(t *testing.T, st *store.Store, tenant, machine string) string {
	t.Helper()
	ctx := context.Background()
	id, err := st.CreateAllocation(ctx, tenant, machine, 3, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ActivateAllocation(ctx, id, time.Now(), time.Now().Add(90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return id
}

// A snapshot holds every machine and the open alert counts; the status and
// alert changes gathered since the previous one go into exactly one frame
// that takes them, never into a new admin's first frame.
func TestSnapshotCarriesTheChangesOnce(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	ctx := context.Background()
	up := newMachine(t, st, "gpu-01", "online")
	down := newMachine(t, st, "gpu-02", "offline")
	var rule eval.Rule
	for _, r := range eval.DefaultRules() {
		if r.Type == eval.TypeOffline {
			rule = r
		}
	}
	opened, err := st.OpenOfflineAlerts(ctx, rule, []store.OfflineCandidate{{MachineID: down, LastSeenAt: time.Now()}})
	if err != nil || len(opened) != 1 {
		t.Fatalf("opened %+v %v", opened, err)
	}
	s.dispatch(store.ChannelMachineStatus, down+":offline")
	s.dispatch(store.ChannelAlertEvents, opened[0].ID+":opened")

	first, err := s.snapshot(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Machines) != 2 || first.Machines[0].ID != up || first.Machines[1].ID != down || first.Type != FrameSnapshot {
		t.Fatalf("machines %+v", first.Machines)
	}
	if len(first.Statuses) != 0 || len(first.Alerts) != 0 || first.OpenAlerts.Total != 1 {
		t.Fatalf("a first frame carried changes: %+v %+v, open %+v", first.Statuses, first.Alerts, first.OpenAlerts)
	}

	next, err := s.snapshot(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Statuses) != 1 || next.Statuses[0].MachineID != down || next.Statuses[0].Status != "offline" {
		t.Fatalf("statuses %+v", next.Statuses)
	}
	if len(next.Alerts) != 1 || next.Alerts[0].ID != opened[0].ID || next.OpenAlerts.Total != 1 || len(next.Machines) != 2 {
		t.Fatalf("alerts %+v, open %+v", next.Alerts, next.OpenAlerts)
	}

	again, err := s.snapshot(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Statuses) != 0 || len(again.Alerts) != 0 {
		t.Fatalf("changes sent twice: %+v %+v", again.Statuses, again.Alerts)
	}
}

// Every admin gets the same frame; one that left gets none; a new admin
// gets the last frame while it is recent, else a fresh one that leaves
// the pending changes to the next broadcast.
func TestAdminFramesFanOut(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	ctx := context.Background()
	machine := newMachine(t, st, "gpu-01", "online")
	a, b := &recorder{p: &caller.Principal{Role: "admin"}}, &recorder{p: &caller.Principal{Role: "admin"}}
	s.join(a, "")
	s.join(b, "")
	if err := s.broadcastSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	fa, _ := a.got()
	fb, _ := b.got()
	if len(fa) != 1 || len(fb) != 1 || fa[0] != fb[0] {
		t.Fatalf("admins got %d and %d frames", len(fa), len(fb))
	}
	s.Tuning.KeepFrame = time.Hour
	if pm, err := s.firstSnapshot(ctx); err != nil || pm != fa[0] {
		t.Fatalf("a new admin did not get the recent frame (%v)", err)
	}

	s.leave(b, "")
	s.Tuning.KeepFrame = 0 // nothing is recent
	s.dispatch(store.ChannelMachineStatus, machine+":offline")
	pm, err := s.firstSnapshot(ctx)
	if err != nil || pm == fa[0] {
		t.Fatalf("a stale frame was given again (%v)", err)
	}
	next, err := s.snapshot(ctx, true)
	if err != nil || len(next.Statuses) != 1 {
		t.Fatalf("the first frame took the pending changes: %+v %v", next, err)
	}
	if err := s.broadcastSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if fa, _ := a.got(); len(fa) != 2 {
		t.Fatalf("the admin got %d frames, want 2", len(fa))
	}
	if fb, _ := b.got(); len(fb) != 1 {
		t.Fatalf("an admin that left got %d frames, want 1", len(fb))
	}
}

// A machine's figures go to the sockets of the customer that leases it,
// loaded once for that customer; another customer's sockets on it are
// closed (4403), and so are the first customer's once the lease ends.
// Only the watched machines are queued.
func TestCustomerFramesFanOutByTenant(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	ctx := context.Background()
	acme, globex := newTenant(t, st, "acme"), newTenant(t, st, "globex")
	machine := newMachine(t, st, "gpu-01", "online")
	other := newMachine(t, st, "gpu-02", "online")
	allocation := lease(t, st, acme, machine)
	lease(t, st, globex, other)

	owner := &recorder{p: &caller.Principal{UserID: "u1", SessionID: "s1", Role: "owner", TenantID: acme}}
	member := &recorder{p: &caller.Principal{UserID: "u2", SessionID: "s2", Role: "member", TenantID: acme}}
	intruder := &recorder{p: &caller.Principal{UserID: "u3", SessionID: "s3", Role: "owner", TenantID: globex}}
	for _, r := range []*recorder{owner, member, intruder} {
		s.join(r, machine)
	}

	s.dispatch(store.ChannelMachineMetrics, machine)
	s.dispatch(store.ChannelMachineMetrics, other) // nobody watches it
	s.mu.Lock()
	_, queued := s.pushQ[machine]
	_, queuedOther := s.pushQ[other]
	s.mu.Unlock()
	if !queued || queuedOther {
		t.Fatalf("queued: the watched machine %v, the other %v", queued, queuedOther)
	}

	if err := s.pushCustomers(machine); err != nil {
		t.Fatal(err)
	}
	fo, co := owner.got()
	fm, cm := member.got()
	fi, ci := intruder.got()
	if len(fo) != 1 || len(fm) != 1 || fo[0] != fm[0] || co != 0 || cm != 0 {
		t.Fatalf("the lessee's sockets: %d and %d frames, closed %d %d", len(fo), len(fm), co, cm)
	}
	if len(fi) != 0 || ci != CloseAllocationEnded {
		t.Fatalf("another customer's socket: %d frames, closed %d", len(fi), ci)
	}

	if err := st.EndAllocation(ctx, allocation, "reclaimed", "", "admin", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.pushCustomers(machine); err != nil {
		t.Fatal(err)
	}
	if fo, co := owner.got(); len(fo) != 1 || co != CloseAllocationEnded {
		t.Fatalf("after the lease ended: %d frames, closed %d", len(fo), co)
	}
}

// The session check closes the sockets whose session ended, whose account
// is disabled, or whose rights changed, and leaves the others open.
func TestSessionCheckClosesEndedSessions(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	ctx := context.Background()
	acme, globex := newTenant(t, st, "acme"), newTenant(t, st, "globex")
	user := func(name, tenant string) (*caller.Principal, *recorder) {
		u := &store.User{Username: name, Name: name, Role: "owner", TenantID: &tenant, AuthSource: "local", PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		sid, err := st.CreateSession(ctx, u.ID, "127.0.0.1", "test", time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		p := &caller.Principal{UserID: u.ID, SessionID: sid, Username: name, Role: "owner", TenantID: tenant}
		return p, &recorder{p: p}
	}
	_, live := user("alice", acme)
	_, disabled := user("bob", globex)
	p, promoted := user("carol", acme)
	promoted.p = &caller.Principal{UserID: p.UserID, SessionID: p.SessionID, Role: "member", TenantID: acme} // the role changed since
	ended := &recorder{p: &caller.Principal{SessionID: "00000000-0000-0000-0000-000000000000", Role: "admin"}}
	s.join(live, "")
	s.join(ended, "")
	s.join(promoted, "")
	s.join(disabled, newMachine(t, st, "gpu-01", "online"))
	if err := st.SetTenantStatus(ctx, globex, "disabled"); err != nil {
		t.Fatal(err)
	}
	if err := s.checkSessions(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[*recorder]int{live: 0, disabled: CloseSessionEnded, promoted: CloseSessionEnded, ended: CloseSessionEnded} {
		if _, code := name.got(); code != want {
			t.Fatalf("%+v closed with %d, want %d", name.p, code, want)
		}
	}
}
