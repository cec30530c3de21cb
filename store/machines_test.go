package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/schema"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

const week = 7 * 24 * time.Hour

func newTenant(t *testing.T, st *store.Store, code string) string {
	t.Helper()
	tn := store.Tenant{Name: code, Company: code + " Ltd", Code: code, Status: "active"}
	if err := st.CreateTenant(context.Background(), &tn); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func newMachine(t *testing.T, st *store.Store, name, region, status string) string {
	t.Helper()
	m := store.Machine{Name: name, Region: region, GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 1 + len(name)%8, SSHHost: name + ".local",
		SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte("x"), Status: status, MemoryGB: len(name) * 3 % 7}
	if err := st.CreateMachine(context.Background(), &m, ""); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// listIDs lists the ids of the machines matching f, all on one page.
func listIDs(t *testing.T, st *store.Store, f store.MachineFilter, window time.Duration) []string {
	t.Helper()
	list, total, err := st.ListMachines(context.Background(), f, store.Page{PageSize: 1000}, window)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	if total != len(list) {
		t.Fatalf("total %d, %d listed", total, len(list))
	}
	ids := make([]string, len(list))
	for i, m := range list {
		ids[i] = m.ID
	}
	return ids
}

// TestMachineAllocationStatusFollowsLeases: the machine's stored live
// allocation (and so its allocation status, its list filters and the
// dashboard's counts) follows allocate, activate, extend, reclaim and end,
// whichever way the allocation row is written, and the expiring window.
func TestMachineAllocationStatusFollowsLeases(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "acme")
	id := newMachine(t, st, "gpu-01", "north", "online")
	newMachine(t, st, "gpu-02", "north", "online") // never leased

	check := func(step, want, allocStatus string, window time.Duration) {
		t.Helper()
		m, err := st.GetMachine(ctx, id, window)
		if err != nil {
			t.Fatal(step, "get:", err)
		}
		if m.AllocationStatus != want {
			t.Fatalf("%s: allocation status %q, want %q", step, m.AllocationStatus, want)
		}
		got := ""
		if m.Allocation != nil {
			got = m.Allocation.Status
			if m.Allocation.TenantID != tenant || m.Allocation.Customer != "acme Ltd" {
				t.Fatalf("%s: live allocation %+v", step, m.Allocation)
			}
		}
		if got != allocStatus {
			t.Fatalf("%s: live allocation %+v, want status %q", step, m.Allocation, allocStatus)
		}
		for _, s := range []string{"allocated", "unallocated", "expiring"} {
			in := slices.Contains(listIDs(t, st, store.MachineFilter{Scope: store.AllMachines, AllocationStatus: s}, window), id)
			if in != (s == want) {
				t.Fatalf("%s: in the %s list: %v", step, s, in)
			}
		}
		in := slices.Contains(listIDs(t, st, store.MachineFilter{TenantID: tenant}, window), id)
		if in != (allocStatus == "active") {
			t.Fatalf("%s: in the tenant's list: %v", step, in)
		}
		fs, err := st.FleetStats(ctx, window)
		if err != nil {
			t.Fatal(step, "fleet stats:", err)
		}
		if wantAllocated, wantExpiring := b2i(want != "unallocated"), b2i(want == "expiring"); fs.Allocated != wantAllocated || fs.Expiring != wantExpiring {
			t.Fatalf("%s: fleet stats allocated %d expiring %d, want %d %d", step, fs.Allocated, fs.Expiring, wantAllocated, wantExpiring)
		}
	}
	check("new", "unallocated", "", week)

	// allocate: pending counts as allocated, whatever the window
	aid, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	check("pending", "allocated", "pending", week)
	check("pending, long window", "allocated", "pending", 10000*24*time.Hour)

	// active, ending in 3 days: expiring in a week's window, allocated in a day's
	now := time.Now()
	if _, _, err := st.ActivateAllocation(ctx, aid, now, now.Add(3*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("active", "expiring", "active", week)
	check("active, one-day window", "allocated", "active", 24*time.Hour)
	check("active, no window", "allocated", "active", 0)

	// extend: out of the window
	if err := st.ExtendAllocation(ctx, aid, 1, now.Add(40*24*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	check("extended", "allocated", "active", week)
	check("extended, long window", "expiring", "active", 60*24*time.Hour)

	// any other writer of allocations is followed too, e.g. a plain UPDATE
	if _, err := st.Pool.Exec(ctx, `UPDATE allocations SET end_at = now() - interval '1 hour' WHERE id = $1`, aid); err != nil {
		t.Fatal(err)
	}
	check("past its end, not ended yet", "expiring", "active", week)
	check("past its end, no window", "expiring", "active", 0)

	// writes that do not touch the lease's status or end leave the machine row alone
	var before, after string
	_ = st.Pool.QueryRow(ctx, `SELECT xmin::text FROM machines WHERE id = $1`, id).Scan(&before)
	if _, err := st.Pool.Exec(ctx, `UPDATE allocations SET remark = 'x', status = status, end_at = end_at WHERE id = $1`, aid); err != nil {
		t.Fatal(err)
	}
	_ = st.Pool.QueryRow(ctx, `SELECT xmin::text FROM machines WHERE id = $1`, id).Scan(&after)
	if after != before {
		t.Fatalf("machine row rewritten (xmin %s, then %s)", before, after)
	}

	// reclaim
	if err := st.EndAllocation(ctx, aid, "reclaimed", "test", "admin", nil); err != nil {
		t.Fatal(err)
	}
	check("reclaimed", "unallocated", "", week)

	// a second lease, activated and ended as expired
	aid2, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	check("second lease", "allocated", "pending", week)
	if _, _, err := st.ActivateAllocation(ctx, aid2, now, now.Add(90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("second lease active", "allocated", "active", week)
	// the first lease's history rows changing changes nothing
	if _, err := st.Pool.Exec(ctx, `UPDATE allocations SET end_at = now() WHERE id = $1`, aid); err != nil {
		t.Fatal(err)
	}
	check("history edited", "allocated", "active", week)
	if err := st.EndAllocation(ctx, aid2, "expired", "", "system", nil); err != nil {
		t.Fatal(err)
	}
	check("expired", "unallocated", "", week)

	// a deleted allocation row (only tests and repairs do that)
	aid3, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	check("third lease", "allocated", "pending", week)
	if _, err := st.Pool.Exec(ctx, `DELETE FROM allocations WHERE id = $1`, aid3); err != nil {
		t.Fatal(err)
	}
	check("deleted row", "unallocated", "", week)
}

// TestMachineFilterFailsClosed: a tenant's filter without its tenant lists
// nothing (an error), never every machine; every machine takes the
// admin's scope, said outright.
func TestMachineFilterFailsClosed(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := newTenant(t, st, "acme")
	leased := newMachine(t, st, "gpu-01", "north", "online")
	other := newMachine(t, st, "gpu-02", "north", "online")
	aid, err := st.CreateAllocation(ctx, tenant, leased, 1, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ActivateAllocation(ctx, aid, time.Now(), time.Now().Add(90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.MachineFilter{{}, {Status: "online"}, {Keyword: "gpu"}, {Scope: store.TenantMachines}} {
		list, total, err := st.ListMachines(ctx, f, store.Page{PageSize: 100}, week)
		if !errors.Is(err, store.ErrNoTenant) || len(list) != 0 || total != 0 {
			t.Fatalf("%+v without a tenant: %d machines (total %d), %v", f, len(list), total, err)
		}
	}
	if got := listIDs(t, st, store.MachineFilter{TenantID: tenant}, week); !slices.Equal(got, []string{leased}) {
		t.Fatalf("the tenant's machines %v, want [%s]", got, leased)
	}
	got := listIDs(t, st, store.MachineFilter{Scope: store.AllMachines}, week)
	if len(got) != 2 || !slices.Contains(got, leased) || !slices.Contains(got, other) {
		t.Fatalf("every machine: %v", got)
	}
}

// Ending a lease writes the host steps recorded before codes with their
// English half only, without changing the caller's steps; a reason the
// platform wrote comes back with its code.
func TestEndAllocationKeepsTheCallersSteps(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	aid, err := st.CreateAllocation(ctx, newTenant(t, st, "acme"), newMachine(t, st, "gpu-01", "north", "online"), 1, "", "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	const legacy = "已设置新密码 / new password set for root"
	steps := []store.HostStep{{Step: "rotate_password", Confirmed: true, Detail: legacy}}
	if err := st.EndAllocation(ctx, aid, "reclaimed", store.ReasonReclaimedEarly, "admin", steps); err != nil {
		t.Fatal(err)
	}
	if steps[0].Detail != legacy {
		t.Fatalf("the caller's step became %q", steps[0].Detail)
	}
	a, err := st.GetAllocation(ctx, aid, week)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.HostSteps) != 1 || a.HostSteps[0].Detail != "new password set for root" {
		t.Fatalf("stored steps %+v", a.HostSteps)
	}
	if a.EndReason != store.ReasonReclaimedEarly || a.EndReasonCode != "lease.reclaimedEarly" {
		t.Fatalf("end reason %q code %q", a.EndReason, a.EndReasonCode)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refList is the machine list as it was computed before migration 008: the
// allocation status a CASE over a join of each machine's live allocation.
func refList(t *testing.T, st *store.Store, f store.MachineFilter, sortBy, order string, window time.Duration) []string {
	t.Helper()
	cols := map[string]string{"name": "name", "createdAt": "created_at", "gpuModel": "gpu_model", "gpuCount": "gpu_count",
		"region": "region", "status": "status", "allocationStatus": "allocation_status", "endAt": "alloc_end", "memoryGb": "memory_gb"}
	args := []any{window.String()}
	conds := []string{"deleted_at IS NULL"}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Region != "" {
		add("region = $%d", f.Region)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.AllocationStatus != "" {
		add("allocation_status = $%d", f.AllocationStatus)
	}
	if f.TenantID != "" {
		add("alloc_tenant = $%d::uuid AND alloc_status = 'active'", f.TenantID)
	}
	dir := "ASC"
	if order == "desc" {
		dir = "DESC"
	}
	q := `SELECT id FROM (SELECT m.*, a.tenant_id AS alloc_tenant, a.end_at AS alloc_end, a.status AS alloc_status,
		CASE WHEN a.id IS NULL THEN 'unallocated' WHEN a.status = 'active' AND a.end_at < now() + $1::interval THEN 'expiring' ELSE 'allocated' END AS allocation_status
		FROM machines m LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')) x
		WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY ` + cols[sortBy] + ` ` + dir + ` NULLS LAST, created_at DESC, id`
	rows, err := st.Pool.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestMachineListMatchesJoin: the list served by the stored columns answers
// as the join it replaces did, for every filter, sort and page.
func TestMachineListMatchesJoin(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	acme, globex := newTenant(t, st, "acme"), newTenant(t, st, "globex")
	now := time.Now()
	regions, statuses := []string{"north", "south"}, []string{"online", "online", "offline", "maintenance"}
	for i := 0; i < 40; i++ {
		id := newMachine(t, st, fmt.Sprintf("m-%02d", (i*7)%40), regions[i%2], statuses[i%4])
		tenant := []string{acme, globex}[i%3%2]
		switch i % 8 {
		case 0: // never leased
		case 1: // pending
			if _, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin"); err != nil {
				t.Fatal(err)
			}
		case 2, 3, 4, 5: // active, ending in 1..40 days (some within the window), or already past
			aid, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin")
			if err != nil {
				t.Fatal(err)
			}
			end := now.Add(time.Duration(i-12) * 24 * time.Hour)
			if _, _, err := st.ActivateAllocation(ctx, aid, now.Add(-30*24*time.Hour), end); err != nil {
				t.Fatal(err)
			}
		case 6: // ended
			aid, err := st.CreateAllocation(ctx, tenant, id, 1, "", "", "admin")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.EndAllocation(ctx, aid, "reclaimed", "", "admin", nil); err != nil {
				t.Fatal(err)
			}
		case 7: // deleted
			if err := st.DeleteMachine(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	sorts := []string{"name", "createdAt", "gpuModel", "gpuCount", "region", "status", "allocationStatus", "endAt", "memoryGb"}
	all := store.AllMachines
	filters := []store.MachineFilter{{Scope: all}, {Scope: all, Region: "north"}, {Scope: all, Status: "online"}, {Scope: all, TenantID: acme},
		{TenantID: acme}, {TenantID: globex, Status: "online"}}
	for _, as := range []string{"", "allocated", "unallocated", "expiring"} {
		filters = append(filters, store.MachineFilter{Scope: all, AllocationStatus: as},
			store.MachineFilter{Scope: all, Region: "south", Status: "online", AllocationStatus: as})
	}
	checked := 0
	for _, f := range filters {
		for _, window := range []time.Duration{week, 30 * 24 * time.Hour} {
			for _, sortBy := range sorts {
				for _, order := range []string{"asc", "desc"} {
					want := refList(t, st, f, sortBy, order, window)
					for _, size := range []int{1000, 7} {
						for page := 1; page == 1 || (page-1)*size < len(want) && window == week; page++ {
							list, total, err := st.ListMachines(ctx, f, store.Page{Page: page, PageSize: size, SortBy: sortBy, Order: order}, window)
							if err != nil {
								t.Fatal(err)
							}
							got := make([]string, len(list))
							for i, m := range list {
								got[i] = m.ID
							}
							wantPage := want[min((page-1)*size, len(want)):min(page*size, len(want))]
							if total != len(want) || !slices.Equal(got, wantPage) {
								t.Fatalf("%+v window %s sort %s %s page %d/%d: total %d, %v; want %d, %v", f, window, sortBy, order, page, size,
									total, got, len(want), wantPage)
							}
							checked++
						}
					}
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d pages checked", checked)
	}
}

// TestMachineLiveAllocationBackfill: migration 008 fills the stored live
// allocation of the machines leased before it, and its down migration leaves
// the schema of 007.
func TestMachineLiveAllocationBackfill(t *testing.T) {
	t.Parallel()
	st, dsn := storetest.New(t)
	ctx := context.Background()
	src, err := iofs.New(schema.Migrations, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, "pgx5://"+strings.SplitN(dsn, "://", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Migrate(7); err != nil {
		t.Fatal(err)
	}
	tenant := newTenant(t, st, "acme")
	pending, active, ended := newMachine(t, st, "p", "north", "online"), newMachine(t, st, "a", "north", "online"), newMachine(t, st, "e", "north", "online")
	if _, err := st.Pool.Exec(ctx, `INSERT INTO allocations (tenant_id, machine_id, status, months, start_at, end_at) VALUES
		($1, $2, 'pending', 1, NULL, NULL), ($1, $3, 'active', 1, now(), now() + interval '2 days'), ($1, $4, 'expired', 1, now(), now())`,
		tenant, pending, active, ended); err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(8); err != nil {
		t.Fatal(err)
	}
	st.Pool.Reset() // the cached statements were planned over the old columns
	for id, want := range map[string]string{pending: "allocated", active: "expiring", ended: "unallocated"} {
		mc, err := st.GetMachine(ctx, id, week)
		if err != nil {
			t.Fatal(err)
		}
		if mc.AllocationStatus != want {
			t.Errorf("%s: %s, want %s", mc.Name, mc.AllocationStatus, want)
		}
	}
	if err := m.Migrate(7); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'machines' AND column_name LIKE 'live%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after down: %d live columns, %v", n, err)
	}
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
}
