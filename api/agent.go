package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
)

// agentHandler is the host agents' side of the api (/api/agent/...): not
// behind the user login but behind each machine's own agent token, and a
// machine's agent only ever reads or writes its own machine, which comes
// from the token and never from the body.
type agentHandler struct{ s *Server }

// IngestHook is called after an agent's samples are durable; see Server.OnIngest.
type IngestHook func(ctx context.Context, machineID string, samples []agentproto.Sample)

// monitorState is the server's monitoring machinery: the ingest batcher,
// the agent token cache and the ingest hooks.
type monitorState struct {
	mon      config.Monitoring
	once     sync.Once
	ingester *store.Ingester
	agents   agentKeyCache
	refusals refusalAudits
	mu       sync.RWMutex
	hooks    []IngestHook
}

func (s *Server) monitoring() *monitorState {
	if s.monitor == nil {
		s.monitor = &monitorState{mon: s.Config.Monitoring.WithDefaults()}
	}
	return s.monitor
}

func (m *monitorState) ingest(st *store.Store) *store.Ingester {
	m.once.Do(func() {
		m.ingester = store.NewIngester(st, store.IngestOptions{Wait: m.mon.BatchWait, MaxRows: m.mon.BatchRows, RetentionRaw: m.mon.RetentionRaw})
	})
	return m.ingester
}

// OnIngest registers h to run after every accepted POST /api/agent/samples,
// once the request's rows are committed, with the machine (from the agent's
// token) and the samples as the agent sent them (a backlog may hold many
// rounds, oldest first; rounds older than the raw retention were not stored
// but are passed on). Hooks run in the order they were registered, on the
// request's goroutine and before the agent gets its answer, so ingest
// latency includes them: keep them short and hand slow work (mail, a
// workflow) elsewhere. ctx carries the request's values and trace ID but is
// not cancelled when the agent hangs up. Register hooks while the server is
// built (from a handler's register method).
//
// Replicas that did not receive the samples learn of them from Postgres:
// every ingest transaction sends NOTIFY machine_metrics, '<machineID>' for
// each machine in it, and NOTIFY machine_status, '<machineID>:online' when a
// sample brings an offline machine back; the offline detector (a Temporal
// schedule) sends NOTIFY machine_status, '<machineID>:offline' for each
// machine it turns offline. The channel names are store.ChannelMachineMetrics
// and store.ChannelMachineStatus; the latest figures are in machine_latest
// (store.MachineLatest, store.Realtime).
func (s *Server) OnIngest(h func(ctx context.Context, machineID string, samples []agentproto.Sample)) {
	m := s.monitoring()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, h)
}

// agentKeyCache remembers which machine an agent key belongs to for a
// minute, so 2,000 agents reporting every 5 s cost about 33 lookups a second
// rather than 400. Every change of a machine's keys (registration, rotation,
// reinstall, deletion) is announced by a trigger on store.ChannelAgentKeys,
// and every replica drops that machine's entries at once.
type agentKeyCache struct {
	mu      sync.Mutex
	entries map[[32]byte]agentKeyEntry
}

type agentKeyEntry struct {
	key     store.AgentKey
	expires time.Time
}

const agentKeyTTL = time.Minute

func (c *agentKeyCache) get(k [32]byte, now time.Time) (store.AgentKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.After(e.expires) {
		return store.AgentKey{}, false
	}
	return e.key, true
}

func (c *agentKeyCache) put(k [32]byte, key store.AgentKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) > 50000 {
		c.entries = map[[32]byte]agentKeyEntry{}
	}
	c.entries[k] = agentKeyEntry{key: key, expires: now.Add(agentKeyTTL)}
}

// forgetMachine drops the machine's cached keys; "" drops every key.
func (c *agentKeyCache) forgetMachine(machineID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if machineID == "" || e.key.MachineID == machineID {
			delete(c.entries, k)
		}
	}
}

type agentMachineKey struct{}

// agentMachine is the machine of the calling agent (operations behind agentAuth).
func agentMachine(ctx context.Context) string {
	return agentKey(ctx).MachineID
}

func agentKey(ctx context.Context) store.AgentKey {
	k, _ := ctx.Value(agentMachineKey{}).(store.AgentKey)
	return k
}

// agentCaller is the calling agent as the host channel sees it.
func agentCaller(ctx context.Context) hostchan.Caller {
	k := agentKey(ctx)
	return hostchan.Caller{MachineID: k.MachineID, PendingKey: k.Pending, IP: reqInfo(ctx).IP, TraceID: logging.TraceID(ctx)}
}

