package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sample(i int) agentproto.Sample {
	return agentproto.Sample{At: time.Unix(int64(i), 0).UTC(), Host: agentproto.HostSample{Load1: float64(i)}}
}

// ingest is a fake api samples endpoint. status answers each request (nil: 200).
type ingest struct {
	t       *testing.T
	mu      sync.Mutex
	batches [][]int // the sample numbers of each accepted batch
	status  func(n int) int
	calls   int
	got     chan int // batch sizes, accepted or not
	srv     *httptest.Server
}

func newIngest(t *testing.T, status func(n int) int) *ingest {
	in := &ingest{t: t, status: status, got: make(chan int, 1000)}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != agentproto.PathSamples || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("unexpected request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var req agentproto.SamplesRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode: %v", err)
		}
		in.mu.Lock()
		in.calls++
		code := http.StatusOK
		if in.status != nil {
			code = in.status(in.calls)
		}
		if code == http.StatusOK {
			var nums []int
			for _, s := range req.Samples {
				nums = append(nums, int(s.Host.Load1))
			}
			in.batches = append(in.batches, nums)
		}
		in.mu.Unlock()
		in.got <- len(req.Samples)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if code == http.StatusOK {
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "data": agentproto.SamplesResponse{Accepted: len(req.Samples)}})
		} else {
			_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": "nope"})
		}
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *ingest) client() *Client {
	c := &Client{BaseURL: in.srv.URL, Timeout: 5 * time.Second}
	c.SetToken("tok")
	return c
}

func (in *ingest) accepted() [][]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([][]int(nil), in.batches...)
}

// waitAccepted waits until n samples in all were accepted.
func (in *ingest) waitAccepted(n int) [][]int {
	in.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		total := 0
		for _, b := range in.accepted() {
			total += len(b)
		}
		if total >= n {
			return in.accepted()
		}
		select {
		case <-in.got:
		case <-deadline:
			in.t.Fatalf("accepted %d samples, want %d", total, n)
		}
	}
}

// resetSignal is a fast backoff that signals every Reset: the Pusher
// resets it right after a flush has sent (and acknowledged) everything.
type resetSignal struct {
	backoff.BackOff
	reset chan struct{}
}

func (r *resetSignal) Reset() {
	r.BackOff.Reset()
	select {
	case r.reset <- struct{}{}:
	default:
	}
}

// waitFor checks cond after every signal on ch until it holds.
func waitFor(t *testing.T, what string, ch <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func fastBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor, b.MaxElapsedTime = 5*time.Millisecond, 20*time.Millisecond, 0, 0
	b.Reset()
	return b
}

func run(t *testing.T, p *Pusher) (cancel func(), done chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, done
}

func flat(batches [][]int) []int {
	var out []int
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

func TestPusherBatchesInOrder(t *testing.T) {
	in := newIngest(t, nil)
	p := New(in.client(), 100, quiet())
	p.Chunk = 3
	bo := &resetSignal{BackOff: fastBackOff(), reset: make(chan struct{}, 1)}
	p.NewBackOff = func() backoff.BackOff { return bo }
	for i := 1; i <= 10; i++ {
		p.Add(sample(i))
	}
	run(t, p)
	got := in.waitAccepted(10)
	want := [][]int{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10}}
	if len(got) != len(want) {
		t.Fatalf("batches = %v", got)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) || got[i][0] != want[i][0] {
			t.Fatalf("batches = %v, want %v", got, want)
		}
	}
	// Later samples go out as they come.
	p.Add(sample(11))
	if got := flat(in.waitAccepted(11)); got[10] != 11 {
		t.Errorf("got %v", got)
	}
	waitFor(t, "the buffer empties", bo.reset, func() bool { return p.Buffer.Len() == 0 })
}

func TestPusherDefaultChunkIs500(t *testing.T) {
	in := newIngest(t, nil)
	p := New(in.client(), 2000, quiet())
	for i := 1; i <= 1201; i++ {
		p.Add(sample(i))
	}
	run(t, p)
	got := in.waitAccepted(1201)
	if len(got) != 3 || len(got[0]) != 500 || len(got[1]) != 500 || len(got[2]) != 201 || got[2][200] != 1201 {
		t.Errorf("batch sizes: %d batches", len(got))
	}
}

