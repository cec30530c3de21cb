package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/collect"
	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeAPI is the agent side of the api: bootstrap tokens work once, agent
// tokens until revoked.
type fakeAPI struct {
	t           *testing.T
	mu          sync.Mutex
	bootstrap   map[string]bool // unused bootstrap tokens
	valid       map[string]bool // agent tokens
	issued      int
	registers   int
	inventories []agentproto.Inventory
	samples     map[string]int // by token
	// commands are handed out by polls until reported; results has the
	// reports, with the token each carried.
	commands []agentproto.Command
	secrets  map[string]string
	results  map[string]agentproto.ResultRequest
	resultBy map[string]string
	images   []agentproto.ImagesReport
	// changed gets a token (never blocking) after every request that
	// changed what the api holds: the tests re-check their condition then.
	changed chan struct{}
	srv     *httptest.Server
}

func newFakeAPI(t *testing.T, bootstrap ...string) *fakeAPI {
	f := &fakeAPI{t: t, bootstrap: map[string]bool{}, valid: map[string]bool{}, samples: map[string]int{}, changed: make(chan struct{}, 1),
		secrets: map[string]string{}, results: map[string]agentproto.ResultRequest{}, resultBy: map[string]string{}}
	for _, b := range bootstrap {
		f.bootstrap[b] = true
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func envelope(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]any{"code": 0, "message": "ok", "data": data, "traceId": "t"}
	if code >= 400 {
		body = map[string]any{"code": code, "message": http.StatusText(code), "traceId": "t"}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer f.signal()
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == agentproto.PathRegister {
		var req agentproto.RegisterRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if !f.bootstrap[req.BootstrapToken] || req.MachineID != "m-1" || req.Inventory.GPUSource != "simulated" {
			envelope(w, http.StatusUnauthorized, nil)
			return
		}
		delete(f.bootstrap, req.BootstrapToken)
		f.registers++
		f.issued++
		tok := "rgt_" + string(rune('0'+f.issued))
		f.valid[tok] = true
		envelope(w, http.StatusOK, agentproto.RegisterResponse{AgentToken: tok, MachineID: "m-1", MachineName: "gpu-01", SampleInterval: 5})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !f.valid[tok] {
		envelope(w, http.StatusUnauthorized, nil)
		return
	}
	switch r.URL.Path {
	case agentproto.PathInventory:
		var inv agentproto.Inventory
		_ = json.NewDecoder(r.Body).Decode(&inv)
		f.inventories = append(f.inventories, inv)
		envelope(w, http.StatusOK, struct{}{})
	case agentproto.PathSamples:
		var req agentproto.SamplesRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		for _, s := range req.Samples {
			if len(s.GPUs) != 2 || s.Host.MemTotalMiB == 0 {
				f.t.Errorf("sample %+v", s)
			}
		}
		f.samples[tok] += len(req.Samples)
		envelope(w, http.StatusOK, agentproto.SamplesResponse{Accepted: len(req.Samples)})
	case agentproto.PathImages:
		var rep agentproto.ImagesReport
		_ = json.NewDecoder(r.Body).Decode(&rep)
		f.images = append(f.images, rep)
		envelope(w, http.StatusOK, struct{}{})
	case agentproto.PathCommandsPoll:
		var req agentproto.PollRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		var out []agentproto.Command
		for _, c := range f.commands {
			if _, done := f.results[c.ID]; !done && !slices.Contains(req.Running, c.ID) {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			// Held until the agent gives up on it (it stops): a real api
			// holds it up to waitSeconds.
			f.mu.Unlock()
			<-r.Context().Done()
			f.mu.Lock()
			return
		}
		envelope(w, http.StatusOK, agentproto.PollResponse{Commands: out})
	default:
		id, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/agent/commands/"), "/")
		switch op {
		case "secret":
			secret, ok := f.secrets[id]
			if !ok {
				envelope(w, http.StatusForbidden, nil)
				return
			}
			delete(f.secrets, id)
			f.valid[secret] = true // a rotation's new key works from its hand-out
			envelope(w, http.StatusOK, agentproto.SecretResponse{Secret: secret})
		case "heartbeat":
			envelope(w, http.StatusOK, agentproto.HeartbeatResponse{})
		case "result":
			var req agentproto.ResultRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			f.results[id], f.resultBy[id] = req, tok
			envelope(w, http.StatusOK, struct{}{})
		default:
			envelope(w, http.StatusNotFound, nil)
		}
	}
}

// signal wakes whoever waits for the api's state to change.
func (f *fakeAPI) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// wait runs until cond holds (checked after every request) or the agent ends.
func (f *fakeAPI) wait(t *testing.T, what string, done <-chan error, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second) // a hang, not a timing assumption
	for f.count(func() int {
		if cond() {
			return 1
		}
		return 0
	}) == 0 {
		select {
		case <-f.changed:
		case err := <-done:
			t.Fatalf("Run ended before %s: %v", what, err)
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

func (f *fakeAPI) count(fn func() int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fn()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (f *fakeAPI) config(dir, bootstrap string) Config {
	return Config{URL: f.srv.URL, MachineID: "m-1", BootstrapToken: bootstrap, StateDir: dir, Interval: 20 * time.Millisecond,
		GPUSource: agentproto.GPUSourceSimulated, Sim: collect.SimConfig{GPUs: 2}, Buffer: 100, HostOps: commands.ModeOff, Log: quiet()}
}

// runUntil runs the agent until cond holds, then stops it.
func (f *fakeAPI) runUntil(t *testing.T, cfg Config, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	f.wait(t, what, done, cond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after cancel", err)
	}
}

// samplesFrom: the api has n samples from token.
func (f *fakeAPI) samplesFrom(token string, n int) func() bool {
	return func() bool { return f.samples[token] >= n }
}

func runErr(t *testing.T, cfg Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := Run(ctx, cfg)
	if ctx.Err() != nil {
		t.Fatal("Run did not stop by itself")
	}
	return err
}

func TestRegisterAndTokenPersistence(t *testing.T) {
	api := newFakeAPI(t, "rga_boot1", "rga_boot2")
	dir := filepath.Join(t.TempDir(), "state")

	// First start: registers, keeps the token, sends samples with it.
	api.runUntil(t, api.config(dir, "rga_boot1"), "3 samples", api.samplesFrom("rgt_1", 3))
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, StateFile))
	if !strings.Contains(string(b), "rgt_1") || strings.Contains(string(b), "rga_boot1") {
		t.Errorf("state file holds %s", b)
	}
	if n := api.count(func() int { return len(api.inventories) }); n != 0 {
		t.Errorf("inventory posted %d times after registering with it", n)
	}

	// Restarts with the same (now used) bootstrap token in the
	// environment, and with none: the stored token is used, no register,
	// and the inventory is posted on each start.
	restarted := func(samples, inventories int) func() bool {
		return func() bool { return api.samples["rgt_1"] >= samples && len(api.inventories) >= inventories }
	}
	api.runUntil(t, api.config(dir, "rga_boot1"), "samples and the inventory after a restart", restarted(6, 1))
	api.runUntil(t, api.config(dir, ""), "samples and the inventory after a second restart", restarted(9, 2))
	if n := api.count(func() int { return api.registers }); n != 1 {
		t.Errorf("registered %d times", n)
	}
	if n := api.count(func() int { return len(api.inventories) }); n != 2 {
		t.Errorf("inventory posted %d times on 2 restarts", n)
	}

	// A new bootstrap token (the admin issued one): registers again.
	api.runUntil(t, api.config(dir, "rga_boot2"), "samples with the new token", api.samplesFrom("rgt_2", 3))

	// The token is revoked: the agent stops with a clear error and forgets it.
	api.mu.Lock()
	api.valid = map[string]bool{}
	api.mu.Unlock()
	err = runErr(t, api.config(dir, "rga_boot2"))
	if !errors.Is(err, pusher.ErrUnauthorized) || !NeedsOperator(err) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("the revoked token is still stored: %v", err)
	}

	// The used bootstrap token does not work twice.
	err = runErr(t, api.config(dir, "rga_boot2"))
	if !errors.Is(err, pusher.ErrBootstrapRejected) || !strings.Contains(err.Error(), "issue a new one in the console") {
		t.Errorf("used bootstrap token: %v", err)
	}

	// A state directory that cannot be written: the bootstrap token is not spent.
	ro := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(ro, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	api.bootstrap["rga_boot3"] = true
	api.mu.Unlock()
	err = runErr(t, api.config(filepath.Join(ro, "state"), "rga_boot3"))
	if err == nil || !strings.Contains(err.Error(), "--state-dir") || api.count(func() int { return len(api.bootstrap) }) != 1 {
		t.Errorf("unwritable state dir: %v", err)
	}

	// Nothing stored and no token.
	err = runErr(t, api.config(dir, ""))
	if err == nil || !strings.Contains(err.Error(), "REMOTEGPU_AGENT_TOKEN") {
		t.Errorf("no token: %v", err)
	}
}

// The api being down at the first start is retried, not fatal.
func TestRegisterRetriesWhileAPIDown(t *testing.T) {
	api := newFakeAPI(t, "rga_boot1")
	var calls int
	var mu sync.Mutex
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			envelope(w, http.StatusServiceUnavailable, nil)
			return
		}
		api.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	cfg := api.config(t.TempDir(), "rga_boot1")
	cfg.URL = flaky.URL
	api.runUntil(t, cfg, "a sample", api.samplesFrom("rgt_1", 1))
}

// mutableInventory is a collector whose inventory the test changes; it
// counts its reads.
type mutableInventory struct {
	mu       sync.Mutex
	hostname string
	reads    int
	read     chan struct{}
}

func (m *mutableInventory) Inventory(_ context.Context, inv *agentproto.Inventory) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv.Hostname = m.hostname
	m.reads++
	select {
	case m.read <- struct{}{}:
	default:
	}
	return nil
}
func (m *mutableInventory) Sample(context.Context, *agentproto.Sample) error { return nil }
func (m *mutableInventory) Close() error                                     { return nil }

// waitReads waits until the inventory was read n times.
func (m *mutableInventory) waitReads(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		m.mu.Lock()
		reads := m.reads
		m.mu.Unlock()
		if reads >= n {
			return
		}
		select {
		case <-m.read:
		case <-deadline:
			t.Fatalf("the inventory was read %d times, want %d", reads, n)
		}
	}
}

func TestInventoryReportedWhenItChanges(t *testing.T) {
	api := newFakeAPI(t)
	api.valid["tok"] = true
	client := &pusher.Client{BaseURL: api.srv.URL}
	client.SetToken("tok")
	m := &mutableInventory{hostname: "a", read: make(chan struct{}, 1)}
	host := &collect.Host{Collectors: []collect.Collector{m}}
	cfg := Config{InventoryEvery: time.Millisecond, Log: quiet()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cfg.reportInventory(ctx, client, host, nil) }()
	api.wait(t, "the first inventory", done, func() bool { return len(api.inventories) >= 1 })
	// Ten more rounds have read the same inventory: a round posts before
	// the next one reads, so any post of them has arrived by the 12th read.
	m.waitReads(t, 12)
	if n := api.count(func() int { return len(api.inventories) }); n != 1 {
		t.Errorf("an unchanged inventory was posted %d times", n)
	}
	m.mu.Lock()
	m.hostname = "b"
	m.mu.Unlock()
	api.wait(t, "the changed inventory", done, func() bool { return len(api.inventories) >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := api.inventories[1].Hostname; got != "b" {
		t.Errorf("second inventory %q", got)
	}
}

// A key rotation through the command channel: the new key is kept in the
// state file, reported with, and used by every later call (samples
// included), also after a restart.
func TestRotateAgentKeyThroughCommands(t *testing.T) {
	api := newFakeAPI(t, "rga_boot1")
	dir := filepath.Join(t.TempDir(), "state")
	api.runUntil(t, api.config(dir, "rga_boot1"), "a sample", api.samplesFrom("rgt_1", 1))

	const id = "00000000-0000-4000-8000-000000000001"
	api.mu.Lock()
	api.commands = append(api.commands, agentproto.Command{ID: id, Kind: agentproto.KindRotateAgentKey, HasSecret: true, HeartbeatSeconds: 15, Serial: "agent"})
	api.secrets[id] = "rgk_new"
	api.mu.Unlock()
	cfg := api.config(dir, "")
	cfg.HostOps = commands.ModeSimulated
	api.runUntil(t, cfg, "the rotation's report and a sample with the new key", func() bool {
		_, reported := api.results[id]
		return reported && api.samples["rgk_new"] > 0
	})
	api.mu.Lock()
	if r := api.results[id]; r.Status != agentproto.ResultSucceeded || api.resultBy[id] != "rgk_new" {
		t.Errorf("report %+v with %q", r, api.resultBy[id])
	}
	api.valid = map[string]bool{"rgk_new": true} // the old key is gone now
	api.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil || !strings.Contains(string(b), `"rgk_new"`) || strings.Contains(string(b), "rgt_1") {
		t.Fatalf("state file %s, %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, StateFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode())
	}
	// After a restart the new key is the one in use.
	api.runUntil(t, cfg, "samples with the new key after a restart", api.samplesFrom("rgk_new", api.count(func() int { return api.samples["rgk_new"] })+1))
}

func TestBadHostOpsConfig(t *testing.T) {
	api := newFakeAPI(t, "rga_boot1")
	cfg := api.config(t.TempDir(), "rga_boot1")
	cfg.HostOps = "pretend"
	if err := runErr(t, cfg); err == nil || !strings.Contains(err.Error(), "--host-ops") {
		t.Errorf("--host-ops=pretend: %v", err)
	}
	cfg.HostOps, cfg.DockerHost = commands.ModeReal, "nowhere"
	if err := runErr(t, cfg); err == nil || !strings.Contains(err.Error(), "--docker-host") {
		t.Errorf("bad docker host: %v", err)
	}
}

// The simulated source takes its faults from the state directory.
func TestSimulatedFaultFileInStateDir(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MachineID: "m1", StateDir: dir, GPUSource: agentproto.GPUSourceSimulated, Sim: collect.SimConfig{GPUs: 2}}
	host, err := cfg.collectors()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := os.WriteFile(filepath.Join(dir, "simulate-gpu-fault"), []byte("1 79\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := host.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.GPUs) != 2 || len(s.GPUs[1].XIDs) != 1 || s.GPUs[1].XIDs[0] != 79 {
		t.Fatalf("gpus %+v", s.GPUs)
	}
}