// agentAuth authenticates an agent by its token; the machine goes into the context.
func (s *Server) agentAuth(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		token, found := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
		if !found || token == "" {
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "", unauthorized("agent token required"))
			return
		}
		key := sha256.Sum256([]byte(token))
		m := s.monitoring()
		now := time.Now()
		k, ok := m.agents.get(key, now)
		if !ok {
			var err error
			k, err = s.Store.AgentByKey(ctx.Context(), key[:])
			if errors.Is(err, store.ErrNotFound) {
				s.auditAgentRefusal(ctx.Context(), ctx.Operation().Path, key)
				_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "", unauthorized("invalid agent token: register the agent again with a new bootstrap token"))
				return
			}
			if err != nil {
				_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "", err)
				return
			}
			m.agents.put(key, k, now)
		}
		next(huma.WithValue(ctx, agentMachineKey{}, k))
	}
}

// auditAgentRefusal records a call with an unknown, revoked or rotated-away
// agent token: from a leased host that is someone trying. Only a prefix of
// the token's hash is kept, enough to tell repeated tries apart.
func (s *Server) auditAgentRefusal(ctx context.Context, path string, key [32]byte) {
	ip := reqInfo(ctx).IP
	if !s.monitoring().refusals.allow(ip) {
		slog.WarnContext(ctx, "refused agent token (not audited: too many from this address)", "ip", ip, "path", path)
		return
	}
	err := store.InsertAudit(ctx, s.Store.Pool, &store.AuditLog{ActorName: "agent", ActorRole: "agent", Action: "agent.auth_refused",
		TargetType: "agent_api", TargetID: path, IP: reqInfo(ctx).IP, TraceID: logging.TraceID(ctx),
		Detail: map[string]any{"tokenSha256Prefix": fmt.Sprintf("%x", key[:6])}})
	if err != nil {
		slog.ErrorContext(ctx, "unable to audit a refused agent token", "err", err)
	}
}

// refusalAudits bounds the audit records of refused agent tokens per
// client address (a minute's burst, then one a second), so that anyone
// sending made-up tokens cannot fill the audit log; the rest are logged.
type refusalAudits struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (r *refusalAudits) allow(ip string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) > 10000 {
		r.m = map[string]*rate.Limiter{}
	}
	l, ok := r.m[ip]
	if !ok {
		l = rate.NewLimiter(rate.Every(time.Second), 60)
		r.m[ip] = l
	}
	return l.Allow()
}

// Body limits of the agent operations.
const (
	maxAgentRegisterBytes = 256 << 10
	maxAgentSamplesBytes  = 8 << 20 // a backlog of 2,000 rounds of 8 GPUs with processes
)

type AgentRegisterInput struct {
	Body agentproto.RegisterRequest
}

type AgentInventoryInput struct {
	Body agentproto.Inventory
}

type AgentSamplesInput struct {
	Body agentproto.SamplesRequest
}

func (h *agentHandler) register(api huma.API) {
	const tag = "agent"
	oapi := api.OpenAPI()
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes["agentToken"] = &huma.SecurityScheme{Type: "http", Scheme: "bearer",
		Description: "A machine's agent token, from register-agent"}
	agentOp := func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation {
		op := operation(method, path, id, tag, summary, nil, errs...)
		op.Security = []map[string][]string{{"agentToken": {}}}
		op.Middlewares = huma.Middlewares{h.s.agentAuth(api)}
		op.Errors = append(op.Errors, http.StatusUnauthorized)
		op.MaxBodyBytes = maxBody
		return op
	}
	reg := operation(http.MethodPost, agentproto.PathRegister, "register-agent", tag,
		"Exchange a machine's one-use bootstrap token for the agent's own token; records the inventory", nil,
		http.StatusUnauthorized, http.StatusUnprocessableEntity)
	reg.MaxBodyBytes = maxAgentRegisterBytes
	huma.Register(api, reg, h.registerAgent)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathInventory, "report-agent-inventory",
		"The agent reports what its host has", maxAgentRegisterBytes, http.StatusUnprocessableEntity), h.inventory)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathSamples, "report-agent-samples",
		"The agent reports one or more sampling rounds; answers once they are stored. Rounds older than the raw retention are not stored "+
			"(not counted in accepted; resending them is useless); timestamps more than a minute ahead of the api's clock are set to it",
		maxAgentSamplesBytes, http.StatusUnprocessableEntity), h.samples)
	h.registerCommands(agentOp)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/inventory", "get-machine-inventory", "machines",
		"What the machine's agent reported, and where it differs from what the admin entered", roleAdmin, http.StatusNotFound), h.machineInventory)
}

