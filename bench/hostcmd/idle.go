package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remotegpu/remotegpu/bench/internal/benchfleet"
)

// idle holds -agents long polls with nothing to deliver for -d and reports
// what they cost the api process. Under testenv that process is the api and
// the worker together (serveAll); the difference between the readings is
// the agents' all the same, as the worker is idle.
func idle(ctx context.Context, o options, pool *pgxpool.Pool, run string) error {
	fmt.Printf("run %s: %d agents long-polling (%s per poll) with no commands for %s, api %s, metrics %s\n",
		run, o.agents, o.wait, o.dur, o.base, o.metricsURL)
	if _, err := scrape(o); err != nil {
		return err // before creating anything
	}
	boots, err := benchfleet.AddMachines(ctx, pool, run, o.agents, 8)
	if err != nil {
		return err
	}
	hc := httpClient(o.agents)
	start := time.Now()
	agents, err := register(ctx, hc, o.base, boots)
	if err != nil {
		return err
	}
	fmt.Printf("registered %d agents through the api in %s\n", len(agents), time.Since(start).Round(time.Millisecond))
	hc.CloseIdleConnections() // the baseline holds none of the bench's connections

	before, err := scrapeSettled(o)
	if err != nil {
		return err
	}
	if need := float64(o.agents + 200); before["process_max_fds"] > 0 && before["process_max_fds"] < need {
		fmt.Printf("WARNING: the api process may open %.0f files (process_max_fds) and %d agents need about %.0f: "+
			"raise `ulimit -n` of the process that runs the api\n", before["process_max_fds"], o.agents, need)
	}

	st := &pollStats{}
	ramp := min(10*time.Second, o.wait/2) // spread the first polls; afterwards each agent re-polls on its own clock
	start = time.Now()
	stop := startAgents(ctx, agents, o.wait, ramp, st)
	defer stop()
	if err := waitPolling(ctx, st, len(agents), ramp+2*time.Minute); err != nil {
		return err
	}
	connected := time.Since(start)
	loadConnected := loadavg()
	time.Sleep(2 * time.Second) // the last requests reach their handler
	all, err := scrapeSettled(o)
	if err != nil {
		return err
	}
	// A reading every 30 s: the heap between two collections says little,
	// the GC's goal (twice the heap live after the last one) rising poll
	// after poll would be memory held per poll.
	fmt.Printf("\n%9s %12s %14s %14s %8s\n", "polling", "RSS", "heap alloc", "GC goal", "polls")
	measureFrom := time.Now()
	measureEnd := measureFrom.Add(o.dur)
	minInFlight := st.inFlight.Load()
	next := measureFrom
	for time.Now().Before(measureEnd) && ctx.Err() == nil {
		if time.Now().After(next) {
			if m, err := scrape(o); err == nil {
				fmt.Printf("%9s %12s %14s %14s %8d\n", time.Since(measureFrom).Round(time.Second), mib(m["process_resident_memory_bytes"]),
					mib(m["go_memstats_heap_alloc_bytes"]), mib(m["go_memstats_next_gc_bytes"]), st.polls.Load())
			}
			next = next.Add(30 * time.Second)
		}
		time.Sleep(500 * time.Millisecond)
		minInFlight = min(minInFlight, st.inFlight.Load())
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	end, err := scrapeSettled(o)
	if err != nil {
		return err
	}
	loadEnd := loadavg()
	stop()

	fmt.Printf("\nall %d agents held a poll %s after the first started (load average then %s; at the end %s; 1/5/15 min, %d cores shared with the stack)\n",
		len(agents), connected.Round(time.Millisecond), loadConnected, loadEnd, runtime.NumCPU())
	fmt.Printf("polls answered %d over %s + connect, errors %d, empty polls let go early %d, commands delivered %d, fewest polls in flight during the window %d of %d\n",
		st.polls.Load(), o.dur, st.errors.Load(), st.early.Load(), st.delivered.Load(), minInFlight, len(agents))
	if st.errSample != "" {
		fmt.Println("  first poll error:", st.errSample)
	}
	fmt.Printf("\n%-32s %14s %16s %14s %14s %14s %10s %9s\n", "api process (/metrics)", "RSS", "Go heap in use", "heap alloc", "stacks", "Go sys", "goroutines", "open fds")
	for _, r := range []struct {
		name string
		m    map[string]float64
	}{{"before the agents connect", before}, {"all agents holding a poll", all}, {fmt.Sprintf("after %s of polling", o.dur), end}} {
		fmt.Printf("%-32s %14s %16s %14s %14s %14s %10.0f %9.0f\n", r.name, mib(r.m["process_resident_memory_bytes"]), mib(r.m["go_memstats_heap_inuse_bytes"]),
			mib(r.m["go_memstats_heap_alloc_bytes"]), mib(r.m["go_memstats_stack_inuse_bytes"]), mib(r.m["go_memstats_sys_bytes"]), r.m["go_goroutines"], r.m["process_open_fds"])
	}
	n := float64(len(agents))
	per := func(k string, m map[string]float64) float64 { return (m[k] - before[k]) / n }
	for _, r := range []struct {
		name string
		m    map[string]float64
	}{{"per agent, all holding a poll", all}, {"per agent, at the end", end}} {
		fmt.Printf("%-32s %10.1f KiB %12.1f KiB %10.1f KiB %10.1f KiB %10.1f KiB %10.2f %9.2f\n", r.name, per("process_resident_memory_bytes", r.m)/1024,
			per("go_memstats_heap_inuse_bytes", r.m)/1024, per("go_memstats_heap_alloc_bytes", r.m)/1024, per("go_memstats_stack_inuse_bytes", r.m)/1024,
			per("go_memstats_sys_bytes", r.m)/1024, per("go_goroutines", r.m), per("process_open_fds", r.m))
	}
	fmt.Printf("api process open-file limit (process_max_fds): %.0f\n", before["process_max_fds"])
	return nil
}
