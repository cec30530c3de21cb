// Command ingest drives simulated agents against a running RemoteGPU api and
// reports the sustained ingest rate and latency, beside the raw pgx COPY rate
// into the same table measured in the same run. It only talks to a local
// stack (127.0.0.0/8, localhost, [::1]) and stops by itself.
//
// It adds -machines machines with bootstrap tokens straight into the
// database, registers every agent through the api, then:
//
//  1. target: every agent posts one round (-gpus GPUs and the host) every
//     -interval, at a random phase, for -d (after -warmup);
//  2. ceiling: -ceiling concurrency levels of agents posting back to back, for
//     -cd each: the highest sustained rate and its latency;
//  3. copy: pgx CopyFrom of the same rows into gpu_samples in batches of -copy-batch.
//
// and removes its machines and their samples at the end.
//
//	go run ./bench/ingest -url http://127.0.0.1:8080 -db postgres://postgres@127.0.0.1:5432/remotegpu
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remotegpu/remotegpu/bench/internal/benchfleet"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func main() {
	base := flag.String("url", envOr("REMOTEGPU_URL", "http://127.0.0.1:8080"), "base URL of the api")
	dsn := flag.String("db", os.Getenv("DATABASE_URL"), "the api's database (to add the machines and measure COPY)")
	machines := flag.Int("machines", 2000, "simulated agents")
	gpus := flag.Int("gpus", 8, "GPUs per machine")
	interval := flag.Duration("interval", 5*time.Second, "sampling interval of each agent")
	dur := flag.Duration("d", 60*time.Second, "measured duration of the target phase")
	warmup := flag.Duration("warmup", 10*time.Second, "unmeasured start of the target phase")
	ceiling := flag.String("ceiling", "8,32,128,512", "concurrency levels of the ceiling phase (empty: skip)")
	ceilDur := flag.Duration("cd", 20*time.Second, "duration of each ceiling level")
	copyRows := flag.Int("copy-rows", 400000, "rows for the raw COPY measurement (0: skip)")
	copyBatch := flag.Int("copy-batch", 5000, "rows per COPY")
	keep := flag.Bool("keep", false, "keep the bench machines and their samples")
	flag.Parse()

	if err := local(*base, *dsn); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		fail(err)
	}
	defer pool.Close()

	run := fmt.Sprintf("bench-ingest-%d", time.Now().Unix())
	fmt.Printf("run %s: %d machines × %d GPUs every %s against %s\n", run, *machines, *gpus, *interval, *base)
	boots, err := benchfleet.AddMachines(ctx, pool, run, *machines, *gpus)
	if err != nil {
		fail(err)
	}
	defer func() {
		if !*keep {
			cleanup(pool, run)
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: *machines + 100, MaxIdleConnsPerHost: *machines + 100,
		IdleConnTimeout: time.Minute, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	start := time.Now()
	agents, err := register(client, *base, boots, *gpus)
	if err != nil {
		fail(err)
	}
	fmt.Printf("registered %d agents through the api in %s\n\n", len(agents), time.Since(start).Round(time.Millisecond))

	// 1. the target load
	commits0 := commits(ctx, pool)
	res := target(client, *base, agents, *interval, *warmup, *dur)
	commitRate := float64(commits(ctx, pool)-commits0) / (*warmup + *dur).Seconds()
	fmt.Printf("target: %d agents × %d GPUs every %s (offered %.0f requests/s, %.0f GPU samples/s)\n", len(agents), *gpus, *interval,
		float64(len(agents))/interval.Seconds(), float64(len(agents)*(*gpus))/interval.Seconds())
	header()
	res.print("target", *gpus)
	fmt.Printf("database commits during the phase: %.0f/s (≈ ingest batches: one transaction per batch)\n\n", commitRate)

	// 2. the ceiling
	if *ceiling != "" {
		fmt.Println("ceiling: agents posting back to back")
		header()
		var best *result
		for _, f := range strings.Split(*ceiling, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || c < 1 {
				fail(fmt.Errorf("bad -ceiling level %q", f))
			}
			c = min(c, len(agents))
			r := closedLoop(client, *base, agents[:c], *ceilDur)
			r.print(fmt.Sprintf("c=%d", c), *gpus)
			if r.rate() > best.rate() {
				best = r
			}
		}
		fmt.Printf("ceiling: %.0f GPU samples/s (%.0f requests/s, p99 %s)\n\n", best.rate()*float64(*gpus), best.rate(), ms(best.pct(0.99)))
	}

	// 3. raw COPY into the same table, same rows
	if *copyRows > 0 {
		rate, err := copyRate(ctx, pool, *copyRows, *copyBatch, *gpus)
		if err != nil {
			fail(err)
		}
		fmt.Printf("raw pgx COPY into gpu_samples: %.0f rows/s (%d rows in batches of %d, one connection)\n", rate, *copyRows, *copyBatch)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ingest:", err)
	os.Exit(1)
}

// local refuses anything but a loopback api and database.
func local(base, dsn string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("-url must be http://127.x.x.x, localhost or [::1]")
	}
	if !benchfleet.Loopback(u.Hostname()) {
		return fmt.Errorf("-url %s is not local: this bench only targets 127.0.0.0/8, localhost or [::1]", base)
	}
	return benchfleet.LocalDB(dsn)
}

func cleanup(pool *pgxpool.Pool, run string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sub := `(SELECT id FROM machines WHERE name LIKE '` + run + `-%')`
	for _, q := range []string{`DELETE FROM gpu_samples WHERE machine_id IN ` + sub, `DELETE FROM host_samples WHERE machine_id IN ` + sub,
		`DELETE FROM metrics_rollup_late WHERE machine_id IN ` + sub, `DELETE FROM machine_latest WHERE machine_id IN ` + sub,
		`DELETE FROM machines WHERE name LIKE '` + run + `-%'`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
			return
		}
	}
	fmt.Println("removed the bench machines and their samples")
}

