// Package monitoring is the agents' ingest and what is read from it: the
// agent tokens, registration and inventory, the samples (stored in batches,
// then handed to the ingest hooks such as the alert evaluation), the
// fleet's and a leased machine's figures now and over time (requirements
// 2.1.1, 2.1.5.1, 3.1.2.2, 3.1.7.1).
package monitoring

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
)

// IngestHook is called after an agent's samples are durable; see OnIngest.
type IngestHook func(ctx context.Context, machineID string, samples []agentproto.Sample)

// Service is the monitoring of one api process.
type Service struct {
	Store *store.Store
	// Monitoring are the sample interval, batching and retentions (defaults filled in by New).
	Monitoring config.Monitoring
	Fleet      config.Fleet
	Now        func() time.Time

	once     sync.Once
	ingester *store.Ingester
	agents   agentKeyCache
	refusals refusalAudits
	mu       sync.RWMutex
	hooks    []IngestHook
}

func New(st *store.Store, mon config.Monitoring, fleet config.Fleet, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{Store: st, Monitoring: mon.WithDefaults(), Fleet: fleet, Now: now}
}

// machineNotFound: the machine does not exist (or, for a customer, is not
// leased to them), with the machines' own code.
func machineNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "machines.notFound", "machine not found")
	}
	return err
}

// RegionName turns a region code into the stored name; unknown values pass as they are.
func (s *Service) RegionName(r string) string {
	if reg, ok := s.Fleet.Config().Catalog.RegionCode(r); ok {
		return reg.Name
	}
	return r
}

// ---- agents ---------------------------------------------------------------

// OnIngest registers h to run after every accepted report of samples, once
// its rows are committed, with the machine (from the agent's token) and the
// samples as the agent sent them (a backlog may hold many rounds, oldest
// first; rounds older than the raw retention were not stored but are passed
// on). Hooks run in the order they were registered, on the request's
// goroutine and before the agent gets its answer, so ingest latency
// includes them: keep them short and hand slow work (mail, a workflow)
// elsewhere. ctx carries the request's values and trace ID but is not
// cancelled when the agent hangs up. Register hooks while the api is built.
//
// Replicas that did not receive the samples learn of them from Postgres:
// every ingest transaction sends NOTIFY machine_metrics, '<machineID>' for
// each machine in it, and NOTIFY machine_status, '<machineID>:online' when a
// sample brings an offline machine back; the offline detector (a Temporal
// schedule) sends NOTIFY machine_status, '<machineID>:offline' for each
// machine it turns offline (store.ChannelMachineMetrics,
// store.ChannelMachineStatus; the latest figures are in machine_latest).
func (s *Service) OnIngest(h IngestHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, h)
}

func (s *Service) ingest() *store.Ingester {
	s.once.Do(func() {
		m := s.Monitoring
		s.ingester = store.NewIngester(s.Store, store.IngestOptions{Wait: m.BatchWait, MaxRows: m.BatchRows, RetentionRaw: m.RetentionRaw})
	})
	return s.ingester
}

// Agent is an authenticated agent: the machine comes from its token, never
// from what it sends.
type Agent = store.AgentKey

type AuthenticateInput struct {
	Token string // the bearer token
	Path  string // what was called, for the audit record of a refusal
}

// Authenticate finds the machine of an agent token. An unknown, revoked or
// rotated-away token is refused and audited (from a leased host that is
// someone trying), up to a burst per client address.
func (s *Service) Authenticate(ctx context.Context, in AuthenticateInput) (Agent, error) {
	if in.Token == "" {
		return Agent{}, apperr.New(apperr.Unauthorized, "monitoring.agentTokenRequired", "agent token required")
	}
	key := sha256.Sum256([]byte(in.Token))
	now := time.Now()
	if k, ok := s.agents.get(key, now); ok {
		return k, nil
	}
	k, err := s.Store.AgentByKey(ctx, key[:])
	if errors.Is(err, store.ErrNotFound) {
		s.auditRefusal(ctx, in.Path, key)
		return Agent{}, apperr.New(apperr.Unauthorized, "monitoring.agentTokenInvalid",
			"invalid agent token: register the agent again with a new bootstrap token")
	}
	if err != nil {
		return Agent{}, err
	}
	s.agents.put(key, k, now)
	return k, nil
}

// ForgetMachine drops the machine's cached agent keys; "" drops every key
// (the host channel calls it when keys change).
func (s *Service) ForgetMachine(machineID string) { s.agents.forgetMachine(machineID) }

