// Package runner wires the agent together: it registers with the api (or
// reuses the stored agent token), samples on a ticker into the pusher,
// reports the inventory when it changes, and runs the host commands the api
// hands out (agent/commands).
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/remotegpu/remotegpu/agent/collect"
	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/agent/tasklogs"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Version is the agent's version, set at build time with
// -ldflags "-X github.com/remotegpu/remotegpu/agent/runner.Version=...".
var Version = "dev"

// Config is the agent's configuration (flags and environment).
type Config struct {
	URL            string
	MachineID      string
	BootstrapToken string
	StateDir       string
	// Interval overrides the sampling interval the api gives (0: the api's, else 5 s).
	Interval  time.Duration
	GPUSource string
	Sim       collect.SimConfig
	// Buffer is how many samples are kept while the api is unreachable.
	Buffer int
	// HTTPTimeout bounds each call to the api (10 s when zero).
	HTTPTimeout time.Duration
	// InventoryEvery is how often the inventory is checked for changes (1 min when zero).
	InventoryEvery time.Duration

	// HostOps is commands.ModeReal (the default), ModeSimulated or ModeOff.
	HostOps     string
	DockerHost  string
	SSHUser     string
	Chpasswd    string
	StopTimeout time.Duration
	// KillGrace is how long a login session's process has between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// PollWait is how long a command poll may be held (commands.DefaultWait when zero).
	PollWait time.Duration
	// ImagesEvery is how often the host's images are checked for changes (1 min when zero).
	ImagesEvery time.Duration

	Log *slog.Logger
	// HTTPClient is used for the api (tests); http.DefaultClient when nil.
	HTTPClient *http.Client
}

// Exit codes that tell systemd not to restart (see deploy/remotegpu-agent.service).
const ExitConfig = 78 // EX_CONFIG: a token was rejected; a person must act

// NeedsOperator tells an error no restart will fix: the bootstrap token was
// rejected or the agent token revoked.
func NeedsOperator(err error) bool {
	return errors.Is(err, pusher.ErrUnauthorized) || errors.Is(err, pusher.ErrBootstrapRejected)
}

func (c *Config) log() *slog.Logger {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c.Log
}

// collectors builds the host's collectors; NVML fails here on a host without it.
func (c *Config) collectors() (*collect.Host, error) {
	sim := c.Sim
	if sim.Seed == 0 {
		sim.Seed = collect.SeedFrom(c.MachineID)
	}
	// simulated GPUs only: faults injected for demos and tests (README, The host agent)
	if sim.FaultFile == "" && c.StateDir != "" {
		sim.FaultFile = filepath.Join(c.StateDir, collect.SimFaultFileName)
	}
	gpu, err := collect.NewGPU(c.GPUSource, sim)
	if err != nil {
		return nil, err
	}
	return &collect.Host{Collectors: []collect.Collector{gpu, collect.NewSystem()}, AgentVersion: Version}, nil
}

// Once prints the inventory and one sample as JSON: a check of the
// collectors that needs no api.
func Once(ctx context.Context, cfg Config, w io.Writer) error {
	host, err := cfg.collectors()
	if err != nil {
		return err
	}
	defer host.Close()
	inv, err := host.Inventory(ctx)
	if err != nil {
		return err
	}
	// The rates (CPU %, disk and network) are measured over this second.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	s, err := host.Sample(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Inventory agentproto.Inventory `json:"inventory"`
		Sample    agentproto.Sample    `json:"sample"`
	}{inv, s})
}