type agent struct {
	id, token string
	gpus      int
}

func register(client *http.Client, base string, boots []benchfleet.Boot, gpus int) ([]agent, error) {
	agents := make([]agent, len(boots))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 16)
	for i, b := range boots {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			inv := agentproto.Inventory{Hostname: "bench", OS: "linux", GPUSource: agentproto.GPUSourceSimulated, CPUCores: 64, MemoryMiB: 512 << 10}
			for g := range gpus {
				inv.GPUs = append(inv.GPUs, agentproto.GPUInfo{Index: g, Model: "NVIDIA H100 80GB HBM3", MemoryMiB: 81559})
			}
			body, _ := json.Marshal(agentproto.RegisterRequest{MachineID: b.ID, BootstrapToken: b.Token, Inventory: inv})
			var rr agentproto.RegisterResponse
			if err := call(client, base+agentproto.PathRegister, "", body, &rr); err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			agents[i] = agent{id: b.ID, token: rr.AgentToken, gpus: gpus}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, fmt.Errorf("unable to register: %w", err)
	}
	return agents, nil
}

func call(client *http.Client, u, token string, body []byte, out any) error {
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", u, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return err
	}
	return json.Unmarshal(env.Data, out)
}

// samplesBody is one round as a simulated agent reports it.
func samplesBody(gpus int, at time.Time, r *mrand.Rand) []byte {
	s := agentproto.Sample{At: at, Host: agentproto.HostSample{CPUPct: r.Float64() * 100, MemUsedMiB: 200 << 10, MemTotalMiB: 512 << 10,
		Disks:    []agentproto.DiskSample{{Mount: "/", UsedGiB: 500, TotalGiB: 3700, ReadBps: r.Float64() * 1e8, WriteBps: r.Float64() * 1e8}},
		NetRxBps: r.Float64() * 1e9, NetTxBps: r.Float64() * 1e9, Load1: r.Float64() * 64}}
	for g := range gpus {
		gs := agentproto.GPUSample{Index: g, Utilization: math.Round(r.Float64()*1000) / 10, MemUsedMiB: r.Int64N(81559), MemTotalMiB: 81559,
			TempC: 40 + r.Float64()*40, PowerW: 100 + r.Float64()*600, PowerLimitW: 700,
			Processes: []agentproto.GPUProcess{{PID: 1000 + g, Name: "python train.py", MemUsedMiB: 40000}}}
		s.GPUs = append(s.GPUs, gs)
	}
	b, _ := json.Marshal(agentproto.SamplesRequest{Samples: []agentproto.Sample{s}})
	return b
}

