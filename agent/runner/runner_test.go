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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/collect"
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
	gotSample   chan struct{}
	srv         *httptest.Server
}

func newFakeAPI(t *testing.T, bootstrap ...string) *fakeAPI {
	f := &fakeAPI{t: t, bootstrap: map[string]bool{}, valid: map[string]bool{}, samples: map[string]int{}, gotSample: make(chan struct{}, 1000)}
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
		envelope(w, http.StatusOK, agentproto.RegisterResponse{AgentToken: tok, MachineID: "m-1", MachineName: "gpu-01",
			SampleInterval: 5, TemporalAddress: "127.0.0.1:1", TemporalNS: "default", TaskQueue: "host.m-1"})
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
		select {
		case f.gotSample <- struct{}{}:
		default:
		}
	default:
		envelope(w, http.StatusNotFound, nil)
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
		GPUSource: agentproto.GPUSourceSimulated, Sim: collect.SimConfig{GPUs: 2}, Buffer: 100, NoTemporal: true, Log: quiet()}
}

// runUntil runs the agent until the api got n samples from token, then stops it.
func (f *fakeAPI) runUntil(t *testing.T, cfg Config, token string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	deadline := time.After(15 * time.Second)
	for f.count(func() int { return f.samples[token] }) < n {
		select {
		case <-f.gotSample:
		case err := <-done:
			cancel()
			t.Fatalf("Run ended early: %v", err)
		case <-deadline:
			cancel()
			t.Fatalf("no samples with %s", token)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after cancel", err)
	}
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
	api.runUntil(t, api.config(dir, "rga_boot1"), "rgt_1", 3)
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
	// environment, and with none: the stored token is used, no register.
	api.runUntil(t, api.config(dir, "rga_boot1"), "rgt_1", 6)
	api.runUntil(t, api.config(dir, ""), "rgt_1", 9)
	if n := api.count(func() int { return api.registers }); n != 1 {
		t.Errorf("registered %d times", n)
	}
	if n := api.count(func() int { return len(api.inventories) }); n != 2 {
		t.Errorf("inventory posted %d times on 2 restarts", n)
	}

	// A new bootstrap token (the admin issued one): registers again.
	api.runUntil(t, api.config(dir, "rga_boot2"), "rgt_2", 3)

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
	api.runUntil(t, cfg, "rgt_1", 1)
}

// mutableInventory is a collector whose inventory the test changes.
type mutableInventory struct {
	mu       sync.Mutex
	hostname string
}

func (m *mutableInventory) Inventory(_ context.Context, inv *agentproto.Inventory) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv.Hostname = m.hostname
	return nil
}
func (m *mutableInventory) Sample(context.Context, *agentproto.Sample) error { return nil }
func (m *mutableInventory) Close() error                                     { return nil }

func TestInventoryReportedWhenItChanges(t *testing.T) {
	api := newFakeAPI(t)
	api.valid["tok"] = true
	client := &pusher.Client{BaseURL: api.srv.URL}
	client.SetToken("tok")
	m := &mutableInventory{hostname: "a"}
	host := &collect.Host{Collectors: []collect.Collector{m}}
	cfg := Config{InventoryEvery: 5 * time.Millisecond, Log: quiet()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cfg.reportInventory(ctx, client, host, nil) }()
	wait := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); api.count(func() int { return len(api.inventories) }) < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("want %d inventories", n)
			}
		}
	}
	wait(1)
	time.Sleep(50 * time.Millisecond) // ten unchanged rounds
	if n := api.count(func() int { return len(api.inventories) }); n != 1 {
		t.Errorf("an unchanged inventory was posted %d times", n)
	}
	m.mu.Lock()
	m.hostname = "b"
	m.mu.Unlock()
	wait(2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := api.inventories[1].Hostname; got != "b" {
		t.Errorf("second inventory %q", got)
	}
}
