package activities

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func metricsMachine(t *testing.T, st *store.Store, name, region, status string) string {
	t.Helper()
	m := &store.Machine{Name: name, Region: region, GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 2, SSHHost: name + ".test", SSHPort: 22,
		SSHUser: "root", SSHPasswordEnc: []byte{1}, Status: status}
	if err := st.CreateMachine(context.Background(), m, ""); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// round of GPUs at the given utilisations.
func round(at time.Time, utils ...float64) agentproto.Sample {
	s := agentproto.Sample{At: at, Host: agentproto.HostSample{CPUPct: utils[0], MemUsedMiB: 1, MemTotalMiB: 4,
		Disks: []agentproto.DiskSample{{Mount: "/", UsedGiB: 1, TotalGiB: 2}}}}
	for i, u := range utils {
		s.GPUs = append(s.GPUs, agentproto.GPUSample{Index: i, Utilization: u, MemUsedMiB: 10, MemTotalMiB: 100, TempC: 50 + u/10, PowerW: u})
	}
	return s
}

func submit(t *testing.T, g *store.Ingester, id string, received time.Time, s ...agentproto.Sample) {
	t.Helper()
	if _, err := g.Submit(context.Background(), id, received, s); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, st *store.Store, id string) string {
	t.Helper()
	var s string
	if err := st.Pool.QueryRow(context.Background(), `SELECT status FROM machines WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMarkOffline(t *testing.T) {
	t.Parallel()
	st, dsn := storetest.New(t)
	ctx := context.Background()
	now := time.Date(2031, 3, 2, 10, 0, 0, 0, time.UTC)
	a := &Metrics{Store: st, Now: func() time.Time { return now }}
	g := store.NewIngester(st, store.IngestOptions{Wait: time.Millisecond})
	silent := metricsMachine(t, st, "silent", "北京", "online")
	recent := metricsMachine(t, st, "recent", "北京", "online")
	maint := metricsMachine(t, st, "maint", "北京", "online")
	never := metricsMachine(t, st, "never", "北京", "online")
	submit(t, g, silent, now.Add(-16*time.Second), round(now.Add(-16*time.Second), 1))
	submit(t, g, recent, now.Add(-14*time.Second), round(now.Add(-14*time.Second), 1))
	submit(t, g, maint, now.Add(-time.Hour), round(now.Add(-time.Hour), 1))
	if _, err := st.StartMaintenance(ctx, maint, "fan", nil, "", "admin"); err != nil {
		t.Fatal(err)
	}
	listen, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close(ctx)
	if _, err := listen.Exec(ctx, `LISTEN machine_status`); err != nil {
		t.Fatal(err)
	}

	// 5 s interval: offline after 15 s of silence
	res, err := a.MarkOffline(ctx, MarkOfflineInput{OfflineAfter: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.MachineIDs, []string{silent}) {
		t.Fatalf("offline %v, want only %s", res.MachineIDs, silent)
	}
	for id, want := range map[string]string{silent: "offline", recent: "online", maint: "maintenance", never: "online"} {
		if got := status(t, st, id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := listen.WaitForNotification(wctx)
	if err != nil || n.Payload != silent+":offline" {
		t.Fatalf("notification %+v, %v", n, err)
	}
	// three more seconds: recent is silent long enough too; a second run changes nothing else
	now = now.Add(3 * time.Second)
	if res, err = a.MarkOffline(ctx, MarkOfflineInput{OfflineAfter: 15 * time.Second}); err != nil || !slices.Equal(res.MachineIDs, []string{recent}) {
		t.Fatalf("second run %v, %v", res.MachineIDs, err)
	}
	// the next sample brings it back
	submit(t, g, silent, now, round(now, 1))
	if got := status(t, st, silent); got != "online" {
		t.Fatalf("after a sample: %s", got)
	}
	if n, err := listen.WaitForNotification(wctx); err != nil || n.Payload != recent+":offline" {
		t.Fatalf("notification %+v, %v", n, err)
	}
	if n, err := listen.WaitForNotification(wctx); err != nil || n.Payload != silent+":online" {
		t.Fatalf("notification %+v, %v", n, err)
	}
}

type gpuRollup struct {
	samples     int
	avg, max    float64
	temp, power float64
}

func gpuRollupOf(t *testing.T, st *store.Store, table, id string, bucket time.Time, gpu int) gpuRollup {
	t.Helper()
	var r gpuRollup
	err := st.Pool.QueryRow(context.Background(), `SELECT samples, util_avg, util_max, temp_avg, power_max FROM `+table+`
		WHERE machine_id = $1 AND bucket = $2 AND gpu_index = $3`, id, bucket, gpu).Scan(&r.samples, &r.avg, &r.max, &r.temp, &r.power)
	if err != nil {
		t.Fatalf("%s %s %s gpu %d: %v", table, id, bucket, gpu, err)
	}
	return r
}

type fleetRow struct {
	samples  int
	sum, max float64
	gpus     int
}

func fleetOf(t *testing.T, st *store.Store, table string, bucket time.Time) map[string]fleetRow {
	t.Helper()
	rows, err := st.Pool.Query(context.Background(), `SELECT region, samples, util_sum, util_max, gpus FROM `+table+` WHERE bucket = $1`, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]fleetRow{}
	for rows.Next() {
		var reg string
		var f fleetRow
		if err := rows.Scan(&reg, &f.samples, &f.sum, &f.max, &f.gpus); err != nil {
			t.Fatal(err)
		}
		out[reg] = f
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

// Roll-ups: minute and hour averages are exact (weighted by samples), maxima
// kept, the fleet trend per region, late samples recomputed at both levels.
func TestRollUp(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	now := time.Date(2031, 3, 2, 10, 2, 15, 0, time.UTC)
	a := &Metrics{Store: st, Now: func() time.Time { return now }}
	g := store.NewIngester(st, store.IngestOptions{Wait: time.Millisecond})
	bj := metricsMachine(t, st, "bj", "北京", "online")
	sh := metricsMachine(t, st, "sh", "上海", "online")
	t0 := time.Date(2031, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	submit(t, g, bj, at(40*time.Second), round(at(5*time.Second), 10, 50), round(at(35*time.Second), 30, 50))
	submit(t, g, sh, at(70*time.Second), round(at(10*time.Second), 80), round(at(70*time.Second), 40))

	rollup := func(level string) store.RollupResult {
		t.Helper()
		res, err := a.RollUp(ctx, RollUpInput{Level: level, MaxSpan: 48 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// the first run starts at the oldest raw partition and stops at the last finished minute
	res := rollup(store.Level1m)
	if !res.From.Equal(time.Date(2031, 3, 2, 0, 0, 0, 0, time.UTC)) || !res.To.Equal(at(2*time.Minute)) || res.More {
		t.Fatalf("first run %+v", res)
	}
	if r := gpuRollupOf(t, st, "gpu_samples_1m", bj, t0, 0); r.samples != 2 || !near(r.avg, 20) || r.max != 30 || !near(r.temp, 52) || r.power != 30 {
		t.Fatalf("bj gpu0 10:00 %+v", r)
	}
	f := fleetOf(t, st, "gpu_fleet_1m", t0)
	if f["北京"] != (fleetRow{4, 140, 50, 2}) || f["上海"] != (fleetRow{1, 80, 80, 1}) {
		t.Fatalf("fleet 10:00 %+v", f)
	}
	var cpuAvg, memAvg, diskMax float64
	if err := st.Pool.QueryRow(ctx, `SELECT cpu_avg, mem_pct_avg, disk_pct_max FROM host_samples_1m WHERE machine_id = $1 AND bucket = $2`, bj, t0).
		Scan(&cpuAvg, &memAvg, &diskMax); err != nil || !near(cpuAvg, 20) || !near(memAvg, 25) || !near(diskMax, 50) {
		t.Fatalf("host 1m: %v %v %v %v", cpuAvg, memAvg, diskMax, err)
	}

	// a late sample for 10:00 (the machine's buffer after a short outage)
	now = now.Add(5 * time.Second)
	submit(t, g, bj, now, round(at(50*time.Second), 80, 50))
	now = at(3*time.Minute + 15*time.Second)
	if res = rollup(store.Level1m); res.Late != 1 {
		t.Fatalf("late run %+v", res)
	}
	if r := gpuRollupOf(t, st, "gpu_samples_1m", bj, t0, 0); r.samples != 3 || !near(r.avg, 40) || r.max != 80 {
		t.Fatalf("bj gpu0 10:00 after the late sample %+v", r)
	}
	if f := fleetOf(t, st, "gpu_fleet_1m", t0); f["北京"] != (fleetRow{6, 270, 50, 2}) {
		t.Fatalf("fleet 10:00 after the late sample %+v", f)
	}

	// the hour: only once the minutes are done through its end
	if res = rollup(store.Level1h); res.To.After(t0) {
		t.Fatalf("1h ran ahead of the minutes: %+v", res)
	}
	now = time.Date(2031, 3, 2, 11, 0, 30, 0, time.UTC)
	rollup(store.Level1m)
	if res = rollup(store.Level1h); !res.To.Equal(t0.Add(time.Hour)) {
		t.Fatalf("1h %+v", res)
	}
	if r := gpuRollupOf(t, st, "gpu_samples_1h", bj, t0, 0); r.samples != 3 || !near(r.avg, 40) || r.max != 80 {
		t.Fatalf("bj gpu0 10h %+v", r)
	}
	// 上海: 80 at 10:00 and 40 at 10:01, one sample each: the hour is 60, not the average of averages weighted wrong
	if r := gpuRollupOf(t, st, "gpu_samples_1h", sh, t0, 0); r.samples != 2 || !near(r.avg, 60) || r.max != 80 {
		t.Fatalf("sh gpu0 10h %+v", r)
	}
	if f := fleetOf(t, st, "gpu_fleet_1h", t0); f["北京"] != (fleetRow{6, 270, 50, 2}) || f["上海"] != (fleetRow{2, 120, 80, 1}) {
		t.Fatalf("fleet 10h %+v", f)
	}

	// late for the hour as well: a sample for 10:30 arriving at 11:01
	now = time.Date(2031, 3, 2, 11, 1, 0, 0, time.UTC)
	submit(t, g, sh, now, round(at(30*time.Minute), 90))
	now = now.Add(30 * time.Second)
	if res = rollup(store.Level1m); res.Late != 1 {
		t.Fatalf("1m late %+v", res)
	}
	if res = rollup(store.Level1h); res.Late != 1 {
		t.Fatalf("1h late %+v", res)
	}
	if r := gpuRollupOf(t, st, "gpu_samples_1h", sh, t0, 0); r.samples != 3 || !near(r.avg, 70) || r.max != 90 {
		t.Fatalf("sh gpu0 10h after the late sample %+v", r)
	}
	if f := fleetOf(t, st, "gpu_fleet_1h", t0); f["上海"] != (fleetRow{3, 210, 90, 1}) {
		t.Fatalf("fleet 10h after the late sample %+v", f)
	}
	var left int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM metrics_rollup_late`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d late notes left", left)
	}
}

// Retention drops whole partitions (and trims the small fleet tables);
// partitions are made ahead of time.
func TestPartitionsAndRetention(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	now := time.Date(2031, 3, 31, 12, 0, 0, 0, time.UTC)
	a := &Metrics{Store: st, Now: func() time.Time { return now }}
	created, err := a.EnsurePartitions(ctx, EnsurePartitionsInput{DaysAhead: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gpu_samples_p20310331", "gpu_samples_p20310402", "host_samples_1m_p20310402", "gpu_samples_1h_p203103", "host_samples_1h_p203105"} {
		if !slices.Contains(created.Created, want) {
			t.Errorf("%s not created: %v", want, created.Created)
		}
	}
	if again, _ := a.EnsurePartitions(ctx, EnsurePartitionsInput{DaysAhead: 2}); len(again.Created) != 0 {
		t.Fatalf("created twice: %v", again.Created)
	}
	// old data: raw 8 and 6 days ago, minute roll-ups 31 days ago, hourly 400 days ago
	for _, p := range []struct {
		table string
		at    time.Time
	}{{"gpu_samples", now.AddDate(0, 0, -8)}, {"gpu_samples", now.AddDate(0, 0, -6)}, {"host_samples", now.AddDate(0, 0, -8)},
		{"gpu_samples_1m", now.AddDate(0, 0, -31)}, {"gpu_samples_1h", now.AddDate(0, 0, -400)}, {"gpu_samples_1h", now.AddDate(0, -11, 0)}} {
		if _, err := st.EnsurePartition(ctx, p.table, p.at); err != nil {
			t.Fatal(err)
		}
	}
	g := store.NewIngester(st, store.IngestOptions{Wait: time.Millisecond, RetentionRaw: 30 * 24 * time.Hour})
	id := metricsMachine(t, st, "old", "北京", "online")
	submit(t, g, id, now, round(now.AddDate(0, 0, -8), 1), round(now.AddDate(0, 0, -6), 1))
	if _, err := st.Pool.Exec(ctx, `INSERT INTO gpu_fleet_1m VALUES ($1, 'x', 1, 1, 1, 1), ($2, 'x', 1, 1, 1, 1)`,
		now.AddDate(0, 0, -31), now.AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	res, err := a.DropExpired(ctx, DropExpiredInput{RetentionRaw: 7 * 24 * time.Hour, Retention1m: 30 * 24 * time.Hour, Retention1h: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Dropped)
	want := []string{"gpu_samples_1h_p203002", "gpu_samples_1m_p20310228", "gpu_samples_p20310323", "host_samples_p20310323"}
	if fmt.Sprint(res.Dropped) != fmt.Sprint(want) || res.RowsDeleted != 1 {
		t.Fatalf("dropped %v (%d rows), want %v", res.Dropped, res.RowsDeleted, want)
	}
	var rows int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM gpu_samples`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d raw rows left, want the 6-day-old one", rows)
	}
	if res, _ = a.DropExpired(ctx, DropExpiredInput{RetentionRaw: 7 * 24 * time.Hour, Retention1m: 30 * 24 * time.Hour, Retention1h: 365 * 24 * time.Hour}); len(res.Dropped) != 0 {
		t.Fatalf("second run dropped %v", res.Dropped)
	}
}