func gpuSource(inv agentproto.Inventory) string { return inv.GPUSource }

func (h *agentHandler) registerAgent(ctx context.Context, in *AgentRegisterInput) (*Resp[agentproto.RegisterResponse], error) {
	s := h.s
	inv, err := json.Marshal(in.Body.Inventory)
	if err != nil {
		return nil, err
	}
	tok, _ := auth.NewRefreshToken()
	key := "rgk_" + tok
	var name string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		name, err = store.RegisterAgent(ctx, tx, in.Body.MachineID, auth.HashToken(in.Body.BootstrapToken), auth.HashToken(key), inv,
			gpuSource(in.Body.Inventory), s.now())
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{Action: "machine.agent_register", TargetType: "machine", TargetID: in.Body.MachineID, Success: true,
			Detail: map[string]any{"machine": name, "hostname": in.Body.Inventory.Hostname, "gpuSource": in.Body.Inventory.GPUSource,
				"gpus": len(in.Body.Inventory.GPUs), "agentVersion": in.Body.Inventory.AgentVersion}})
	})
	if errors.Is(err, store.ErrNotFound) {
		slog.WarnContext(ctx, "agent registration refused", "machine", in.Body.MachineID, "ip", reqInfo(ctx).IP)
		if err := s.audit(ctx, nil, auditEntry{Action: "machine.agent_register", TargetType: "machine", TargetID: in.Body.MachineID,
			Detail: map[string]any{"reason": "unknown machine, or an invalid or expired bootstrap token", "hostname": in.Body.Inventory.Hostname}}); err != nil {
			return nil, err
		}
		return nil, unauthorized("unknown machine, or an invalid or expired bootstrap token (each token works once, for a limited time: issue a new one in the console)")
	}
	if err != nil {
		return nil, err
	}
	m := s.monitoring()
	m.agents.forgetMachine(in.Body.MachineID)
	return ok(ctx, agentproto.RegisterResponse{AgentToken: key, MachineID: in.Body.MachineID, MachineName: name,
		SampleInterval: agentproto.Duration(m.mon.SampleInterval / time.Second)})
}

func (h *agentHandler) inventory(ctx context.Context, in *AgentInventoryInput) (*Resp[Empty], error) {
	inv, err := json.Marshal(in.Body)
	if err != nil {
		return nil, err
	}
	if err := h.s.Store.SetInventory(ctx, agentMachine(ctx), inv, gpuSource(in.Body), h.s.now()); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *agentHandler) samples(ctx context.Context, in *AgentSamplesInput) (*Resp[agentproto.SamplesResponse], error) {
	if len(in.Body.Samples) == 0 {
		return nil, apperr.Newf(apperr.Unprocessable, "samples: at least one sampling round").AtField("body.samples")
	}
	id := agentMachine(ctx)
	m := h.s.monitoring()
	stored, err := m.ingest(h.s.Store).Submit(ctx, id, h.s.now(), in.Body.Samples)
	if err != nil {
		if ctx.Err() != nil {
			return nil, apperr.Newf(apperr.Unavailable, "the request ended before the samples were stored; send them again")
		}
		return nil, err
	}
	m.mu.RLock()
	hooks := m.hooks
	m.mu.RUnlock()
	hctx := context.WithoutCancel(ctx)
	for _, hook := range hooks {
		hook(hctx, id, in.Body.Samples)
	}
	return ok(ctx, agentproto.SamplesResponse{Accepted: stored})
}

// MachineInventory is the admin's view of what the agent reported.
type MachineInventory struct {
	Inventory    *agentproto.Inventory `json:"inventory" doc:"Null until the agent registers"`
	InventoryAt  *time.Time            `json:"inventoryAt"`
	GPUSource    string                `json:"gpuSource" enum:"nvml,simulated," doc:"simulated: label the machine, its GPU figures are made up"`
	Simulated    bool                  `json:"simulated"`
	RegisteredAt *time.Time            `json:"registeredAt"`
	LastSeenAt   *time.Time            `json:"lastSeenAt"`
	Differences  []InventoryDifference `json:"differences" doc:"Where the report differs from the machine's record"`
}

