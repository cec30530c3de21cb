package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// The log parts run the test image's /opt/rgpu-test/loglines.sh: it prints
// LOG_LINES lines "line <k>", LOG_RATE of them at once then a 1 s sleep.
// Each line's emit time is Docker's timestamp of it (taken when the
// container wrote it; the agent ships it as the line's t), so the lag is
// receipt at the socket − t, on this machine's one clock.
const logScript = "/opt/rgpu-test/loglines.sh"

// follower reads a task's live log socket (/ws/customer/tasks/:id/logs)
// and checks that each line 1..want arrives exactly once.
type follower struct {
	taskID string
	want   int

	mu           sync.Mutex
	count        []uint8 // times each line k arrived (index k-1)
	got          int     // distinct lines
	dups, stray  int     // seen again; not "line <k>" with k in 1..want
	misnumbered  int     // n (the api's line number) ≠ k
	lags         durations
	first, last  time.Time // emit times (Docker's) of the first and last line
	status       string
	closeCode    int
	closeErr     string
	gotFirstLine chan struct{}
	done         chan struct{} // every line arrived and the task ended, or the socket closed
}

type logFrame struct {
	Type    string `json:"type"`
	Attempt int    `json:"attempt"`
	Status  string `json:"status"`
	Lines   []struct {
		N int64     `json:"n"`
		T time.Time `json:"t"`
		X string    `json:"x"`
	} `json:"lines"`
}

// follow opens the socket with a ticket, as the console does, and reads it
// until every line came and the task ended, or ctx ends.
func follow(ctx context.Context, s *session, taskID string, want int) (*follower, error) {
	u, err := s.wsURL(ctx, "/ws/customer/tasks/"+taskID+"/logs?afterN=0")
	if err != nil {
		return nil, err
	}
	d := &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 30 * time.Second} // browsers ask for permessage-deflate
	c, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("log socket of %s: %w", taskID, err)
	}
	f := &follower{taskID: taskID, want: want, count: make([]uint8, want), lags: make(durations, 0, want), gotFirstLine: make(chan struct{}), done: make(chan struct{})}
	go func() {
		<-ctx.Done()
		_ = c.Close()
	}()
	go func() {
		defer close(f.done)
		defer c.Close()
		for {
			_, b, err := c.ReadMessage()
			now := time.Now()
			if err != nil {
				f.mu.Lock()
				if ce, ok := err.(*websocket.CloseError); ok {
					f.closeCode = ce.Code
				} else if ctx.Err() == nil {
					f.closeErr = err.Error()
				}
				f.mu.Unlock()
				return
			}
			var fr logFrame
			if err := json.Unmarshal(b, &fr); err != nil {
				f.mu.Lock()
				f.closeErr = "bad frame: " + err.Error()
				f.mu.Unlock()
				return
			}
			if f.take(fr, now) {
				return
			}
		}
	}()
	return f, nil
}

// take counts a frame's lines; true once all lines came and the task ended.
func (f *follower) take(fr logFrame, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fr.Type == "status" {
		f.status = fr.Status
	}
	for _, l := range fr.Lines {
		k, err := strconv.Atoi(strings.TrimPrefix(l.X, "line "))
		if err != nil || k < 1 || k > f.want || !strings.HasPrefix(l.X, "line ") {
			f.stray++
			continue
		}
		if f.count[k-1]++; f.count[k-1] > 1 {
			f.dups++
			continue
		}
		if f.got++; f.got == 1 {
			close(f.gotFirstLine)
		}
		if l.N != int64(k) {
			f.misnumbered++
		}
		f.lags = append(f.lags, now.Sub(l.T))
		if f.first.IsZero() || l.T.Before(f.first) {
			f.first = l.T
		}
		if l.T.After(f.last) {
			f.last = l.T
		}
	}
	ended := f.status == "succeeded" || f.status == "failed" || f.status == "stopped"
	return ended && f.got == f.want
}

func (f *follower) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// gaps says which lines have not arrived: how many, the first, and in how
// many runs of consecutive lines.
func (f *follower) gaps() (missing, first, runs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.count {
		if c == 0 {
			if missing++; missing == 1 {
				first = i + 1
			}
			if i == 0 || f.count[i-1] != 0 {
				runs++
			}
		}
	}
	return missing, first, runs
}

