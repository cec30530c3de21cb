package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/bench/internal/benchfleet"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/workflows"
)

// one HostPing workflow as the client saw it.
type ping struct {
	wfID, runID string
	start       time.Time // just before the start call
	e2e         time.Duration
	err         error
}

func roundtrip(ctx context.Context, o options, pool *pgxpool.Pool, run string) error {
	cfg, err := config.Load() // the api's own reading of TEMPORAL_* and the payload key
	if err != nil {
		return err
	}
	if len(cfg.TemporalPayloadKey) != 32 {
		return errors.New("TEMPORAL_PAYLOAD_KEY is not set: the worker would not read the workflow's input (run under `remotegpu testenv`, or export the api's key)")
	}
	copts, err := payloadcodec.ClientOptions(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	tc, err := client.Dial(copts)
	if err != nil {
		return fmt.Errorf("unable to reach Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer tc.Close()

	fmt.Printf("run %s: %d agents, %d HostPing workflows (+%d warm-up), at most %d in flight, task queue %q, api %s\n",
		run, o.agents, o.commands, o.warmup, o.par, cfg.TemporalTaskQueue, o.base)
	agents, stop, st, err := connect(ctx, o, pool, run, 2*time.Second)
	if err != nil {
		return err
	}
	defer stop()

	machines := make([]string, len(agents))
	for i, a := range agents {
		machines[i] = a.machineID
	}
	if o.warmup > 0 {
		w, _ := pings(ctx, tc, cfg.TemporalTaskQueue, run+"-warmup", machines, o.warmup, o.par)
		if n := failed(w); n > 0 {
			return fmt.Errorf("warm-up: %d of %d pings failed, first: %v", n, len(w), firstErr(w))
		}
	}
	loadBefore := loadavg()
	busy0, total0 := cpuBusy()
	self0 := selfCPU()
	api0, _ := scrape(o) // optional: without /metrics there is no api CPU line
	measured, wall := pings(ctx, tc, cfg.TemporalTaskQueue, run, machines, o.commands, o.par)
	api1, _ := scrape(o)
	busy1, total1 := cpuBusy()
	self1 := selfCPU()
	loadAfter := loadavg()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	polls, delivered, pollErrs, early := st.polls.Load(), st.delivered.Load(), st.errors.Load(), st.early.Load()

	var e2e durations
	for _, p := range measured {
		if p.err == nil {
			e2e = append(e2e, p.e2e)
		}
	}
	fmt.Printf("\nmeasured %d HostPing workflows in %s (load average before %s, after %s; 1/5/15 min, %d cores shared with the stack)\n",
		len(measured), wall.Round(time.Millisecond), loadBefore, loadAfter, runtime.NumCPU())
	if total1 > total0 {
		fmt.Printf("machine CPU busy %.0f%% of %d cores during the run", 100*(busy1-busy0)/(total1-total0), runtime.NumCPU())
		if api0 != nil && api1 != nil {
			fmt.Printf("; the api+worker process used %.2f cores (process_cpu_seconds_total)",
				(api1["process_cpu_seconds_total"]-api0["process_cpu_seconds_total"])/wall.Seconds())
		}
		fmt.Printf(", this bench %.2f cores (the rest: Temporal, Postgres and whatever else runs here)", (self1-self0).Seconds()/wall.Seconds())
		fmt.Println()
	}
	fmt.Printf("failed: %d", failed(measured))
	if err := firstErr(measured); err != nil {
		fmt.Printf(" (first: %v)", err)
	}
	fmt.Printf("; since the agents connected (warm-up included): polls answered %d, commands delivered %d, poll errors %d, empty polls let go early %d\n\n", polls, delivered, pollErrs, early)

	bd, err := breakdown(ctx, tc, pool, measured, o.histories)
	if err != nil {
		return err
	}
	header()
	row("end to end: workflow start → result at client", e2e, float64(len(e2e))/wall.Seconds())
	row("host command: ActivityTaskScheduled → Completed", bd.host, bd.hostRate)
	fmt.Printf("\nwhere the time goes (%d histories, %d host_commands rows; same clock, all local):\n", bd.histories, bd.rows)
	header()
	for _, s := range bd.stages {
		row(s.name, s.d, 0)
	}
	return nil
}

// connect adds the machines, registers the agents and starts their loops;
// it returns once every agent holds a poll (and settle more), so the first
// command does not race an agent's first request.
func connect(ctx context.Context, o options, pool *pgxpool.Pool, run string, ramp time.Duration) ([]agent, func(), *pollStats, error) {
	boots, err := benchfleet.AddMachines(ctx, pool, run, o.agents, 8)
	if err != nil {
		return nil, func() {}, nil, err
	}
	start := time.Now()
	hc := httpClient(o.agents)
	agents, err := register(ctx, hc, o.base, boots)
	if err != nil {
		return nil, func() {}, nil, err
	}
	fmt.Printf("registered %d agents through the api in %s\n", len(agents), time.Since(start).Round(time.Millisecond))
	st := &pollStats{}
	stop := startAgents(ctx, agents, o.wait, ramp, st)
	if err := waitPolling(ctx, st, len(agents), ramp+2*time.Minute); err != nil {
		stop()
		return nil, func() {}, nil, err
	}
	fmt.Printf("all %d agents hold a poll %s after the first started\n", len(agents), time.Since(start).Round(time.Millisecond))
	return agents, stop, st, nil
}

// pings runs n HostPing workflows, the i-th on machine i mod len(machines),
// at most par at once, and returns each with the wall time of the whole.
func pings(ctx context.Context, tc client.Client, queue, prefix string, machines []string, n, par int) ([]ping, time.Duration) {
	out := make([]ping, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p := &out[i]
			p.wfID = fmt.Sprintf("%s-%05d", prefix, i)
			in := workflows.HostPingInput{MachineID: machines[i%len(machines)], Seq: i, Wait: time.Minute}
			p.start = time.Now()
			r, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: p.wfID, TaskQueue: queue,
				WorkflowExecutionTimeout: 2 * time.Minute}, workflows.HostPing, in)
			if err != nil {
				p.err = err
				return
			}
			p.runID = r.GetRunID()
			var res agentproto.PingResult
			err = r.Get(ctx, &res)
			p.e2e = time.Since(p.start)
			if err == nil && res.Seq != i {
				err = fmt.Errorf("the agent answered seq %d to seq %d", res.Seq, i)
			}
			p.err = err
		}()
	}
	wg.Wait()
	return out, time.Since(start)
}

