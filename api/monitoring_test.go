package api_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

type realtimePage struct {
	List     []store.RealtimeMachine `json:"list"`
	Total    int                     `json:"total"`
	PageSize int                     `json:"pageSize"`
}

func TestAdminRealtime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "rt-a", "北京")
	b := addAgent(t, e, admin, "rt-b", "上海")
	quiet := addMachine(t, admin, "rt-c", "北京", "RTX 4090")
	now := time.Now()
	a.post(t, round(now, 8, 10)) // GPUs at 10..17 %: average 13.5
	b.post(t, round(now, 8, 70)) // 70..77 %: 73.5

	var p realtimePage
	admin.must(200, "GET", "/api/admin/monitoring/realtime?sortBy=gpuUtil&order=desc&pageSize=2000", nil).decode(t, &p)
	if p.Total != 3 || len(p.List) != 3 || p.PageSize != 2000 {
		t.Fatalf("page %+v", p)
	}
	top := p.List[0]
	if top.ID != b.machineID || *top.GPUUtil != 73.5 || *top.GPUUtilMax != 77 || *top.GPUTemp != 67 || *top.GPUPowerW != 2400 ||
		*top.CPUPct != 20 || *top.MemPct != 25 || *top.DiskPct != 30 || *top.GPUMemPct != 48.85 || top.GPUSource != "simulated" ||
		top.Status != "online" || top.LastSeenAt == nil || len(top.GPUs) != 8 || top.GPUs[7].Utilization != 77 || top.GPUs[0].FanPct == nil {
		t.Fatalf("top %+v", top)
	}
	// a machine whose agent never reported comes last, with no figures
	if last := p.List[2]; last.ID != quiet.Machine.ID || last.GPUUtil != nil || last.SampleAt != nil || len(last.GPUs) != 0 || last.GPUSource != "" {
		t.Fatalf("last %+v", last)
	}
	for q, want := range map[string]int{"region=shanghai": 1, "region=" + url.QueryEscape("北京"): 2, "onlyAlerts=true": 0,
		"keyword=rt-a": 1, "status=offline": 0, "filters=" + url.QueryEscape(`{"region":"上海"}`): 1} {
		admin.must(200, "GET", "/api/admin/monitoring/realtime?"+q, nil).decode(t, &p)
		if p.Total != want {
			t.Errorf("%s: %d machines, want %d", q, p.Total, want)
		}
	}
	admin.must(200, "GET", "/api/admin/monitoring/realtime?sortBy=temp&order=asc&pageSize=1&page=2", nil).decode(t, &p)
	if len(p.List) != 1 || p.List[0].ID != b.machineID {
		t.Fatalf("second by temperature: %+v", p.List)
	}
	admin.must(400, "GET", "/api/admin/monitoring/realtime?sortBy=bogus", nil)
	admin.must(400, "GET", "/api/admin/monitoring/realtime?pageSize=5001", nil)

	// the home's card: every GPU of the online machines
	var st store.FleetStats
	admin.must(200, "GET", "/api/admin/dashboard/stats", nil).decode(t, &st)
	if st.AvgGPUUtil != 43.5 {
		t.Fatalf("avgGpuUtil %v", st.AvgGPUUtil)
	}
}