// Run runs the agent until ctx ends (nil) or it cannot go on.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.log()
	if cfg.URL == "" || cfg.MachineID == "" {
		return errors.New("--url (REMOTEGPU_URL) and --machine-id (REMOTEGPU_MACHINE_ID) are required")
	}
	if cfg.HostOps == "" {
		cfg.HostOps = commands.ModeReal
	}
	if err := commands.CheckMode(cfg.HostOps); err != nil {
		return err
	}
	host, err := cfg.collectors()
	if err != nil {
		return err
	}
	defer host.Close()
	inv, err := host.Inventory(ctx)
	if err != nil {
		return fmt.Errorf("unable to read the inventory: %w", err)
	}
	api := &pusher.Client{BaseURL: cfg.URL, HTTP: cfg.HTTPClient, Timeout: cfg.HTTPTimeout, UserAgent: "remotegpu-agent/" + Version}

	st, fresh, err := cfg.credentials(ctx, api, inv)
	if err != nil {
		return err
	}
	reg := st.Register
	interval := cfg.Interval
	if interval <= 0 {
		interval = reg.SampleInterval.Std()
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	log.Info("agent running", "machine", reg.MachineName, "machine_id", cfg.MachineID, "gpu_source", inv.GPUSource,
		"gpus", len(inv.GPUs), "interval", interval, "buffer", cfg.Buffer, "host_ops", cfg.HostOps, "version", Version)
	hs, err := cfg.hostSide(api, st)
	if err != nil {
		return err
	}
	defer hs.close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) {
		if NeedsOperator(err) {
			if rmErr := removeState(cfg.StateDir); rmErr != nil {
				log.Warn("unable to remove the revoked agent token", "error", rmErr)
			}
		}
		cancel(err)
	}

	p := pusher.New(api, max(cfg.Buffer, 1), log.With("component", "pusher"))
	done := make(chan struct{})
	running := 0
	start := func(f func()) {
		running++
		go func() {
			defer func() { done <- struct{}{} }()
			f()
		}()
	}
	start(func() {
		if err := p.Run(ctx); err != nil {
			fail(err)
		}
	})
	start(func() {
		var last *agentproto.Inventory
		if fresh {
			last = &inv // register carried it
		}
		if err := cfg.reportInventory(ctx, api, host, last); err != nil {
			fail(err)
		}
	})
	start(func() { sampleLoop(ctx, host, p, interval, log) })
	if hs.loop != nil {
		start(func() {
			if err := hs.loop.Run(ctx); err != nil {
				fail(err)
			}
		})
	}
	if hs.logs != nil {
		start(func() { hs.logs.Run(ctx) })
		start(func() {
			if err := cfg.reportImages(ctx, api, hs.ops); err != nil {
				fail(err)
			}
		})
	}
	for range running {
		<-done
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// credentials returns the stored state, or registers with the bootstrap
// token and stores the answer. fresh says it registered now.
func (c *Config) credentials(ctx context.Context, api *pusher.Client, inv agentproto.Inventory) (*state, bool, error) {
	log := c.log()
	st, err := loadState(c.StateDir)
	if err != nil {
		return nil, false, err
	}
	if st != nil && st.MachineID == c.MachineID && (c.BootstrapToken == "" || hashToken(c.BootstrapToken) == st.BootstrapSHA256) {
		api.SetToken(st.Register.AgentToken)
		log.Info("using the stored agent token", "state_dir", c.StateDir)
		return st, false, nil
	}
	if c.BootstrapToken == "" {
		if st != nil {
			return nil, false, fmt.Errorf("the agent state in %s belongs to machine %s, not %s, and no bootstrap token is given (REMOTEGPU_AGENT_TOKEN)", c.StateDir, st.MachineID, c.MachineID)
		}
		return nil, false, fmt.Errorf("no agent token stored in %s and no bootstrap token given: set REMOTEGPU_AGENT_TOKEN (--bootstrap-token) to the token the console showed when the machine was added", c.StateDir)
	}
	if st != nil {
		log.Info("a new bootstrap token is configured: registering again")
	}
	// The bootstrap token works once: make sure the answer can be kept
	// before spending it.
	if err := checkWritable(c.StateDir); err != nil {
		return nil, false, err
	}
	req := agentproto.RegisterRequest{MachineID: c.MachineID, BootstrapToken: c.BootstrapToken, Inventory: inv}
	bo := pusher.DefaultBackOff()
	for attempt := 1; ; attempt++ {
		reg, err := api.Register(ctx, req)
		if err == nil {
			if reg.MachineID == "" {
				reg.MachineID = c.MachineID
			}
			st := &state{MachineID: c.MachineID, BootstrapSHA256: hashToken(c.BootstrapToken), Register: reg}
			if err := saveState(c.StateDir, st); err != nil {
				return nil, true, err
			}
			log.Info("registered with the api", "machine", reg.MachineName, "interval_s", int(reg.SampleInterval))
			return st, true, nil
		}
		if !pusher.Retryable(err) {
			return nil, false, err
		}
		d := bo.NextBackOff()
		log.Warn("unable to register; retrying", "in", d.Round(time.Millisecond), "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(d):
		}
	}
}

// sampleLoop takes a sample every interval into the pusher.
func sampleLoop(ctx context.Context, host *collect.Host, p *pusher.Pusher, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		s, err := host.Sample(ctx)
		switch {
		case err == nil:
			if failing {
				log.Info("sampling works again")
				failing = false
			}
			p.Add(s)
		case ctx.Err() != nil:
			return
		case !failing:
			log.Error("unable to sample; will retry every interval", "error", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reportInventory posts the inventory on start (unless last, just sent with
// the registration) and whenever it changes.
func (c *Config) reportInventory(ctx context.Context, api *pusher.Client, host *collect.Host, last *agentproto.Inventory) error {
	every := c.InventoryEvery
	if every <= 0 {
		every = time.Minute
	}
	log := c.log()
	bo := pusher.DefaultBackOff()
	for {
		wait := every
		inv, err := host.Inventory(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("unable to read the inventory", "error", err)
		case last == nil || !reflect.DeepEqual(inv, *last):
			if err := api.PostInventory(ctx, inv); err != nil {
				if !pusher.Retryable(err) {
					if errors.Is(err, pusher.ErrUnauthorized) {
						return err
					}
					log.Error("the api rejected the inventory", "error", err)
					last = &inv // do not send the same again
					break
				}
				wait = min(bo.NextBackOff(), every)
				log.Warn("unable to report the inventory; retrying", "in", wait.Round(time.Millisecond), "error", err)
				break
			}
			bo.Reset()
			if last != nil {
				log.Info("inventory changed and reported", "gpus", len(inv.GPUs), "disks", len(inv.Disks))
			}
			last = &inv
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// hostSide is what runs the host commands: the command loop (nil when
// host ops are off), and the host operations with their task log shipper
// (nil without Docker work to do).
type hostSide struct {
	loop  *commands.Loop
	ops   *hostops.Ops
	logs  *tasklogs.Shipper
	close func()
}

// hostSide builds the host command loop of the --host-ops mode. Task
// containers run in ModeReal and ModeSimulated alike (simulated host ops
// leave the login account alone, not the Docker daemon they are given).
func (c *Config) hostSide(api *pusher.Client, st *state) (hostSide, error) {
	log := c.log()
	hs := hostSide{close: func() {}}
	kinds := &commands.Kinds{SetToken: api.SetToken, PutTaskOutput: api.PutTaskOutput, Datasets: api, SaveToken: c.tokenSaver(st), Log: log.With("component", "commands")}
	if c.HostOps == commands.ModeOff {
		log.Info("host commands off (--host-ops=off): metrics only")
		return hs, nil
	}
	dc, err := hostops.NewDocker(c.DockerHost)
	if err != nil {
		return hs, fmt.Errorf("--docker-host: %w", err)
	}
	hs.close = func() { _ = dc.Close() }
	simulated := c.HostOps == commands.ModeSimulated
	hs.logs = &tasklogs.Shipper{API: api, Docker: dc, MachineID: c.MachineID, Log: log.With("component", "tasklogs")}
	hs.ops = &hostops.Ops{Docker: dc, SSHUser: c.SSHUser, Chpasswd: c.Chpasswd, StopTimeout: c.StopTimeout, KillGrace: c.KillGrace,
		MachineID: c.MachineID, OwnContainersOnly: simulated, StateDir: c.StateDir,
		GPUDevices: c.GPUSource == agentproto.GPUSourceNVML, Logs: hs.logs, Log: log.With("component", "hostops")}
	kinds.Ops, kinds.Simulated = hs.ops, simulated
	if simulated {
		log.Warn("SIMULATED host ops (--host-ops=simulated): commands on the login account are acknowledged without touching this machine " +
			"(no process killed, no password or authorized_keys changed); task containers run in the Docker daemon at " + dc.DaemonHost() +
			"; the agent key is rotated for real")
	}
	hs.loop = &commands.Loop{API: api, Handlers: kinds.Handlers(), Wait: c.PollWait, Log: log.With("component", "commands")}
	return hs, nil
}

// tokenSaver keeps a rotated agent token in the state file.
func (c *Config) tokenSaver(st *state) func(string) error {
	var mu sync.Mutex
	return func(token string) error {
		mu.Lock()
		defer mu.Unlock()
		next := *st
		next.Register.AgentToken = token
		if err := saveState(c.StateDir, &next); err != nil {
			return err
		}
		*st = next
		return nil
	}
}