// waitRead waits until every socket has read all its lines and its task's
// end, or until every task ended more than 45 s ago (a socket reads again
// every 30 s even without a notification), or limit passes.
func waitRead(ctx context.Context, ts *tasks, followers []*follower, limit time.Duration) {
	end := time.Now().Add(limit)
	var allEnded time.Time
	for time.Now().Before(end) && ctx.Err() == nil {
		var pending []*follower
		for _, f := range followers {
			if !f.finished() {
				pending = append(pending, f)
			}
		}
		if len(pending) == 0 {
			return
		}
		if allEnded.IsZero() && allTasksEnded(ctx, ts, pending) {
			allEnded = time.Now()
		}
		if !allEnded.IsZero() && time.Since(allEnded) > 45*time.Second {
			return
		}
		time.Sleep(5 * time.Second)
	}
}

func allTasksEnded(ctx context.Context, ts *tasks, followers []*follower) bool {
	for _, f := range followers {
		if t, err := ts.get(ctx, f.taskID); err != nil || !t.ended() {
			return false
		}
	}
	return true
}

// diagnose says, for a socket that missed lines, whether the api has them
// (stored count, and the first missing line read back through the REST log
// page) or lost them before storing.
func diagnose(ctx context.Context, ts *tasks, f *follower) string {
	missing, first, runs := f.gaps()
	f.mu.Lock()
	status, code, cerr := f.status, f.closeCode, f.closeErr
	f.mu.Unlock()
	var details struct {
		Status   string `json:"status"`
		Attempts []struct {
			LogLines int64 `json:"logLines"`
		} `json:"attempts"` // newest first
	}
	out := fmt.Sprintf("task %s: %d of %d lines missing on the socket, in %d runs, the first line %d; last status frame %q",
		f.taskID, missing, f.want, runs, first, status)
	if code != 0 || cerr != "" {
		out += fmt.Sprintf(", socket closed %d %s", code, cerr)
	}
	if err := ts.customer.do(ctx, "GET", "/api/customer/tasks/"+f.taskID+"/details", nil, &details); err != nil {
		return out + "; details: " + err.Error()
	}
	if len(details.Attempts) > 0 {
		out += fmt.Sprintf("; the api: task %s, %d lines stored", details.Status, details.Attempts[0].LogLines)
	}
	if n, err := dockerLines(ctx, ts, f.taskID); err == nil {
		out += fmt.Sprintf("; Docker's log of the container (read whole, not followed) has %d lines", n)
	}
	if missing > 0 {
		var page struct {
			Lines []struct {
				N int64  `json:"n"`
				X string `json:"x"`
			} `json:"lines"`
		}
		path := fmt.Sprintf("/api/customer/tasks/%s/logs?afterN=%d&limit=1", f.taskID, first-1)
		if err := ts.customer.do(ctx, "GET", path, nil, &page); err != nil {
			return out + "; log page: " + err.Error()
		}
		if len(page.Lines) > 0 && page.Lines[0].X == fmt.Sprintf("line %d", first) {
			out += fmt.Sprintf(", line %d is stored (n=%d): the socket skipped it", first, page.Lines[0].N)
		} else if len(page.Lines) > 0 {
			out += fmt.Sprintf(", line %d is not stored: after n=%d comes %q", first, first-1, page.Lines[0].X)
		} else {
			out += fmt.Sprintf(", line %d is not stored: nothing after n=%d", first, first-1)
		}
	}
	return out
}