// An outage: samples keep coming, the oldest beyond the bound are dropped,
// and when the api is back the backlog arrives in order, oldest first.
func TestPusherOutageBacklog(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	in := newIngest(t, func(int) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	p := New(in.client(), 5, quiet())
	p.Chunk = 2
	p.NewBackOff = fastBackOff
	run(t, p)
	for i := 1; i <= 8; i++ {
		p.Add(sample(i))
	}
	// Wait for a few failed attempts.
	for range 3 {
		select {
		case <-in.got:
		case <-time.After(10 * time.Second):
			t.Fatal("no retry")
		}
	}
	if p.Buffer.Len() != 5 || p.Buffer.Dropped() != 3 {
		t.Fatalf("buffer %d, dropped %d", p.Buffer.Len(), p.Buffer.Dropped())
	}
	down.Store(false)
	got := in.waitAccepted(5)
	if f := flat(got); len(f) != 5 || f[0] != 4 || f[1] != 5 || f[2] != 6 || f[3] != 7 || f[4] != 8 {
		t.Errorf("backlog = %v, want 4..8", got)
	}
	for _, b := range got {
		if len(b) > 2 {
			t.Errorf("batch of %d > chunk", len(b))
		}
	}
}

// recordingBackOff hands out fixed waits and records its use.
type recordingBackOff struct {
	mu     sync.Mutex
	next   int
	resets int
	reset  chan struct{}
}

func (b *recordingBackOff) NextBackOff() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	return time.Millisecond
}

func (b *recordingBackOff) Reset() {
	b.mu.Lock()
	b.resets++
	b.mu.Unlock()
	select {
	case b.reset <- struct{}{}:
	default:
	}
}

func TestPusherBacksOffAndResets(t *testing.T) {
	in := newIngest(t, func(n int) int {
		if n <= 4 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	bo := &recordingBackOff{reset: make(chan struct{}, 1)}
	p := New(in.client(), 10, quiet())
	p.NewBackOff = func() backoff.BackOff { return bo }
	p.Add(sample(1))
	run(t, p)
	in.waitAccepted(1)
	waitFor(t, "the backoff is reset after the success", bo.reset, func() bool {
		bo.mu.Lock()
		defer bo.mu.Unlock()
		return bo.resets == 1
	})
	bo.mu.Lock()
	defer bo.mu.Unlock()
	if bo.next != 4 {
		t.Errorf("NextBackOff %d times; want 4", bo.next)
	}
}

func TestDefaultBackOff(t *testing.T) {
	b := DefaultBackOff()
	var last time.Duration
	for i := range 20 {
		d := b.NextBackOff()
		if d == backoff.Stop || d <= 0 || d > 90*time.Second {
			t.Fatalf("attempt %d: %v", i, d)
		}
		if i == 0 && (d < 500*time.Millisecond || d > 1500*time.Millisecond) {
			t.Errorf("first wait %v, want 1 s ± 50 %%", d)
		}
		last = d
	}
	if last < 30*time.Second {
		t.Errorf("after 20 attempts the wait is %v; want near the 1 min cap", last)
	}
}

func TestPusherStopsOnRevokedToken(t *testing.T) {
	in := newIngest(t, func(int) int { return http.StatusUnauthorized })
	p := New(in.client(), 10, quiet())
	p.Add(sample(1))
	_, done := run(t, p)
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Run = %v", err)
		}
		done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on 401")
	}
}

func TestPusherDropsRejectedBatch(t *testing.T) {
	in := newIngest(t, func(n int) int {
		if n == 1 {
			return http.StatusUnprocessableEntity
		}
		return http.StatusOK
	})
	p := New(in.client(), 10, quiet())
	p.Chunk = 2
	for i := 1; i <= 3; i++ {
		p.Add(sample(i))
	}
	run(t, p)
	if got := flat(in.waitAccepted(1)); len(got) != 1 || got[0] != 3 {
		t.Errorf("accepted %v, want [3]", got)
	}
}

func TestBuffer(t *testing.T) {
	b := NewBuffer(3)
	for i := 1; i <= 4; i++ {
		dropped := b.Add(sample(i))
		if dropped != (i == 4) {
			t.Errorf("add %d: dropped %v", i, dropped)
		}
	}
	batch, mark := b.Peek(2)
	if len(batch) != 2 || batch[0].Host.Load1 != 2 || batch[1].Host.Load1 != 3 {
		t.Fatalf("peek %v", batch)
	}
	// While that batch is in flight two more arrive and push 2 and 3 out:
	// the ack removes nothing newer than the batch.
	b.Add(sample(5))
	b.Add(sample(6))
	b.Ack(mark)
	rest, _ := b.Peek(10)
	if len(rest) != 3 || rest[0].Host.Load1 != 4 || rest[2].Host.Load1 != 6 || b.Dropped() != 3 || b.Len() != 3 {
		t.Errorf("rest %v, dropped %d", rest, b.Dropped())
	}
}
