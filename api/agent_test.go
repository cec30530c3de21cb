package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// inventory4090 is what a simulated agent reports for an 8× RTX 4090 host.
func inventory4090() agentproto.Inventory {
	inv := agentproto.Inventory{Hostname: "gpu-host", OS: "linux", Kernel: "6.1", GPUSource: agentproto.GPUSourceSimulated,
		DriverVersion: "550.54.15", CUDAVersion: "12.4", CPUModel: "EPYC", CPUCores: 64, MemoryMiB: 515000,
		Disks: []agentproto.Disk{{Mount: "/", TotalGiB: 3700}}, AgentVersion: "test"}
	for i := range 8 {
		inv.GPUs = append(inv.GPUs, agentproto.GPUInfo{Index: i, UUID: fmt.Sprintf("GPU-%d", i), Model: "NVIDIA GeForce RTX 4090", MemoryMiB: 24564})
	}
	return inv
}

// agent is a registered machine's agent.
type agent struct {
	*session
	machineID string
}

func (e *env) agentSession(key string) *session { return &session{e: e, access: key} }

// addAgent adds a machine (8× RTX 4090) and registers its agent.
func addAgent(t *testing.T, e *env, admin *session, name, region string) agent {
	t.Helper()
	c := addMachine(t, admin, name, region, "RTX 4090")
	var rr agentproto.RegisterResponse
	e.anon().must(200, "POST", agentproto.PathRegister, agentproto.RegisterRequest{MachineID: c.Machine.ID, BootstrapToken: c.AgentToken,
		Inventory: inventory4090()}).decode(t, &rr)
	return agent{session: e.agentSession(rr.AgentToken), machineID: c.Machine.ID}
}

// round is one sampling round of n GPUs, GPU i at util+i %, one process on GPU 0.
func round(at time.Time, n int, util float64) agentproto.Sample {
	fan := 30.0
	s := agentproto.Sample{At: at, Host: agentproto.HostSample{CPUPct: 20, MemUsedMiB: 100000, MemTotalMiB: 400000,
		Disks:    []agentproto.DiskSample{{Mount: "/", UsedGiB: 300, TotalGiB: 1000, ReadBps: 1e6, WriteBps: 2e6}},
		NetRxBps: 5e6, NetTxBps: 1e6, Load1: 3}}
	for i := range n {
		g := agentproto.GPUSample{Index: i, UUID: fmt.Sprintf("GPU-%d", i), Utilization: util + float64(i), MemUsedMiB: 12000, MemTotalMiB: 24564,
			TempC: 60 + float64(i), PowerW: 300, PowerLimitW: 450, FanPct: &fan}
		if i == 0 {
			g.Processes = []agentproto.GPUProcess{{PID: 4242, Name: "python train.py", MemUsedMiB: 12000}}
		}
		s.GPUs = append(s.GPUs, g)
	}
	return s
}

func (a agent) post(t *testing.T, samples ...agentproto.Sample) int {
	t.Helper()
	var res agentproto.SamplesResponse
	a.must(200, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: samples}).decode(t, &res)
	return res.Accepted
}

func TestAgentRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	c := addMachine(t, admin, "bj-agent-01", "北京", "RTX 4090")
	id := c.Machine.ID
	reg := func(token string) *reply {
		return e.anon().do("POST", agentproto.PathRegister, agentproto.RegisterRequest{MachineID: id, BootstrapToken: token, Inventory: inventory4090()})
	}
	if r := reg("rga_wrong"); r.Status != 401 {
		t.Fatalf("wrong token: %d", r.Status)
	}
	if r := e.anon().do("POST", agentproto.PathRegister, agentproto.RegisterRequest{MachineID: e.fx.tenantA.ID, BootstrapToken: c.AgentToken,
		Inventory: inventory4090()}); r.Status != 401 {
		t.Fatalf("another machine's id: %d", r.Status)
	}
	var rr agentproto.RegisterResponse
	reg(c.AgentToken).decode(t, &rr)
	if !strings.HasPrefix(rr.AgentToken, "rgk_") || rr.MachineID != id || rr.MachineName != "bj-agent-01" || rr.SampleInterval != 5 {
		t.Fatalf("register %+v", rr)
	}
	// one use only
	if r := reg(c.AgentToken); r.Status != 401 {
		t.Fatalf("bootstrap token reused: %d", r.Status)
	}
	first := e.agentSession(rr.AgentToken)
	first.must(200, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: []agentproto.Sample{round(time.Now(), 8, 10)}})
	// the agent token is not a user login, nor the other way round
	first.must(401, "GET", "/api/admin/machines", nil)
	admin.must(401, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: []agentproto.Sample{round(time.Now(), 8, 10)}})
	e.anon().must(401, "POST", agentproto.PathCommandsPoll, agentproto.PollRequest{})
	// the password endpoint of the first agent is gone: passwords only come with a command
	first.must(404, "GET", "/api/agent/ssh-password", nil)

	// a fresh bootstrap token re-registers: the old agent token stops working at once
	var boot api.AgentBootstrap
	admin.must(200, "POST", "/api/admin/machines/"+id+"/agent-token", nil).decode(t, &boot)
	var rr2 agentproto.RegisterResponse
	reg(boot.AgentToken).decode(t, &rr2)
	if rr2.AgentToken == rr.AgentToken {
		t.Fatal("re-registering kept the agent token")
	}
	first.must(401, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: []agentproto.Sample{round(time.Now(), 8, 10)}})
	e.agentSession(rr2.AgentToken).must(200, "POST", agentproto.PathInventory, inventory4090())

	var n, refused int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success)
		FROM audit_logs WHERE action = 'machine.agent_register' AND target_id = $1`, id).Scan(&n, &refused); err != nil || n != 2 || refused != 2 {
		t.Fatalf("%d register audit entries, %d refusals, %v", n, refused, err)
	}
	// only hashes are stored
	var stored []byte
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT agent_key_hash FROM machines WHERE id = $1`, id).Scan(&stored)
	if len(stored) != 32 || strings.Contains(string(stored), rr2.AgentToken) {
		t.Fatal("agent key not stored as a hash")
	}
}