// logLag is part 3: one task printing LOG_RATE lines a second, followed live.
func logLag(ctx context.Context, o options, ts *tasks, m machine) error {
	want := o.logRate * int(o.logFor/time.Second)
	fmt.Printf("\n== 3. live log: one task printing %d lines/s for %s (%d lines, %s), one socket following it (load %s)\n",
		o.logRate, o.logFor, want, logScript, loadavg())
	t, err := ts.create(ctx, "bench-logs", m.ID, 1, logScript, map[string]string{"LOG_RATE": strconv.Itoa(o.logRate), "LOG_LINES": strconv.Itoa(want)})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.logFor+3*time.Minute)
	defer cancel()
	f, err := follow(wctx, ts.customer, t.ID, want)
	if err != nil {
		return err
	}
	waitRead(ctx, ts, []*follower{f}, o.logFor+3*time.Minute)
	cancel()
	<-f.done
	var details struct {
		Attempts []struct {
			LogLines int64 `json:"logLines"`
		} `json:"attempts"` // newest first
	}
	if err := ts.customer.do(ctx, "GET", "/api/customer/tasks/"+t.ID+"/details", nil, &details); err != nil {
		return err
	}
	var storedLines int64
	if len(details.Attempts) > 0 {
		storedLines = details.Attempts[0].LogLines
	}
	// the socket's reader has ended (f.done): its counts stay as they are
	header()
	row("emit (Docker's timestamp) → line received on the socket", f.lags)
	span := f.last.Sub(f.first)
	fmt.Printf("  lines received %d of %d: lost %d, duplicated %d, stray %d, numbered n≠k %d; stored (attempt logLines) %d\n",
		f.got, want, want-f.got, f.dups, f.stray, f.misnumbered, storedLines)
	fmt.Printf("  first to last line emitted in %s: about %.0f lines/s (the script prints %d at once, then sleeps 1 s); final status %q",
		span.Round(time.Millisecond), float64(f.got)/(span+time.Second).Seconds(), o.logRate, f.status)
	if f.closeCode != 0 || f.closeErr != "" {
		fmt.Printf("; socket closed early: code %d %s", f.closeCode, f.closeErr)
	}
	fmt.Println()
	if f.got < want || f.dups > 0 || f.stray > 0 {
		fmt.Println("  PROBLEM:", diagnose(ctx, ts, f))
		problem("part 3: %d of %d lines never reached the socket, %d came twice, %d were not the task's", want-f.got, want, f.dups, f.stray)
	}
	fmt.Printf("  (load %s)\n", loadavg())
	return nil
}

