package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func mkMachine(t *testing.T, st *store.Store, name, region, status string) string {
	t.Helper()
	m := &store.Machine{Name: name, Region: region, GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: name + ".test", SSHPort: 22,
		SSHUser: "root", SSHPasswordEnc: []byte{1}, Status: status}
	if err := st.CreateMachine(context.Background(), m, ""); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// sample is one round of n GPUs at util%, with one process on GPU 0.
func sample(at time.Time, n int, util float64) agentproto.Sample {
	s := agentproto.Sample{At: at, Host: agentproto.HostSample{CPUPct: util / 2, MemUsedMiB: 1024, MemTotalMiB: 4096,
		Disks:    []agentproto.DiskSample{{Mount: "/", UsedGiB: 50, TotalGiB: 100, ReadBps: 10, WriteBps: 20}, {Mount: "/data", UsedGiB: 90, TotalGiB: 100}},
		NetRxBps: 1000, NetTxBps: 500, Load1: 1.5}}
	for i := range n {
		g := agentproto.GPUSample{Index: i, Utilization: util, MemUsedMiB: 40000, MemTotalMiB: 80000, TempC: 60 + float64(i), PowerW: 300, PowerLimitW: 700}
		if i == 0 {
			g.Processes = []agentproto.GPUProcess{{PID: 42, Name: "python", MemUsedMiB: 40000}}
		}
		s.GPUs = append(s.GPUs, g)
	}
	return s
}

func count(t *testing.T, st *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Concurrent requests are written in few transactions, and each returns
// only once its rows are committed.
func TestIngesterBatchesConcurrentRequests(t *testing.T) {
	t.Parallel()
	st, dsn := storetest.New(t)
	ctx := context.Background()
	const machines = 40
	ids := make([]string, machines)
	for i := range ids {
		status := "online"
		switch i {
		case 0:
			status = "offline"
		case 1:
			status = "maintenance"
		}
		ids[i] = mkMachine(t, st, fmt.Sprintf("m%02d", i), "北京", status)
	}
	listen, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close(ctx)
	if _, err := listen.Exec(ctx, `LISTEN machine_metrics; LISTEN machine_status`); err != nil {
		t.Fatal(err)
	}

	g := store.NewIngester(st, store.IngestOptions{Wait: 100 * time.Millisecond, Writers: 1})
	now := time.Now().UTC().Truncate(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, machines)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// a backlog round and the current one
			n, err := g.Submit(ctx, id, now, []agentproto.Sample{sample(now.Add(-5*time.Second), 8, 10), sample(now, 8, float64(i))})
			if err == nil && n != 2 {
				err = fmt.Errorf("stored %d of 2", n)
			}
			if err == nil && count(t, st, `SELECT count(*) FROM gpu_samples WHERE machine_id = $1`, id) != 16 {
				err = fmt.Errorf("Submit returned before the rows of %s were visible", id)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stats := g.Stats()
	if stats.Requests != machines || stats.GPURows != machines*16 || stats.HostRows != machines*2 {
		t.Fatalf("stats %+v", stats)
	}
	if stats.Batches > 5 {
		t.Fatalf("%d concurrent requests took %d transactions", machines, stats.Batches)
	}
	if n := count(t, st, `SELECT count(*) FROM gpu_samples`); n != machines*16 {
		t.Fatalf("%d GPU rows", n)
	}
	if n := count(t, st, `SELECT count(*) FROM host_samples WHERE disk_pct = 90 AND disk_used_gib = 140 AND disk_read_bps = 10`); n != machines*2 {
		t.Fatalf("%d host rows with the fullest disk and sums", n)
	}
	// the latest figures are the newest round's, processes apart from the GPUs
	l, err := st.MachineLatest(ctx, ids[7])
	if err != nil {
		t.Fatal(err)
	}
	if !l.SampleAt.Equal(now) || *l.GPUUtil != 7 || len(l.GPUs) != 8 || l.GPUs[3].TempC != 63 || len(l.Processes) != 1 ||
		l.Processes[0].PID != 42 || l.DiskPct != 90 || l.MemPct != 25 || len(l.Host.Disks) != 2 {
		t.Fatalf("latest %+v", l)
	}
	// last_seen_at on every machine; offline came back, maintenance stayed
	if n := count(t, st, `SELECT count(*) FROM machines WHERE last_seen_at = $1`, now); n != machines {
		t.Fatalf("last_seen_at on %d machines", n)
	}
	var s0, s1 string
	_ = st.Pool.QueryRow(ctx, `SELECT (SELECT status FROM machines WHERE id = $1), (SELECT status FROM machines WHERE id = $2)`, ids[0], ids[1]).Scan(&s0, &s1)
	if s0 != "online" || s1 != "maintenance" {
		t.Fatalf("statuses %s %s", s0, s1)
	}
	got := map[string]bool{}
	for len(got) < machines+1 {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := listen.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatalf("notifications so far %d: %v", len(got), err)
		}
		got[n.Channel+" "+n.Payload] = true
	}
	if !got["machine_status "+ids[0]+":online"] || !got["machine_metrics "+ids[5]] {
		t.Fatalf("notifications %v", got)
	}

	// an older backlog arriving later does not replace the latest figures
	if _, err := g.Submit(ctx, ids[7], now.Add(time.Second), []agentproto.Sample{sample(now.Add(-time.Minute), 8, 99)}); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.MachineLatest(ctx, ids[7]); *l.GPUUtil != 7 {
		t.Fatalf("a backlog replaced the latest figures: %v", *l.GPUUtil)
	}
}

// Rows land in the partition of their UTC day, created on demand (also
// after one is dropped behind the ingester's back); rounds older than the
// retention are dropped, rounds from the future are clamped.
func TestIngestPartitions(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	id := mkMachine(t, st, "p1", "北京", "online")
	g := store.NewIngester(st, store.IngestOptions{Wait: time.Millisecond, RetentionRaw: 48 * time.Hour})
	received := time.Date(2031, 3, 2, 0, 0, 30, 0, time.UTC)
	n, err := g.Submit(ctx, id, received, []agentproto.Sample{
		sample(received.Add(-time.Minute), 2, 1),  // 2031-03-01 23:59:30
		sample(received.Add(-time.Second), 2, 2),  // 2031-03-02 00:00:29
		sample(received.Add(-72*time.Hour), 2, 3), // older than the retention
		sample(received.Add(time.Hour), 2, 4),     // from the future
	})
	if err != nil || n != 3 {
		t.Fatalf("stored %d, %v", n, err)
	}
	rows, err := st.Pool.Query(ctx, `SELECT tableoid::regclass::text, at, utilization FROM gpu_samples WHERE gpu_index = 0 ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var part string
		var at time.Time
		var u float32
		err := row.Scan(&part, &at, &u)
		return fmt.Sprintf("%s %s %v", part, at.UTC().Format(time.RFC3339), u), err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gpu_samples_p20310301 2031-03-01T23:59:30Z 1", "gpu_samples_p20310302 2031-03-02T00:00:29Z 2", "gpu_samples_p20310302 2031-03-02T00:00:30Z 4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows\n%v\nwant\n%v", got, want)
	}
	if g.Stats().Dropped != 1 {
		t.Fatalf("dropped %d", g.Stats().Dropped)
	}
	// drop today's partition: the next write makes it again
	if dropped, err := st.DropPartitionsBefore(ctx, "gpu_samples", received.Add(24*time.Hour)); err != nil || len(dropped) != 2 {
		t.Fatalf("dropped %v, %v", dropped, err)
	}
	if _, err := g.Submit(ctx, id, received, []agentproto.Sample{sample(received, 2, 5)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, `SELECT count(*) FROM gpu_samples_p20310302`); n != 2 {
		t.Fatalf("%d rows after the partition came back", n)
	}
}