// The machine comes from the agent's token: an agent only ever writes and
// reads its own machine.
func TestAgentOnlyItsOwnMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "own-a", "北京")
	b := addAgent(t, e, admin, "own-b", "北京")
	now := time.Now().UTC().Truncate(time.Millisecond)
	// a body naming the other machine changes nothing: the field is not part of the request
	body := map[string]any{"machineId": b.machineID, "samples": []agentproto.Sample{round(now, 8, 10)}}
	if r := a.do("POST", agentproto.PathSamples, body); r.Status != 200 && r.Status != 400 {
		t.Fatalf("samples with a machine id: %d", r.Status)
	}
	if got := a.post(t, round(now.Add(-5*time.Second), 8, 10), round(now, 8, 20)); got != 2 {
		t.Fatalf("accepted %d", got)
	}
	ctx := context.Background()
	var forA, forB int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE machine_id = $1), count(*) FILTER (WHERE machine_id = $2) FROM gpu_samples`, a.machineID, b.machineID).
		Scan(&forA, &forB)
	if forB != 0 || forA < 16 {
		t.Fatalf("rows for a %d, for b %d", forA, forB)
	}
	if _, err := e.st.MachineLatest(ctx, b.machineID); err != store.ErrNotFound {
		t.Fatalf("b has latest figures: %v", err)
	}
}

func TestAgentInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "inv-1", "北京")
	var inv api.MachineInventory
	admin.must(200, "GET", "/api/admin/machines/"+a.machineID+"/inventory", nil).decode(t, &inv)
	// the admin typed 8× RTX 4090, 24 GB, 64 cores, 512 GB: the report (24564 MiB, 503 GiB) matches
	if inv.Inventory == nil || inv.GPUSource != "simulated" || !inv.Simulated || inv.RegisteredAt == nil || len(inv.Differences) != 0 {
		t.Fatalf("inventory %+v", inv)
	}
	// the host turns out to have 4 A100s and a newer CUDA than recorded
	report := inventory4090()
	report.GPUs = report.GPUs[:4]
	for i := range report.GPUs {
		report.GPUs[i].Model, report.GPUs[i].MemoryMiB = "NVIDIA A100-SXM4-80GB", 81920
	}
	report.GPUSource, report.CPUCores = agentproto.GPUSourceNVML, 32
	a.must(200, "POST", agentproto.PathInventory, report)
	admin.must(200, "PUT", "/api/admin/machines/"+a.machineID, map[string]any{"name": "inv-1", "region": "北京", "gpuModel": "RTX 4090",
		"gpuMemoryGb": 24, "gpuCount": 8, "cpuCores": 64, "memoryGb": 512, "cudaVersion": "12.2", "driverVersion": "550.54"})
	admin.must(200, "GET", "/api/admin/machines/"+a.machineID+"/inventory", nil).decode(t, &inv)
	got := map[string]string{}
	for _, d := range inv.Differences {
		got[d.Field] = d.Declared + " -> " + d.Reported
	}
	want := map[string]string{"gpuModel": "RTX 4090 -> NVIDIA A100-SXM4-80GB", "gpuCount": "8 -> 4", "gpuMemoryGb": "24 -> 80.0",
		"cudaVersion": "12.2 -> 12.4", "cpuCores": "64 -> 32"}
	if fmt.Sprint(got) != fmt.Sprint(want) || inv.Simulated || inv.GPUSource != "nvml" {
		t.Fatalf("differences %v\nwant %v (simulated %v)", got, want, inv.Simulated)
	}
	// a machine whose agent never registered: no inventory yet
	c := addMachine(t, admin, "inv-2", "北京", "RTX 4090")
	admin.must(200, "GET", "/api/admin/machines/"+c.Machine.ID+"/inventory", nil).decode(t, &inv)
	if inv.Inventory != nil || inv.LastSeenAt != nil || len(inv.Differences) != 0 {
		t.Fatalf("unregistered %+v", inv)
	}
	admin.must(404, "GET", "/api/admin/machines/"+e.fx.tenantA.ID+"/inventory", nil)
}

func TestAgentSampleLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "lim-1", "北京")
	many := make([]agentproto.Sample, 2001)
	for i := range many {
		many[i] = agentproto.Sample{At: time.Now()}
	}
	a.must(400, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: many})
	a.must(400, "POST", agentproto.PathSamples, agentproto.SamplesRequest{})
	bad := round(time.Now(), 1, 10)
	bad.GPUs[0].Utilization = 140
	a.must(400, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: []agentproto.Sample{bad}})
	// a body over the cap is refused before it is read
	huge := strings.Repeat(" ", 9<<20)
	req, _ := http.NewRequest("POST", e.srv.URL+agentproto.PathSamples, strings.NewReader(`{"samples": [`+huge+`]}`))
	req.Header.Set("Authorization", "Bearer "+a.access)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("9 MiB body: %d", resp.StatusCode)
	}
}

// Hooks run after the rows are durable, with the machine from the token.
func TestOnIngestHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "hook-1", "北京")
	srv := api.New(api.Deps{Config: e.cfg, Store: e.st, Secrets: e.box})
	var mu sync.Mutex
	var calls []string
	srv.OnIngest(func(ctx context.Context, machineID string, samples []agentproto.Sample) {
		var n int
		_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM host_samples WHERE machine_id = $1`, machineID).Scan(&n)
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fmt.Sprintf("%s %d rounds, %d stored", machineID, len(samples), n))
	})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	other := &env{t: t, st: e.st, srv: hs}
	s := other.agentSession(a.access)
	s.must(200, "POST", agentproto.PathSamples, agentproto.SamplesRequest{Samples: []agentproto.Sample{round(time.Now(), 8, 1), round(time.Now(), 8, 2)}})
	if len(calls) != 1 || calls[0] != a.machineID+" 2 rounds, 2 stored" {
		t.Fatalf("hook calls %v", calls)
	}
	// a refused request calls nothing
	s.do("POST", agentproto.PathSamples, agentproto.SamplesRequest{})
	if len(calls) != 1 {
		t.Fatalf("hook called for a refused request: %v", calls)
	}
}
