package tasklogs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testdocker"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testdocker.Main(m)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fastBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor, b.MaxElapsedTime = time.Millisecond, 20*time.Millisecond, 0, 0
	b.Reset()
	return b
}

// fakeAPI is the api's side of PathTaskLogs: it stores each attempt's
// lines by offset, idempotently, and answers the next offset it expects.
type fakeAPI struct {
	srv *httptest.Server

	mu      sync.Mutex
	lines   map[string][]agentproto.LogLine // by task/attempt
	posts   []agentproto.TaskLogBatch       // accepted ones, lines left out
	overlap int                             // lines received that were stored already
	failed  int                             // posts answered 503
	// failNext answers 503 to so many posts; down to every post while
	// set; refuse answers that status to every post.
	failNext int
	down     bool
	refuse   int
	// downAfter sets down once an attempt has that many lines (0: never).
	downAfter int
	changed   chan struct{} // closed and replaced at every post
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{lines: map[string][]agentproto.LogLine{}, changed: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) client() *pusher.Client {
	c := &pusher.Client{BaseURL: f.srv.URL, Timeout: 30 * time.Second}
	c.SetToken("tok")
	return c
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/agent/tasks/")
	task, ok2 := strings.CutSuffix(rest, "/logs")
	var b agentproto.TaskLogBatch
	if !ok || !ok2 || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" || json.NewDecoder(r.Body).Decode(&b) != nil {
		http.Error(w, `{"code":400,"message":"bad request"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() {
		close(f.changed)
		f.changed = make(chan struct{})
	}()
	switch {
	case f.refuse != 0:
		w.WriteHeader(f.refuse)
		_, _ = w.Write([]byte(`{"code":404,"message":"not this machine's task"}`))
		return
	case f.down || f.failNext > 0:
		f.failNext = max(f.failNext-1, 0)
		f.failed++
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":503,"message":"busy"}`))
		return
	}
	key := task + "/" + strconv.Itoa(b.Attempt)
	stored := f.lines[key]
	if b.Offset <= int64(len(stored)) {
		have := int64(len(stored)) - b.Offset
		f.overlap += int(min(have, int64(len(b.Lines))))
		if int64(len(b.Lines)) > have {
			stored = append(stored, b.Lines[have:]...)
		}
		f.lines[key] = stored
	}
	if f.downAfter > 0 && len(stored) >= f.downAfter {
		f.down = true
	}
	f.posts = append(f.posts, agentproto.TaskLogBatch{Attempt: b.Attempt, Offset: b.Offset, Lines: make([]agentproto.LogLine, len(b.Lines))})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "data": agentproto.TaskLogAck{Next: int64(len(stored))}})
}

// until waits until cond holds (checked under the api's lock); every post wakes it.
func (f *fakeAPI) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(2 * time.Minute) // a hang, not a timing assumption
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

func (f *fakeAPI) stored(task string, attempt int) []agentproto.LogLine {
	return f.lines[task+"/"+strconv.Itoa(attempt)]
}

// runShipper runs a shipper until the test ends or stop is called.
func runShipper(t *testing.T, s *Shipper) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// newShipper ships for a machine of its own: a shipper resumes the
// containers of its machine, and the tests share a daemon.
func newShipper(f *fakeAPI, cli *client.Client, machine string) *Shipper {
	return &Shipper{API: f.client(), Docker: cli, MachineID: machine, NewBackOff: fastBackOff, Log: quiet()}
}

func newTaskID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "logs-" + hex.EncodeToString(b)
}

// startTask starts a container labelled like the agent's, its log shipped by s.
func startTask(t *testing.T, cli *client.Client, s *Shipper, task, command string, env map[string]string) *hostops.Ops {
	t.Helper()
	o := &hostops.Ops{Docker: cli, StateDir: t.TempDir(), MachineID: s.MachineID, Logs: s, Log: quiet()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := o.TaskStart(ctx, agentproto.TaskStartArgs{TaskID: task, TenantID: "tn", Attempt: 1, Image: testimage.Ref, Command: command, Env: env}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task}) })
	return o
}

