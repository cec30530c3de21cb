package commands

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fastBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor, b.MaxElapsedTime = time.Millisecond, 5*time.Millisecond, 0, 0
	b.Reset()
	return b
}

// agent is a running Loop against the fake api.
type agent struct {
	loop   *Loop
	client *pusher.Client
	cancel context.CancelFunc
	done   chan error

	mu        sync.Mutex
	forgotten map[string]int // commands that left the running list
	forgot    chan struct{}
}

func startLoop(t *testing.T, f *fakeAPI, handlers map[string]Handler) *agent {
	t.Helper()
	a := &agent{client: f.client(), done: make(chan error, 1), forgotten: map[string]int{}, forgot: make(chan struct{}, 1)}
	return a.start(t, f, handlers)
}

func (a *agent) start(t *testing.T, f *fakeAPI, handlers map[string]Handler) *agent {
	a.loop = &Loop{API: a.client, Handlers: handlers, Wait: 10 * time.Second, HeartbeatUnit: 10 * time.Millisecond,
		NewBackOff: fastBackOff, Log: testLog(t)}
	a.loop.onForget = func(id string) {
		a.mu.Lock()
		a.forgotten[id]++
		a.mu.Unlock()
		select {
		case a.forgot <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- a.loop.Run(ctx) }()
	t.Cleanup(func() { a.stop(t) })
	return a
}

// stop stops the loop and waits for it (every goroutine it started).
func (a *agent) stop(t *testing.T) error {
	t.Helper()
	a.cancel()
	select {
	case err, ok := <-a.done:
		if ok {
			close(a.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the loop does not stop")
	}
	return nil
}

// waitForgotten waits until the command left the agent's running list.
func (a *agent) waitForgotten(t *testing.T, id string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		a.mu.Lock()
		n := a.forgotten[id]
		a.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-a.forgot:
		case <-deadline:
			t.Fatalf("%s is still running", id)
		}
	}
}

// recorder logs what handlers do, in order.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func args(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// Commands of one serial key run one after another in the order
// delivered; others run beside them.
func TestSerialAndParallel(t *testing.T) {
	f := newFakeAPI(t)
	var rec recorder
	release := map[string]chan struct{}{}
	started := map[string]chan struct{}{}
	for _, n := range []string{"A", "B", "C", "P", "Q"} {
		release[n], started[n] = make(chan struct{}), make(chan struct{})
	}
	h := func(ctx context.Context, c *Call) (any, error) {
		var a struct{ Name string }
		_ = c.Args(&a)
		rec.add("start " + a.Name)
		close(started[a.Name])
		select {
		case <-release[a.Name]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		rec.add("end " + a.Name)
		return map[string]string{"name": a.Name}, nil
	}
	cmd := func(kind, serial, name string) *fakeCmd {
		return &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: kind, Serial: serial, Args: args(map[string]string{"Name": name})}}
	}
	a, b, c := cmd("work", "login", "A"), cmd("work", "login", "B"), cmd("work", "login", "C")
	p, q := cmd("work", "", "P"), cmd("other", "agent", "Q")
	f.add(a, b, c, p, q)
	startLoop(t, f, map[string]Handler{"work": h, "other": h})

	// A, P and Q run at the same time (each is waited for while the others block).
	for _, n := range []string{"A", "P", "Q"} {
		<-started[n]
	}
	close(release["P"])
	close(release["Q"])
	close(release["A"])
	<-started["B"]
	close(release["B"])
	<-started["C"]
	close(release["C"])
	for _, x := range []*fakeCmd{a, b, c, p, q} {
		if r := f.waitReport(t, x); r.Status != agentproto.ResultSucceeded {
			t.Errorf("%s: %+v", x.ID, r)
		}
	}
	var serial []string
	for _, s := range rec.get() {
		if s[len(s)-1] == 'A' || s[len(s)-1] == 'B' || s[len(s)-1] == 'C' {
			serial = append(serial, s)
		}
	}
	if want := []string{"start A", "end A", "start B", "end B", "start C", "end C"}; !slices.Equal(serial, want) {
		t.Errorf("serial commands ran %v", serial)
	}
	f.with(func() {
		if string(a.result.Result) != `{"name":"A"}` {
			t.Errorf("result %s", a.result.Result)
		}
	})
}

