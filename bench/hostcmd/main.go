// Command hostcmd measures the host channel (internal/hostchan): agents
// long-polling POST /api/agent/commands/poll, workflows whose host activity
// waits for the agent's answer. It only talks to a local stack
// (127.0.0.0/8, localhost, [::1]) and stops by itself.
//
// It adds -agents machines with bootstrap tokens straight into the api's
// database, registers one simulated agent per machine through the api and
// runs each with the real agent's command loop (agent/commands over
// agent/pusher: long poll with the running list, ping answered with its
// seq, results retried), so the api sees exactly what real agents send.
// Then, by -mode:
//
//   - roundtrip: starts -commands HostPing workflows (after -warmup
//     uncounted ones) on the worker's task queue, spread over the machines,
//     at most -concurrency in flight, and reports the end-to-end time
//     (workflow start → result at the client) and the host command itself
//     (ActivityTaskScheduled → ActivityTaskCompleted in each history), with
//     where the time goes (history events and the host_commands row).
//   - idle: the agents long-poll with nothing to do for -d; it reports the
//     api process's memory from /metrics before the agents connect, once
//     every one holds a poll, and at the end, per agent, and the polls.
//
// It removes its machines and their host_commands rows at the end.
// Temporal settings and the payload key come from the environment like the
// api's (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
// TEMPORAL_PAYLOAD_KEY); `remotegpu testenv` exports them all:
//
//	make build && bin/remotegpu testenv -- go run ./bench/hostcmd -mode roundtrip -agents 50 -commands 1000 -concurrency 50
//	make build && bin/remotegpu testenv -- go run ./bench/hostcmd -mode idle -agents 2000 -d 60s
//
// /metrics is not public: -metrics names it (default http://$METRICS_ADDR/metrics,
// as testenv sets it) and -metrics-token its bearer token (METRICS_TOKEN).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/bench/internal/benchfleet"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

type options struct {
	base, dsn             string
	metricsURL, metricsTk string
	agents                int
	commands, warmup, par int
	dur, wait             time.Duration
	histories             int
	keep                  bool
}