// logMemory is part 4: many tasks printing at a lower rate, each followed
// by a socket, and the api process's memory from /metrics meanwhile.
func logMemory(ctx context.Context, o options, ts *tasks, machines []machine) error {
	n := o.memTasks
	want := o.memRate * int(o.memFor/time.Second)
	fmt.Printf("\n== 4. api memory: %d tasks each printing %d lines/s for %s (%d lines), each followed by a socket, over %d machines (load %s)\n",
		n, o.memRate, o.memFor, want, len(machines), loadavg())
	if n > len(machines)*gpusPerMachine {
		return fmt.Errorf("%d tasks need %d machines of %d GPUs: give -machines", n, (n+gpusPerMachine-1)/gpusPerMachine, gpusPerMachine)
	}
	time.Sleep(5 * time.Second) // the previous parts' work settles
	before, err := scrapeSettled(o)
	if err != nil {
		return err
	}

	stopPeak := samplePeak(o)
	defer stopPeak()

	wctx, cancel := context.WithTimeout(ctx, o.memFor+10*time.Minute)
	defer cancel()
	began := time.Now()
	followers := make([]*follower, n)
	var failed atomic.Value
	forEach(n, 8, func(i int) {
		t, err := ts.create(ctx, fmt.Sprintf("bench-mem-%03d", i), machines[i%len(machines)].ID, 1, logScript,
			map[string]string{"LOG_RATE": strconv.Itoa(o.memRate), "LOG_LINES": strconv.Itoa(want)})
		if err == nil {
			followers[i], err = follow(wctx, ts.customer, t.ID, want)
		}
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	created := time.Since(began)
	for _, f := range followers {
		select {
		case <-f.gotFirstLine:
		case <-f.done:
		}
	}
	allStreaming := time.Since(began)
	time.Sleep(3 * time.Second)
	during, err := scrape(o)
	if err != nil {
		return err
	}
	loadDuring := loadavg()
	waitRead(ctx, ts, followers, o.memFor+10*time.Minute)
	ended := time.Since(began)
	var incomplete []*follower
	for _, f := range followers {
		if !f.finished() {
			incomplete = append(incomplete, f)
		}
	}
	cancel() // the sockets close
	for _, f := range followers {
		<-f.done
	}
	peak := stopPeak()
	time.Sleep(5 * time.Second)
	after, err := scrapeSettled(o)
	if err != nil {
		return err
	}

	var lags durations
	lost, dups, stray, early := 0, 0, 0, 0
	for _, f := range followers {
		f.mu.Lock()
		lags = append(lags, f.lags...)
		lost, dups, stray = lost+f.want-f.got, dups+f.dups, stray+f.stray
		if f.closeCode != 0 || f.closeErr != "" {
			early++
		}
		f.mu.Unlock()
	}
	fmt.Printf("  %d tasks created and followed in %s; all streaming after %s; all ended and read after %s (load while all streamed %s)\n",
		n, created.Round(time.Second), allStreaming.Round(time.Second), ended.Round(time.Second), loadDuring)
	header()
	row("emit → received, all sockets", lags)
	fmt.Printf("  lines: lost %d of %d, duplicated %d, stray %d; sockets closed before the end %d; sockets still missing lines or the end %d\n",
		lost, n*want, dups, stray, early, len(incomplete))
	for i, f := range incomplete {
		if i == 10 {
			fmt.Printf("  ... and %d more\n", len(incomplete)-i)
			break
		}
		fmt.Println("  PROBLEM:", diagnose(ctx, ts, f))
	}
	if lost > 0 || dups > 0 || stray > 0 || len(incomplete) > 0 {
		problem("part 4: %d of %d lines never reached the sockets (%d of %d tasks' sockets missed lines or the end), %d came twice, %d were not the task's",
			lost, n*want, len(incomplete), n, dups, stray)
	}
	fmt.Printf("\n  %-44s %10s %14s %14s %10s\n", "api process (/metrics; api+worker in testenv)", "RSS", "Go heap inuse", "heap alloc", "goroutines")
	for _, r := range []struct {
		name string
		m    metrics
	}{{"before (settled)", before}, {fmt.Sprintf("all %d streaming (one reading)", n), during}, {"peak (max of readings every 1 s)", peak},
		{"after: tasks ended, sockets closed (settled)", after}} {
		fmt.Printf("  %-44s %10s %14s %14s %10.0f\n", r.name, mib(r.m["process_resident_memory_bytes"]), mib(r.m["go_memstats_heap_inuse_bytes"]),
			mib(r.m["go_memstats_heap_alloc_bytes"]), r.m["go_goroutines"])
	}
	fmt.Printf("  per followed task while all streamed: %.0f KiB RSS, %.0f KiB heap in use, %.1f goroutines (the worker's share included)\n",
		(during["process_resident_memory_bytes"]-before["process_resident_memory_bytes"])/float64(n)/1024,
		(during["go_memstats_heap_inuse_bytes"]-before["go_memstats_heap_inuse_bytes"])/float64(n)/1024,
		(during["go_goroutines"]-before["go_goroutines"])/float64(n))
	cpu := after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]
	fmt.Printf("  api process CPU over the part: %.0f s in %s (%.2f of the %d cores)\n", cpu, ended.Round(time.Second),
		cpu/ended.Seconds(), runtime.NumCPU())
	fmt.Printf("  (load %s)\n", loadavg())
	return nil
}

// samplePeak reads /metrics every second until stop, which returns the
// largest reading of each metric.
func samplePeak(o options) (stop func() metrics) {
	peak := metrics{}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if m, err := scrape(o); err == nil {
				for k, v := range m {
					peak[k] = max(peak[k], v)
				}
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() metrics {
		once.Do(func() { close(quit); <-done })
		return peak
	}
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// dockerLines counts the lines of the task's (first attempt's) container
// log as Docker gives it whole, without following it.
func dockerLines(ctx context.Context, ts *tasks, taskID string) (int, error) {
	rc, err := ts.docker.ContainerLogs(ctx, agentproto.ContainerName(taskID, 1), container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var c lineCounter
	_, err = stdcopy.StdCopy(&c, &c, rc)
	return int(c), err
}

type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