func failed(ps []ping) int {
	n := 0
	for _, p := range ps {
		if p.err != nil {
			n++
		}
	}
	return n
}

func firstErr(ps []ping) error {
	for _, p := range ps {
		if p.err != nil {
			return p.err
		}
	}
	return nil
}

type stage struct {
	name string
	d    durations
}

type breakdownResult struct {
	host            durations
	hostRate        float64
	histories, rows int
	stages          []stage
}

// events are the times one HostPing history records.
type events struct {
	wfStarted, scheduled, started, completed, wfCompleted time.Time
}

// breakdown reads the histories of the successful pings (all, or every
// k-th up to limit) and their host_commands rows, and splits the round
// trip into its steps. Every time comes from this machine's clock: the
// bench's, Temporal's and Postgres's.
func breakdown(ctx context.Context, tc client.Client, pool *pgxpool.Pool, ps []ping, limit int) (*breakdownResult, error) {
	var ok []ping
	for _, p := range ps {
		if p.err == nil {
			ok = append(ok, p)
		}
	}
	if limit > 0 && limit < len(ok) {
		sample := make([]ping, 0, limit)
		for i := range limit {
			sample = append(sample, ok[i*len(ok)/limit])
		}
		ok = sample
	}
	ev := make([]events, len(ok))
	errs := make([]error, len(ok))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, p := range ok {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ev[i], errs[i] = history(ctx, tc, p.wfID, p.runID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	ids := make([]string, len(ok))
	for i, p := range ok {
		ids[i] = p.wfID
	}
	type row struct{ created, delivered, finished time.Time }
	db := map[string]row{}
	rows, err := pool.Query(ctx, `SELECT workflow_id, created_at, delivered_at, finished_at FROM host_commands
		WHERE workflow_id = ANY($1) AND delivered_at IS NOT NULL AND finished_at IS NOT NULL`, ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.created, &r.delivered, &r.finished); err != nil {
			return nil, err
		}
		db[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	res := &breakdownResult{histories: len(ok), rows: len(db)}
	names := []string{
		"client start call → WorkflowExecutionStarted",
		"workflow started → ActivityTaskScheduled",
		"scheduled → ActivityTaskStarted (worker took it)",
		"activity started → command recorded (created_at)",
		"recorded → delivered to the agent (delivered_at)",
		"delivered → result recorded (finished_at)",
		"result recorded → ActivityTaskCompleted",
		"activity completed → WorkflowExecutionCompleted",
		"workflow completed → result at client",
	}
	res.stages = make([]stage, len(names))
	for i := range names {
		res.stages[i].name = names[i]
	}
	var first, last time.Time
	for i, p := range ok {
		e := ev[i]
		res.host = append(res.host, e.completed.Sub(e.scheduled))
		if first.IsZero() || e.scheduled.Before(first) {
			first = e.scheduled
		}
		if e.completed.After(last) {
			last = e.completed
		}
		add := func(k int, from, to time.Time) { res.stages[k].d = append(res.stages[k].d, to.Sub(from)) }
		add(0, p.start, e.wfStarted)
		add(1, e.wfStarted, e.scheduled)
		add(2, e.scheduled, e.started)
		if r, found := db[p.wfID]; found {
			add(3, e.started, r.created)
			add(4, r.created, r.delivered)
			add(5, r.delivered, r.finished)
			add(6, r.finished, e.completed)
		}
		add(7, e.completed, e.wfCompleted)
		add(8, e.wfCompleted, p.start.Add(p.e2e))
	}
	if limit == 0 && last.After(first) {
		res.hostRate = float64(len(res.host)) / last.Sub(first).Seconds()
	}
	return res, nil
}

// history reads the event times of one HostPing run.
func history(ctx context.Context, tc client.Client, wfID, runID string) (events, error) {
	var e events
	it := tc.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		h, err := it.Next()
		if err != nil {
			return e, fmt.Errorf("history of %s: %w", wfID, err)
		}
		t := h.GetEventTime().AsTime()
		switch h.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			e.wfStarted = t
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			e.scheduled = t
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			e.started = t
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			e.completed = t
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			e.wfCompleted = t
		}
	}
	if e.scheduled.IsZero() || e.completed.IsZero() {
		return e, fmt.Errorf("history of %s has no completed activity", wfID)
	}
	return e, nil
}

func header() {
	fmt.Printf("%-52s %6s %9s %9s %9s %9s %9s %8s\n", "", "n", "p50", "p90", "p99", "max", "mean", "per s")
}

func row(name string, d durations, rate float64) {
	r := ""
	if rate > 0 {
		r = fmt.Sprintf("%.1f", rate)
	}
	fmt.Printf("%-52s %6d %9s %9s %9s %9s %9s %8s\n", name, len(d), ms(d.pct(0.5)), ms(d.pct(0.9)), ms(d.pct(0.99)), ms(d.pct(1)), ms(d.mean()), r)
}