func main() {
	var o options
	mode := flag.String("mode", "roundtrip", "roundtrip or idle")
	flag.StringVar(&o.base, "url", envOr("REMOTEGPU_URL", "http://127.0.0.1:8080"), "base URL of the api")
	flag.StringVar(&o.dsn, "db", os.Getenv("DATABASE_URL"), "the api's database (to add and remove the machines)")
	flag.IntVar(&o.agents, "agents", 0, "simulated agents, one machine each (default 50 for roundtrip, 2000 for idle)")
	flag.IntVar(&o.commands, "commands", 1000, "roundtrip: measured HostPing workflows")
	flag.IntVar(&o.warmup, "warmup", 100, "roundtrip: HostPing workflows run first and not counted")
	flag.IntVar(&o.par, "concurrency", 50, "roundtrip: workflows in flight at most")
	flag.IntVar(&o.histories, "histories", 0, "roundtrip: fetch at most this many histories for the breakdown (0: all)")
	flag.DurationVar(&o.dur, "d", 60*time.Second, "idle: how long the agents poll once all are connected")
	flag.DurationVar(&o.wait, "wait", commands.DefaultWait, "how long each poll may be held (the agent's REMOTEGPU_POLL_WAIT)")
	flag.StringVar(&o.metricsURL, "metrics", defaultMetricsURL(), "the api's /metrics (on METRICS_ADDR, or the api's own with -metrics-token)")
	flag.StringVar(&o.metricsTk, "metrics-token", os.Getenv("METRICS_TOKEN"), "bearer token for /metrics (METRICS_TOKEN)")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench machines and their host commands")
	flag.Parse()
	if o.metricsURL == "" {
		o.metricsURL = strings.TrimRight(o.base, "/") + "/metrics"
	}
	if o.agents == 0 {
		o.agents = map[string]int{"roundtrip": 50, "idle": 2000}[*mode]
	}
	if err := local(o); err != nil {
		fmt.Fprintln(os.Stderr, "hostcmd:", err)
		os.Exit(2)
	}
	if o.agents < 1 || o.agents > 20000 || o.commands < 1 || o.par < 1 || o.warmup < 0 {
		fail(errors.New("-agents must be 1..20000, -commands and -concurrency at least 1"))
	}
	raiseFileLimit(o.agents)

	// Interrupted (Ctrl-C, or testenv ending the command), it still stops
	// the agents and removes its machines.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	pool, err := pgxpool.New(context.Background(), o.dsn)
	if err != nil {
		fail(err)
	}
	defer pool.Close()
	run := fmt.Sprintf("bench-hostcmd-%d", time.Now().Unix())
	switch *mode {
	case "roundtrip":
		err = roundtrip(ctx, o, pool, run)
	case "idle":
		err = idle(ctx, o, pool, run)
	default:
		err = fmt.Errorf("-mode must be roundtrip or idle, not %q", *mode)
	}
	if !o.keep {
		cleanup(pool, run)
	}
	if err != nil {
		fail(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hostcmd:", err)
	os.Exit(1)
}

// local refuses anything but a loopback api, database, /metrics and Temporal.
func local(o options) error {
	for name, raw := range map[string]string{"-url": o.base, "-metrics": o.metricsURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || !benchfleet.Loopback(u.Hostname()) {
			return fmt.Errorf("%s %s is not local: this bench only targets http://127.0.0.0/8, localhost or [::1]", name, raw)
		}
	}
	if err := benchfleet.LocalDB(o.dsn); err != nil {
		return err
	}
	if a := os.Getenv("TEMPORAL_ADDRESS"); a != "" {
		if h, _, err := net.SplitHostPort(a); err != nil || !benchfleet.Loopback(h) {
			return fmt.Errorf("TEMPORAL_ADDRESS %s is not local", a)
		}
	}
	return nil
}

// raiseFileLimit makes room for one connection per agent (plus the
// database, Temporal and the go tool's own files). Go already lifts the
// soft limit to the hard one at start; this says so, and fails early when
// even the hard limit is too low rather than half-way through connecting.
func raiseFileLimit(agents int) {
	need := uint64(agents + 256)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < need && lim.Max >= need {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	fmt.Printf("bench process RLIMIT_NOFILE %d (hard %d), needs about %d\n", lim.Cur, lim.Max, need)
	if lim.Cur < need {
		fail(fmt.Errorf("open-file limit %d is below the %d this run needs: raise `ulimit -n` (hard limit) and run again", lim.Cur, need))
	}
}

// cpuBusy reads the machine's busy and total CPU time (jiffies) from
// /proc/stat: with everything on one machine, whether it was saturated
// says more about a latency than the latency itself.
func cpuBusy() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, x := range f[1:] {
		v, _ := strconv.ParseFloat(x, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// selfCPU is the CPU time this process used so far (the agents and the Temporal client).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---- machines and agents -----------------------------------------------------

// cleanup removes the run's machines and their host commands (the rows
// cascade with the machine; deleted first all the same, so a schema that
// stops cascading does not leave them behind).
func cleanup(pool *pgxpool.Pool, run string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	like := run + "-%"
	var cmds, machines int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM host_commands WHERE machine_id IN (SELECT id FROM machines WHERE name LIKE $1)`, like)
		if err != nil {
			return err
		}
		cmds = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `DELETE FROM machines WHERE name LIKE $1`, like)
		machines = tag.RowsAffected()
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		return
	}
	fmt.Printf("removed %d bench machines and %d host commands\n", machines, cmds)
}

// httpClient is shared by the agents; one kept-alive connection per agent,
// as each real agent holds its own (without enough idle slots every poll
// would open a new connection and leave the old one in TIME_WAIT).
func httpClient(agents int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: 2*agents + 100, MaxIdleConnsPerHost: 2*agents + 100, IdleConnTimeout: 2 * time.Minute,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

type agent struct {
	machineID string
	api       *pusher.Client
}

// register exchanges every bootstrap token for an agent token, as the agent does at its first start.
func register(ctx context.Context, hc *http.Client, base string, boots []benchfleet.Boot) ([]agent, error) {
	agents := make([]agent, len(boots))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 16)
	for i, b := range boots {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := &pusher.Client{BaseURL: base, HTTP: hc, Timeout: 30 * time.Second, UserAgent: "remotegpu-agent/bench-hostcmd"}
			inv := agentproto.Inventory{Hostname: "bench", OS: "linux", GPUSource: agentproto.GPUSourceSimulated, CPUCores: 64, MemoryMiB: 512 << 10}
			if _, err := c.Register(ctx, agentproto.RegisterRequest{MachineID: b.ID, BootstrapToken: b.Token, Inventory: inv}); err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			agents[i] = agent{machineID: b.ID, api: c}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, fmt.Errorf("unable to register: %w", err)
	}
	return agents, nil
}

// pollStats counts what the agents' polls did.
type pollStats struct {
	inFlight  atomic.Int64
	polls     atomic.Int64 // answered
	errors    atomic.Int64
	early     atomic.Int64 // answered empty well before the wait: the api let go of a poll for nothing
	delivered atomic.Int64 // commands handed out
	errMu     sync.Mutex
	errSample string
}

// counted is the agent's api client with the polls counted; everything
// else goes through as is.
type counted struct {
	*pusher.Client
	st *pollStats
}

func (c counted) PollCommands(ctx context.Context, running []string, wait time.Duration) ([]agentproto.Command, error) {
	c.st.inFlight.Add(1)
	start := time.Now()
	cmds, err := c.Client.PollCommands(ctx, running, wait)
	c.st.inFlight.Add(-1)
	switch {
	case ctx.Err() != nil: // the bench stops
	case err != nil:
		c.st.errors.Add(1)
		c.st.errMu.Lock()
		if c.st.errSample == "" {
			c.st.errSample = err.Error()
		}
		c.st.errMu.Unlock()
	default:
		c.st.polls.Add(1)
		c.st.delivered.Add(int64(len(cmds)))
		if len(cmds) == 0 && time.Since(start) < wait-2*time.Second {
			c.st.early.Add(1)
		}
	}
	return cmds, err
}

// startAgents runs the real agent's command loop for every agent, their
// starts spread over ramp (real agents do not all connect in the same
// millisecond, and a synchronised herd would re-poll in lockstep), and
// returns a function that stops them and waits.
func startAgents(ctx context.Context, agents []agent, wait, ramp time.Duration, st *pollStats) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var wg sync.WaitGroup
	for i, a := range agents {
		kinds := &commands.Kinds{Simulated: true, SetToken: a.api.SetToken, SaveToken: func(string) error { return nil }, Log: log}
		loop := &commands.Loop{API: counted{a.api, st}, Handlers: kinds.Handlers(), Wait: wait, Log: log}
		delay := ramp * time.Duration(i) / time.Duration(len(agents))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			if err := loop.Run(ctx); err != nil {
				log.Error("agent loop ended", "machine", a.machineID, "err", err)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// waitPolling waits until every agent has a poll in flight.
func waitPolling(ctx context.Context, st *pollStats, n int, limit time.Duration) error {
	end := time.Now().Add(limit)
	for st.inFlight.Load() < int64(n) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(end) {
			return fmt.Errorf("only %d of %d agents hold a poll after %s (poll errors %d: %s)", st.inFlight.Load(), n, limit, st.errors.Load(), st.errSample)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// ---- /metrics -----------------------------------------------------------------

var metricLine = regexp.MustCompile(`^(process_resident_memory_bytes|go_memstats_heap_inuse_bytes|go_memstats_heap_alloc_bytes|go_memstats_stack_inuse_bytes|go_memstats_sys_bytes|go_memstats_next_gc_bytes|go_goroutines|process_open_fds|process_max_fds|process_cpu_seconds_total) ([0-9.e+]+)$`)

func scrape(o options) (map[string]float64, error) {
	req, _ := http.NewRequest(http.MethodGet, o.metricsURL, nil)
	if o.metricsTk != "" {
		req.Header.Set("Authorization", "Bearer "+o.metricsTk)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s answered %d (set -metrics to METRICS_ADDR's /metrics, or -metrics-token)", o.metricsURL, resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			out[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
	}
	return out, nil
}

// scrapeSettled takes the smallest of five readings a second apart: the
// heap between two collections is noise, what stays after one is the cost.
func scrapeSettled(o options) (map[string]float64, error) {
	best, err := scrape(o)
	if err != nil {
		return nil, err
	}
	for range 4 {
		time.Sleep(time.Second)
		m, err := scrape(o)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			if v < best[k] {
				best[k] = v
			}
		}
	}
	return best, nil
}

// ---- statistics ---------------------------------------------------------------

type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (d durations) mean() time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// defaultMetricsURL is where testenv and make run serve /metrics (METRICS_ADDR).
func defaultMetricsURL() string {
	if a := os.Getenv("METRICS_ADDR"); a != "" {
		return "http://" + a + "/metrics"
	}
	return ""
}