type result struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	errSample string
	window    time.Duration
}

func (r *result) add(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		if r.errSample == "" {
			r.errSample = err.Error()
		}
		return
	}
	r.latencies = append(r.latencies, d)
}

func (r *result) rate() float64 {
	if r == nil || r.window == 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.window.Seconds()
}

func (r *result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func header() {
	fmt.Printf("%-8s %9s %10s %14s %9s %9s %9s %9s %7s\n", "phase", "requests", "req/s", "GPU samples/s", "p50", "p90", "p99", "max", "errors")
}

func (r *result) print(name string, gpus int) {
	fmt.Printf("%-8s %9d %10.1f %14.0f %9s %9s %9s %9s %7d\n", name, len(r.latencies), r.rate(), r.rate()*float64(gpus),
		ms(r.pct(0.5)), ms(r.pct(0.9)), ms(r.pct(0.99)), ms(r.pct(1)), r.errors)
	if r.errSample != "" {
		fmt.Println("  first error:", r.errSample)
	}
}

func post(client *http.Client, base string, a agent, r *mrand.Rand) (time.Duration, error) {
	body := samplesBody(a.gpus, time.Now(), r)
	start := time.Now()
	var res agentproto.SamplesResponse
	err := call(client, base+agentproto.PathSamples, a.token, body, &res)
	d := time.Since(start)
	if err == nil && res.Accepted != 1 {
		err = fmt.Errorf("accepted %d of 1", res.Accepted)
	}
	return d, err
}

// target runs every agent on its own ticker; only requests started after warmup count.
func target(client *http.Client, base string, agents []agent, interval, warmup, dur time.Duration) *result {
	res := &result{window: dur}
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+dur)
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(i), 1))
			time.Sleep(time.Duration(r.Int64N(int64(interval)))) // random phase
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				now := time.Now()
				if now.After(end) {
					return
				}
				d, err := post(client, base, a, r)
				if now.After(measureFrom) {
					res.add(d, err)
				}
				<-t.C
			}
		}()
	}
	wg.Wait()
	return res
}

// closedLoop runs c agents posting back to back.
func closedLoop(client *http.Client, base string, agents []agent, dur time.Duration) *result {
	res := &result{window: dur}
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(i), 2))
			for time.Now().Before(end) {
				d, err := post(client, base, a, r)
				res.add(d, err)
			}
		}()
	}
	wg.Wait()
	return res
}

func commits(ctx context.Context, pool *pgxpool.Pool) int64 {
	var n int64
	_ = pool.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n
}

// copyRate writes rows shaped like the ingest's into gpu_samples with pgx
// CopyFrom (a machine id of its own, deleted afterwards).
func copyRate(ctx context.Context, pool *pgxpool.Pool, n, batch, gpus int) (float64, error) {
	id := uuid.New()
	r := mrand.New(mrand.NewPCG(7, 7))
	now := time.Now().UTC()
	rows := make([][]any, n)
	for i := range rows {
		fan := float32(30)
		rows[i] = []any{[16]byte(id), now.Add(-time.Duration((i/gpus)%600) * time.Second), int16(i % gpus), float32(r.Float64() * 100), int32(40000),
			int32(81559), float32(60), float32(300), float32(700), &fan, (*int64)(nil)}
	}
	// the partition exists already (the ingest made it); rows spread over the last 10 minutes
	cols := []string{"machine_id", "at", "gpu_index", "utilization", "mem_used_mib", "mem_total_mib", "temp_c", "power_w", "power_limit_w", "fan_pct", "ecc_errors"}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	defer func() { _, _ = pool.Exec(context.Background(), `DELETE FROM gpu_samples WHERE machine_id = $1`, id) }()
	start := time.Now()
	for i := 0; i < n; i += batch {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"gpu_samples"}, cols, pgx.CopyFromRows(rows[i:min(n, i+batch)])); err != nil {
			if strings.Contains(err.Error(), "no partition") {
				return 0, errors.New("raw COPY: no partition for the last 10 minutes: run it after the ingest, not right after midnight UTC")
			}
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