func TestGPUTrend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "tr-a", "北京")
	b := addAgent(t, e, admin, "tr-b", "上海")
	t1 := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Minute).Add(5 * time.Second)
	a.post(t, round(t1, 8, 10))
	b.post(t, round(t1, 8, 70))
	ctx := context.Background()
	if _, err := (&activities.Metrics{Store: e.st}).RollUp(ctx, activities.RollUpInput{Level: store.Level1m, MaxSpan: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	var tr api.GPUTrend
	admin.must(200, "GET", "/api/admin/dashboard/gpu-trend?range=1h", nil).decode(t, &tr)
	if tr.Source != "1m" || tr.StepSeconds != 60 || len(tr.Points) != 1 || len(tr.Regions) != 0 {
		t.Fatalf("trend %+v", tr)
	}
	if p := tr.Points[0]; !p.At.Equal(t1.Truncate(time.Minute)) || p.Avg != 43.5 || p.Max != 77 || p.GPUs != 16 {
		t.Fatalf("point %+v", p)
	}
	admin.must(200, "GET", "/api/admin/dashboard/gpu-trend?range=24h&byRegion=true", nil).decode(t, &tr)
	if tr.StepSeconds != 300 || len(tr.Regions) != 2 || tr.Regions[0].Region != "上海" || tr.Regions[0].Points[0].Avg != 73.5 ||
		tr.Regions[1].Points[0].Avg != 13.5 || tr.Points[0].Avg != 43.5 {
		t.Fatalf("by region %+v", tr)
	}
	admin.must(200, "GET", "/api/admin/dashboard/gpu-trend?range=7d&region=shanghai", nil).decode(t, &tr)
	if tr.Source != "1m" || tr.StepSeconds != 1800 || len(tr.Points) != 1 || tr.Points[0].Avg != 73.5 || tr.Points[0].GPUs != 8 {
		t.Fatalf("7 days of shanghai %+v", tr)
	}
	// 30 days come from the hourly roll-up, completed from the minute one while the hour is not done
	admin.must(200, "GET", "/api/admin/dashboard/gpu-trend?range=30d", nil).decode(t, &tr)
	if tr.Source != "1h" || tr.StepSeconds != 7200 || len(tr.Points) != 1 || tr.Points[0].Avg != 43.5 {
		t.Fatalf("30 days %+v", tr)
	}
	from := url.QueryEscape(t1.Add(-time.Hour).Format(time.RFC3339))
	to := url.QueryEscape(t1.Add(-30 * time.Minute).Format(time.RFC3339))
	admin.must(200, "GET", "/api/admin/dashboard/gpu-trend?from="+from+"&to="+to, nil).decode(t, &tr)
	if len(tr.Points) != 0 || tr.Source != "1m" {
		t.Fatalf("an empty window %+v", tr)
	}
	admin.must(400, "GET", "/api/admin/dashboard/gpu-trend?from="+to+"&to="+from, nil)
	admin.must(400, "GET", "/api/admin/dashboard/gpu-trend?range=2h", nil)
}

func TestCustomerMonitoring(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "cm-a", "北京")
	notLeased := addAgent(t, e, admin, "cm-b", "北京")
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	allocID, err := e.st.CreateAllocation(ctx, e.fx.tenantA.ID, a.machineID, 1, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	leaseStart := now.Add(-30 * time.Minute)
	if _, _, err := e.st.ActivateAllocation(ctx, allocID, leaseStart, now.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// one round from the previous tenant's time, two from this lease
	a.post(t, round(now.Add(-40*time.Minute), 8, 90), round(now.Add(-20*time.Minute), 8, 10), round(now.Add(-time.Minute), 8, 30))
	notLeased.post(t, round(now, 8, 50))

	for _, user := range []string{"owner-a", "member-a"} {
		s := e.login(user)
		var rt api.MachineRealtime
		s.must(200, "GET", "/api/customer/monitoring/"+a.machineID+"/realtime", nil).decode(t, &rt)
		if rt.SampleAt == nil || !rt.SampleAt.Equal(now.Add(-time.Minute)) || *rt.GPUUtil != 33.5 || len(rt.GPUs) != 8 || rt.GPUs[0].Utilization != 30 ||
			len(rt.Processes) != 1 || rt.Processes[0].PID != 4242 || rt.Processes[0].GPUIndex != 0 || rt.Host == nil || rt.Host.CPUPct != 20 ||
			rt.Host.MemPct != 25 || rt.Host.DiskPct != 30 || rt.Host.DiskReadBps != 1e6 || rt.Host.NetRxBps != 5e6 || len(rt.Host.Disks) != 1 ||
			rt.GPUSource != "simulated" || rt.Status != "online" || rt.Name != "cm-a" {
			t.Fatalf("%s realtime %+v", user, rt)
		}
		var procs api.MachineProcesses
		s.must(200, "GET", "/api/customer/machines/"+a.machineID+"/processes", nil).decode(t, &procs)
		if len(procs.List) != 1 || procs.List[0].Name != "python train.py" || procs.List[0].MemUsedMiB != 12000 || procs.SampleAt == nil {
			t.Fatalf("%s processes %+v", user, procs)
		}
	}
	owner := e.login("owner-a")
	// the machine cards and the dashboard overview carry the latest GPU utilisation
	var cards struct {
		List []api.CustomerMachine `json:"list"`
	}
	owner.must(200, "GET", "/api/customer/machines", nil).decode(t, &cards)
	if len(cards.List) != 1 || cards.List[0].GPUUtil == nil || *cards.List[0].GPUUtil != 33.5 {
		t.Fatalf("machine cards %+v", cards.List)
	}
	var summary []api.MachineSummary
	owner.must(200, "GET", "/api/customer/machines/summary", nil).decode(t, &summary)
	if len(summary) != 1 || summary[0].GPUUtil == nil || *summary[0].GPUUtil != 33.5 {
		t.Fatalf("summary %+v", summary)
	}
	// history from the raw samples, never before the lease began
	var h api.MachineHistory
	owner.must(200, "GET", "/api/customer/machines/"+a.machineID+"/monitoring?range=1h", nil).decode(t, &h)
	if h.Source != "raw" || h.StepSeconds != 5 || !h.From.Equal(leaseStart) || len(h.GPUs) != 8 || len(h.Host) != 2 {
		t.Fatalf("1h history %+v", h)
	}
	if g := h.GPUs[1]; g.Index != 1 || len(g.Points) != 2 || g.Points[0].Util != 11 || g.Points[1].Util != 31 || g.Points[1].TempC != 61 ||
		g.Points[1].MemTotalMiB != 24564 || g.Points[1].PowerW != 300 {
		t.Fatalf("gpu 1 %+v", g)
	}
	if hp := h.Host[1]; hp.CPUPct != 20 || hp.MemPct != 25 || hp.DiskPct != 30 || hp.DiskWriteBps != 2e6 || hp.NetTxBps != 1e6 || hp.Load1 != 3 {
		t.Fatalf("host %+v", hp)
	}
	// longer ranges: coarser steps from the roll-ups (completed from raw until those run)
	for q, want := range map[string][2]any{"range=6h": {"raw", 30}, "range=24h": {"1m", 120}, "range=7d": {"1m", 900}, "range=30d": {"1h", 3600}} {
		owner.must(200, "GET", "/api/customer/machines/"+a.machineID+"/monitoring?"+q, nil).decode(t, &h)
		if h.Source != want[0] || h.StepSeconds != want[1] || len(h.GPUs) != 8 || len(h.Host) == 0 {
			t.Errorf("%s: %s every %d s with %d GPUs, want %v", q, h.Source, h.StepSeconds, len(h.GPUs), want)
		}
	}
	owner.must(200, "GET", "/api/customer/machines/"+a.machineID+"/monitoring?step=600", nil).decode(t, &h)
	if h.StepSeconds != 600 || h.Source != "1m" {
		t.Fatalf("asked for 10 min steps: %s every %d s", h.Source, h.StepSeconds)
	}
	// a machine not leased to the caller: 404 everywhere
	for _, p := range []string{"/api/customer/monitoring/" + notLeased.machineID + "/realtime", "/api/customer/machines/" + notLeased.machineID + "/monitoring",
		"/api/customer/machines/" + notLeased.machineID + "/processes"} {
		owner.must(404, "GET", p, nil)
	}
	// nor once the lease has ended
	if err := e.st.EndAllocation(ctx, allocID, "reclaimed", "test", "admin", nil); err != nil {
		t.Fatal(err)
	}
	owner.must(404, "GET", "/api/customer/monitoring/"+a.machineID+"/realtime", nil)
	owner.must(404, "GET", "/api/customer/machines/"+a.machineID+"/monitoring", nil)
}