// A restarted agent gets back the command it lost and reports it once; the
// first agent reports nothing for it.
func TestRedeliveredAfterRestart(t *testing.T) {
	f := newFakeAPI(t)
	c := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}}
	f.add(c)
	runs := make(chan struct{}, 10)
	first := startLoop(t, f, map[string]Handler{"work": func(ctx context.Context, _ *Call) (any, error) {
		runs <- struct{}{}
		<-ctx.Done() // the agent stops in the middle of it
		return nil, ctx.Err()
	}})
	<-runs
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	f.with(func() {
		if c.reports != 0 {
			t.Errorf("the stopped agent reported %d times", c.reports)
		}
	})
	second := startLoop(t, f, map[string]Handler{"work": func(context.Context, *Call) (any, error) {
		runs <- struct{}{}
		return "done", nil
	}})
	if r := f.waitReport(t, c); r.Status != agentproto.ResultSucceeded || string(r.Result) != `"done"` {
		t.Errorf("report %+v", r)
	}
	second.waitForgotten(t, c.ID)
	if err := second.stop(t); err != nil {
		t.Fatal(err)
	}
	f.with(func() {
		if c.reports != 1 || len(runs) != 1 {
			t.Errorf("%d reports, %d runs by the second agent", c.reports, len(runs))
		}
	})
}

// A report that meets 503 is sent again until accepted, and the command
// stays in the running list meanwhile (not delivered and run again). A
// report refused with 409 is not sent again.
func TestReportRetried(t *testing.T) {
	f := newFakeAPI(t)
	c := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}, holdReports: true}
	refused := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}, refuseReport: 409}
	f.add(c, refused)
	var mu sync.Mutex
	runs := map[string]int{}
	// d, added later, runs until the test has seen a poll naming it
	d := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}}
	release := make(chan struct{})
	a := startLoop(t, f, map[string]Handler{"work": func(_ context.Context, call *Call) (any, error) {
		mu.Lock()
		runs[call.ID]++
		mu.Unlock()
		if call.ID == d.ID {
			<-release
		}
		return nil, nil
	}})
	a.waitForgotten(t, refused.ID)
	f.until(t, "a refused report", func() bool { return c.reports > 0 })
	// A new command makes the agent poll while the report is being retried.
	f.add(d)
	var running []string
	f.until(t, "a poll naming the new command", func() bool {
		for _, p := range f.polls {
			if slices.Contains(p, d.ID) {
				running = p
				return true
			}
		}
		return false
	})
	close(release)
	if !slices.Contains(running, c.ID) || slices.Contains(running, refused.ID) {
		t.Errorf("poll running %v; want %s (report pending) and not %s (refused)", running, c.ID, refused.ID)
	}
	f.with(func() { c.holdReports = false })
	f.waitReport(t, c)
	f.waitReport(t, d)
	a.waitForgotten(t, c.ID)
	f.with(func() {
		if c.reports < 2 || refused.reports != 1 {
			t.Errorf("reports: %d (503s then accepted), %d (409)", c.reports, refused.reports)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if runs[c.ID] != 1 || runs[refused.ID] != 1 {
		t.Errorf("runs %v", runs)
	}
}

// A heartbeat's answer cancels the command: its context ends, and it is
// reported cancelled. Heartbeats carry the handler's progress, also
// while the command waits for its serial turn.
func TestCancelThroughHeartbeat(t *testing.T) {
	f := newFakeAPI(t)
	running := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work", Serial: "login"}}
	queued := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work", Serial: "login"}}
	f.add(running, queued)
	started := make(chan string, 2)
	startLoop(t, f, map[string]Handler{"work": func(ctx context.Context, c *Call) (any, error) {
		started <- c.ID
		c.Progress(map[string]int{"step": 1})
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	if id := <-started; id != running.ID {
		t.Fatalf("%s ran first", id)
	}
	f.waitEvent(t, "a heartbeat with progress", func(ev event) bool {
		return ev.op == "heartbeat" && ev.id == running.ID && ev.progress == `{"step":1}`
	})
	f.waitEvent(t, "a heartbeat of the queued command", func(ev event) bool { return ev.op == "heartbeat" && ev.id == queued.ID })
	f.with(func() { queued.cancel = true })
	if r := f.waitReport(t, queued); r.Status != agentproto.ResultCancelled {
		t.Errorf("queued: %+v", r)
	}
	f.with(func() { running.cancel = true })
	if r := f.waitReport(t, running); r.Status != agentproto.ResultCancelled {
		t.Errorf("running: %+v", r)
	}
	select {
	case id := <-started:
		t.Errorf("the cancelled queued command ran: %s", id)
	default:
	}
}

// A failing heartbeat does not stop the work.
func TestHeartbeatFailureIgnored(t *testing.T) {
	f := newFakeAPI(t)
	c := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}}
	f.add(c)
	release, started := make(chan struct{}), make(chan struct{})
	startLoop(t, f, map[string]Handler{"work": func(ctx context.Context, _ *Call) (any, error) {
		close(started)
		<-release
		return "ok", nil
	}})
	<-started
	// The command vanishes from the api for a while: heartbeats get 404.
	f.with(func() { f.cmds = nil })
	f.waitEvent(t, "a refused heartbeat", func(ev event) bool { return ev.op == "heartbeat" && ev.status == 404 })
	f.waitEvent(t, "another refused heartbeat", func(ev event) bool { return ev.op == "heartbeat" && ev.status == 404 })
	f.with(func() { f.cmds = []*fakeCmd{c} })
	close(release)
	if r := f.waitReport(t, c); r.Status != agentproto.ResultSucceeded {
		t.Errorf("report %+v", r)
	}
}

// Failures are reported with their type and whether they are permanent;
// an unknown kind is a permanent failure.
func TestFailuresReported(t *testing.T) {
	f := newFakeAPI(t)
	unknown := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "format_disk"}}
	failing := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}}
	panicking := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "boom"}}
	f.add(unknown, failing, panicking)
	startLoop(t, f, map[string]Handler{
		"work": func(context.Context, *Call) (any, error) {
			return nil, hostops.Retryablef("DockerFailed", errors.New("daemon busy"), "unable to list")
		},
		"boom": func(context.Context, *Call) (any, error) { panic("bug") },
	})
	for _, tc := range []struct {
		c         *fakeCmd
		typ       string
		permanent bool
	}{{unknown, "UnknownKind", true}, {failing, "DockerFailed", false}, {panicking, "", false}} {
		r := f.waitReport(t, tc.c)
		if r.Status != agentproto.ResultFailed || r.Error == nil || r.Error.Type != tc.typ || r.Error.Permanent != tc.permanent || r.Error.Message == "" {
			t.Errorf("%s: %+v %+v", tc.c.Kind, r, r.Error)
		}
	}
}