// auditRefusal records a refused agent token; only a prefix of the token's
// hash is kept, enough to tell repeated tries apart.
func (s *Service) auditRefusal(ctx context.Context, path string, key [32]byte) {
	ip := caller.RequestOf(ctx).IP
	if !s.refusals.allow(ip) {
		slog.WarnContext(ctx, "refused agent token (not audited: too many from this address)", "ip", ip, "path", path)
		return
	}
	err := s.Store.InsertAudit(ctx, &store.AuditLog{ActorName: "agent", ActorRole: "agent", Action: "agent.auth_refused",
		TargetType: "agent_api", TargetID: path, IP: ip, TraceID: logging.TraceID(ctx),
		Detail: map[string]any{"tokenSha256Prefix": fmt.Sprintf("%x", key[:6])}})
	if err != nil {
		slog.ErrorContext(ctx, "unable to audit a refused agent token", "err", err)
	}
}

type RegisterAgentInput struct {
	Request agentproto.RegisterRequest
}

// RegisterAgent exchanges a machine's one-use bootstrap token for the
// agent's own token and records the inventory (audited, refusals too).
func (s *Service) RegisterAgent(ctx context.Context, in RegisterAgentInput) (agentproto.RegisterResponse, error) {
	req := in.Request
	inv, err := json.Marshal(req.Inventory)
	if err != nil {
		return agentproto.RegisterResponse{}, err
	}
	tok, _ := auth.NewRefreshToken()
	key := "rgk_" + tok
	var name string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		name, err = store.New(tx).RegisterAgent(ctx, req.MachineID, auth.HashToken(req.BootstrapToken), auth.HashToken(key), inv,
			req.Inventory.GPUSource, s.Now())
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "machine.agent_register", TargetType: "machine", TargetID: req.MachineID, Success: true,
			Detail: map[string]any{"machine": name, "hostname": req.Inventory.Hostname, "gpuSource": req.Inventory.GPUSource,
				"gpus": len(req.Inventory.GPUs), "agentVersion": req.Inventory.AgentVersion}})
	})
	if errors.Is(err, store.ErrNotFound) {
		ip := caller.RequestOf(ctx).IP
		slog.WarnContext(ctx, "agent registration refused", "machine", req.MachineID, "ip", ip)
		// audited up to a burst per address, as refused agent tokens: made-up
		// registrations cannot flood the audit log
		if s.refusals.allow(ip) {
			if err := audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "machine.agent_register", TargetType: "machine", TargetID: req.MachineID,
				Detail: map[string]any{"reason": "unknown machine, or an invalid or expired bootstrap token", "hostname": req.Inventory.Hostname}}); err != nil {
				return agentproto.RegisterResponse{}, err
			}
		}
		return agentproto.RegisterResponse{}, apperr.New(apperr.Unauthorized, "monitoring.bootstrapTokenInvalid",
			"unknown machine, or an invalid or expired bootstrap token (each token works once, for a limited time: issue a new one in the console)")
	}
	if err != nil {
		return agentproto.RegisterResponse{}, err
	}
	s.agents.forgetMachine(req.MachineID)
	return agentproto.RegisterResponse{AgentToken: key, MachineID: req.MachineID, MachineName: name,
		SampleInterval: agentproto.Duration(s.Monitoring.SampleInterval / time.Second)}, nil
}

type InventoryInput struct {
	MachineID string // the agent's
	Inventory agentproto.Inventory
}

// SetInventory records what the machine's agent reports it has.
func (s *Service) SetInventory(ctx context.Context, in InventoryInput) error {
	inv, err := json.Marshal(in.Inventory)
	if err != nil {
		return err
	}
	return s.Store.SetInventory(ctx, in.MachineID, inv, in.Inventory.GPUSource, s.Now())
}

type SamplesInput struct {
	MachineID string // the agent's
	Samples   []agentproto.Sample
}

// IngestSamples stores the samples (in the next batch), then runs the
// ingest hooks; it answers how many rounds were stored.
func (s *Service) IngestSamples(ctx context.Context, in SamplesInput) (int, error) {
	if len(in.Samples) == 0 {
		return 0, apperr.New(apperr.Invalid, "monitoring.noSamples", "samples: at least one sampling round").AtField("body.samples")
	}
	stored, err := s.ingest().Submit(ctx, in.MachineID, s.Now(), in.Samples)
	if err != nil {
		if ctx.Err() != nil {
			return 0, apperr.New(apperr.Unavailable, "monitoring.samplesNotStored", "the request ended before the samples were stored; send them again")
		}
		return 0, err
	}
	s.mu.RLock()
	hooks := s.hooks
	s.mu.RUnlock()
	hctx := context.WithoutCancel(ctx)
	for _, hook := range hooks {
		hook(hctx, in.MachineID, in.Samples)
	}
	return stored, nil
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

func (c *agentKeyCache) forgetMachine(machineID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if machineID == "" || e.key.MachineID == machineID {
			delete(c.entries, k)
		}
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