type InventoryDifference struct {
	Field    string `json:"field" doc:"The machine field: gpuModel, gpuCount, gpuMemoryGb, cudaVersion, driverVersion, cpuCores, memoryGb"`
	Declared string `json:"declared" doc:"What the admin entered"`
	Reported string `json:"reported" doc:"What the agent found"`
}

func (h *agentHandler) machineInventory(ctx context.Context, in *MachineIDInput) (*Resp[MachineInventory], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	st, err := h.s.Store.AgentState(ctx, in.ID)
	if err != nil {
		return nil, machineNotFound(err)
	}
	out := MachineInventory{InventoryAt: st.InventoryAt, GPUSource: st.GPUSource, Simulated: st.GPUSource == agentproto.GPUSourceSimulated,
		RegisteredAt: st.RegisteredAt, LastSeenAt: st.LastSeenAt, Differences: []InventoryDifference{}}
	if st.Inventory != nil {
		var inv agentproto.Inventory
		if err := json.Unmarshal(st.Inventory, &inv); err != nil {
			return nil, err
		}
		out.Inventory = &inv
		out.Differences = inventoryDifferences(m, &inv)
	}
	return ok(ctx, out)
}

// normModel reduces a GPU model to letters and digits, without the vendor
// words NVML adds ("NVIDIA GeForce RTX 4090" ~ "RTX 4090").
func normModel(s string) string {
	s = strings.ToLower(s)
	for _, w := range []string{"nvidia", "geforce", "tesla"} {
		s = strings.ReplaceAll(s, w, "")
	}
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// near: within 7 % or 1 GB (NVML and the kernel both report a little less than the label).
func near(reported, declared float64) bool {
	return math.Abs(reported-declared) <= math.Max(1, declared*0.07)
}

// inventoryDifferences compares the record with the report; fields the
// admin left empty are not compared.
func inventoryDifferences(m *store.Machine, inv *agentproto.Inventory) []InventoryDifference {
	diffs := []InventoryDifference{}
	add := func(field, declared, reported string) {
		diffs = append(diffs, InventoryDifference{Field: field, Declared: declared, Reported: reported})
	}
	var models []string
	seen := map[string]bool{}
	var memMiB int64
	for _, g := range inv.GPUs {
		if !seen[g.Model] {
			seen[g.Model] = true
			models = append(models, g.Model)
		}
		if g.MemoryMiB > memMiB {
			memMiB = g.MemoryMiB
		}
	}
	if m.GPUModel != "" && len(inv.GPUs) > 0 {
		match := true
		for _, model := range models {
			if !strings.Contains(normModel(model), normModel(m.GPUModel)) {
				match = false
			}
		}
		if !match {
			add("gpuModel", m.GPUModel, strings.Join(models, ", "))
		}
	}
	if m.GPUCount != len(inv.GPUs) {
		add("gpuCount", fmt.Sprint(m.GPUCount), fmt.Sprint(len(inv.GPUs)))
	}
	if m.GPUMemoryGB > 0 && len(inv.GPUs) > 0 && !near(float64(memMiB)/1024, float64(m.GPUMemoryGB)) {
		add("gpuMemoryGb", fmt.Sprint(m.GPUMemoryGB), fmt.Sprintf("%.1f", float64(memMiB)/1024))
	}
	if v := strings.TrimSpace(m.CUDAVersion); v != "" && inv.CUDAVersion != "" && strings.TrimSpace(inv.CUDAVersion) != v {
		add("cudaVersion", v, inv.CUDAVersion)
	}
	if v := strings.TrimSpace(m.DriverVersion); v != "" && inv.DriverVersion != "" &&
		!(inv.DriverVersion == v || strings.HasPrefix(inv.DriverVersion, v+".")) {
		add("driverVersion", v, inv.DriverVersion)
	}
	if m.CPUCores > 0 && inv.CPUCores > 0 && m.CPUCores != inv.CPUCores {
		add("cpuCores", fmt.Sprint(m.CPUCores), fmt.Sprint(inv.CPUCores))
	}
	if m.MemoryGB > 0 && inv.MemoryMiB > 0 && !near(float64(inv.MemoryMiB)/1024, float64(m.MemoryGB)) {
		add("memoryGb", fmt.Sprint(m.MemoryGB), fmt.Sprintf("%.1f", float64(inv.MemoryMiB)/1024))
	}
	return diffs
}