// The secret is fetched once; asking again, or for a command delivered
// again after it was fetched, gives ErrNoSecret, as does the api's refusal.
func TestSecretOnce(t *testing.T) {
	f := newFakeAPI(t)
	fresh := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}, secret: "s3cret"}
	fetched := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}, secret: "s3cret", fetched: true}
	refused := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}, secret: "s3cret", fetched: true, claimSecret: true}
	f.add(fresh, fetched, refused)
	type got struct {
		first      string
		err1, err2 error
	}
	results := make(chan got, 3)
	var mu sync.Mutex
	byID := map[string]got{}
	startLoop(t, f, map[string]Handler{"work": func(ctx context.Context, call *Call) (any, error) {
		var g got
		g.first, g.err1 = call.Secret(ctx)
		_, g.err2 = call.Secret(ctx)
		mu.Lock()
		byID[call.ID] = g
		mu.Unlock()
		results <- g
		return nil, nil
	}})
	for _, c := range []*fakeCmd{fresh, fetched, refused} {
		f.waitReport(t, c)
	}
	mu.Lock()
	defer mu.Unlock()
	if g := byID[fresh.ID]; g.first != "s3cret" || g.err1 != nil || !errors.Is(g.err2, ErrNoSecret) {
		t.Errorf("fresh: %+v", g)
	}
	for _, c := range []*fakeCmd{fetched, refused} {
		if g := byID[c.ID]; g.first != "" || !errors.Is(g.err1, ErrNoSecret) || !errors.Is(g.err2, ErrNoSecret) {
			t.Errorf("%+v", g)
		}
	}
	f.with(func() {
		if fresh.secretCalls != 1 || fetched.secretCalls != 0 || refused.secretCalls != 1 {
			t.Errorf("secret calls %d, %d, %d; want 1, 0 (not offered), 1 (refused)", fresh.secretCalls, fetched.secretCalls, refused.secretCalls)
		}
	})
}

// A revoked token stops the loop with pusher.ErrUnauthorized.
func TestUnauthorizedStops(t *testing.T) {
	f := newFakeAPI(t)
	a := startLoop(t, f, nil)
	f.waitEvent(t, "a poll", func(ev event) bool { return ev.op == "poll arrived" })
	f.with(func() {
		f.valid = map[string]bool{}
		f.changeLocked()
	})
	f.add(&fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}})
	select {
	case err := <-a.done:
		a.done <- err
		if !errors.Is(err, pusher.ErrUnauthorized) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not stop on 401")
	}
}

// A 401 to a command's report (token revoked while it ran) stops the loop too.
func TestUnauthorizedReportStops(t *testing.T) {
	f := newFakeAPI(t)
	c := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "work"}}
	f.add(c)
	a := startLoop(t, f, map[string]Handler{"work": func(context.Context, *Call) (any, error) {
		f.with(func() { f.valid = map[string]bool{} })
		return nil, nil
	}})
	select {
	case err := <-a.done:
		a.done <- err
		if !errors.Is(err, pusher.ErrUnauthorized) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not stop on 401")
	}
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet()
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}