// checkLog asserts the stored log is "line 1" to "line n", each once,
// odd ones on stdout and even ones on stderr, each stream in order.
func checkLog(t *testing.T, lines []agentproto.LogLine, n int) {
	t.Helper()
	if len(lines) != n {
		t.Fatalf("%d lines stored, want %d", len(lines), n)
	}
	seen := make([]bool, n+1)
	last := map[string]int{}
	for i, l := range lines {
		k, err := strconv.Atoi(strings.TrimPrefix(l.Text, "line "))
		if err != nil || k < 1 || k > n || seen[k] {
			t.Fatalf("line %d: %+v (a duplicate or not one of ours)", i, l)
		}
		seen[k] = true
		want := agentproto.StreamStdout
		if k%2 == 0 {
			want = agentproto.StreamStderr
		}
		if l.Stream != want || k < last[l.Stream] || l.Time.IsZero() {
			t.Fatalf("line %d: %+v out of order (last on %s: %d)", i, l, l.Stream, last[l.Stream])
		}
		last[l.Stream] = k
	}
}

// 20,000 lines at 5,000 a second, through failed posts: every line is
// stored once, at consecutive offsets, and the wait's LogsShipped holds.
func TestShipLines(t *testing.T) {
	t.Parallel()
	cli := testdocker.Client(t)
	f := newFakeAPI(t)
	f.failNext = 3
	task := newTaskID()
	s := newShipper(f, cli, task)
	runShipper(t, s)
	const n = 20000
	o := startTask(t, cli, s, task, "sh "+testimage.ScriptDir+"/loglines.sh",
		map[string]string{"LOG_LINES": strconv.Itoa(n), "LOG_RATE": "5000", "LOG_STDERR": "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := o.TaskWait(ctx, agentproto.TaskWaitArgs{TaskID: task, Attempt: 1})
	if err != nil || res.ExitCode != 0 || !res.LogsShipped {
		t.Fatalf("wait %+v, %v", res, err)
	}
	t.Logf("all shipped %s after the container ended", time.Since(res.FinishedAt).Round(time.Millisecond))
	f.mu.Lock()
	defer f.mu.Unlock()
	checkLog(t, f.stored(task, 1), n)
	var batches, most int
	for _, p := range f.posts {
		if len(p.Lines) > 0 {
			batches++
			most = max(most, len(p.Lines))
		}
	}
	t.Logf("%d batches, the largest %d lines; %d posts failed", batches, most, f.failed)
	if f.overlap != 0 || f.failed != 3 || most > BatchLines {
		t.Errorf("overlap %d, failed %d, largest batch %d", f.overlap, f.failed, most)
	}
}

// A restarted agent asks where to go on and ships only the rest; while the
// api is down the shipper holds (no line lost, none sent twice).
func TestShipperResume(t *testing.T) {
	t.Parallel()
	cli := testdocker.Client(t)
	f := newFakeAPI(t)
	const n = 20000
	f.downAfter = 5000
	task := newTaskID()
	first := newShipper(f, cli, task)
	stopFirst := runShipper(t, first)
	o := startTask(t, cli, first, task,
		"sh "+testimage.ScriptDir+"/loglines.sh; while [ ! -e $RGPU_OUTPUT_DIR/done ]; do sleep 0.05; done",
		map[string]string{"LOG_LINES": strconv.Itoa(n), "LOG_STDERR": "1"})
	f.until(t, "a failed post after the api went down", func() bool { return f.down && f.failed > 0 })
	stopFirst() // the agent stops
	f.mu.Lock()
	had, posts := len(f.stored(task, 1)), len(f.posts)
	f.down, f.downAfter = false, 0
	f.mu.Unlock()
	if had < 5000 || had >= n {
		t.Fatalf("%d lines stored before the restart ", had)
	}

	second := newShipper(f, cli, task)
	runShipper(t, second) // finds the running container by its labels
	f.until(t, "every line", func() bool { return len(f.stored(task, 1)) == n })
	if err := os.WriteFile(filepath.Join(o.StateDir, "tasks", task, "output", "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !second.Shipped(ctx, task, 1) {
		t.Fatal("not shipped")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	checkLog(t, f.stored(task, 1), n)
	after := f.posts[posts:]
	if len(after) < 2 || len(after[0].Lines) != 0 || after[1].Offset != int64(had) {
		t.Errorf("after the restart: first posts %+v, want a question, then offset %d", after[:min(2, len(after))], had)
	}
	if f.overlap != 0 {
		t.Errorf("%d lines sent twice", f.overlap)
	}
}

// An api that refuses the attempt's logs (not this machine's task) is not
// asked again; the attempt is not shipped.
func TestShipperRefused(t *testing.T) {
	t.Parallel()
	cli := testdocker.Client(t)
	f := newFakeAPI(t)
	f.refuse = http.StatusNotFound
	task := newTaskID()
	s := newShipper(f, cli, task)
	runShipper(t, s)
	o := startTask(t, cli, s, task, "echo hi", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := o.TaskWait(ctx, agentproto.TaskWaitArgs{TaskID: task, Attempt: 1})
	if err != nil || res.LogsShipped {
		t.Errorf("wait %+v, %v", res, err)
	}
}

// BenchmarkShip ships a log written as fast as the container can; it
// reports lines/s from the container's start to the last line stored.
func BenchmarkShip(b *testing.B) {
	cli := testdocker.Client(b)
	const n = 200000
	for range b.N {
		f := &fakeAPI{lines: map[string][]agentproto.LogLine{}, changed: make(chan struct{})}
		f.srv = httptest.NewServer(f)
		task := newTaskID()
		s := &Shipper{API: f.client(), Docker: cli, MachineID: task, NewBackOff: fastBackOff, Log: quiet()}
		ctx, cancel := context.WithCancel(context.Background())
		go s.Run(ctx)
		o := &hostops.Ops{Docker: cli, StateDir: b.TempDir(), MachineID: task, Logs: s, Log: quiet()}
		began := time.Now()
		if _, err := o.TaskStart(ctx, agentproto.TaskStartArgs{TaskID: task, Attempt: 1, Image: testimage.Ref,
			Command: "sh " + testimage.ScriptDir + "/loglines.sh", Env: map[string]string{"LOG_LINES": strconv.Itoa(n)}}); err != nil {
			b.Fatal(err)
		}
		if !s.Shipped(ctx, task, 1) {
			b.Fatal("not shipped")
		}
		elapsed := time.Since(began)
		f.mu.Lock()
		got := len(f.stored(task, 1))
		f.mu.Unlock()
		if got != n {
			b.Fatalf("%d lines", got)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
		_, _ = o.TaskRemove(context.Background(), agentproto.TaskRemoveArgs{TaskID: task})
		cancel()
		f.srv.Close()
	}
}

// shortFollow is a Docker whose followed log of a container ends, once the
// container has exited, without its last frames: what dockerd 20.10 did
// under load (bench/tasks lost a script's final burst).
type shortFollow struct {
	*client.Client
	drop int // frames left out of a followed log
}

func (d shortFollow) ContainerLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	if !o.Follow {
		return d.Client.ContainerLogs(ctx, id, o)
	}
	wait, errc := d.Client.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-wait:
	case err := <-errc:
		return nil, err
	}
	o.Follow = false
	rc, err := d.Client.ContainerLogs(ctx, id, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	all, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var ends []int // where each stdcopy frame ends
	for at := 0; at+8 <= len(all); {
		at += 8 + int(binary.BigEndian.Uint32(all[at+4:at+8]))
		ends = append(ends, at)
	}
	keep := 0
	if len(ends) > d.drop {
		keep = ends[len(ends)-1-d.drop]
	}
	return io.NopCloser(bytes.NewReader(all[:keep])), nil
}

// A followed log that ends early is read again, whole, once the container
// has exited: every line is shipped.
func TestShipperReadsTheEndAgain(t *testing.T) {
	t.Parallel()
	cli := testdocker.Client(t)
	f := newFakeAPI(t)
	task := newTaskID()
	s := newShipper(f, cli, task)
	s.Docker = shortFollow{Client: cli, drop: 10}
	runShipper(t, s)
	const n = 100
	o := startTask(t, cli, s, task, "sh "+testimage.ScriptDir+"/loglines.sh", map[string]string{"LOG_LINES": strconv.Itoa(n), "LOG_STDERR": "1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := o.TaskWait(ctx, agentproto.TaskWaitArgs{TaskID: task, Attempt: 1})
	if err != nil || res.ExitCode != 0 || !res.LogsShipped {
		t.Fatalf("wait %+v, %v", res, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	checkLog(t, f.stored(task, 1), n)
}
