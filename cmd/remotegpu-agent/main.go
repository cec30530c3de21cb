// Command remotegpu-agent runs on each GPU host: it reports the host's
// inventory and a sample of every GPU and of the host every interval to the
// api, and runs the host commands the api hands it over HTTPS (stop a
// tenant's containers and login sessions, set the login password, write the
// platform's authorized_keys block, rotate its own key, run task
// containers and ship their logs). It never talks to Temporal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/agent/runner"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/logging"
)

const usageHead = `usage: remotegpu-agent [flags]

Every flag can also be set through the environment variable named in its
description; a flag given on the command line wins. Pass the bootstrap token
through REMOTEGPU_AGENT_TOKEN rather than the flag (flags show in ps).

Check the collectors without an api:
  remotegpu-agent --once                          # NVML: needs an NVIDIA driver
  remotegpu-agent --once --gpu-source=simulated   # anywhere
Check a task container with GPU 0 (Docker and the NVIDIA container toolkit):
  remotegpu-agent --check-task IMAGE --check-gpus 0 --check-command 'nvidia-smi -L'

On a developer's machine (the dev stack's demo agents) run with
--host-ops=simulated: commands on the login account are then acknowledged
without touching the machine, and their results say "simulated"; task
containers still run, in the Docker daemon --docker-host names.

Simulated GPU faults (--gpu-source=simulated only; NVML ignores the file):
write "<gpu index> <xid>" (a critical XID error) or "<gpu index> ecc" (one
more uncorrected ECC error), one per line, to <state dir>/simulate-gpu-fault;
the next sample reads it, reports the faults and removes it. Tasks on that
GPU are then moved as after a real fault. For demos and tests; the demo
agents of make run keep their state in .data/agents/<machine name>/:
  echo "0 79" > .data/agents/<machine name>/simulate-gpu-fault

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	cfg       runner.Config
	once      bool
	checkTask string // an image: run one task container and exit
	checkCmd  string
	checkGPUs []int
	version   bool
	logLevel  string
	logFormat string
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	envInt := func(key string, def int) int {
		if n, err := strconv.Atoi(getenv(key)); err == nil {
			return n
		}
		return def
	}
	envDur := func(key string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(key)); err == nil {
			return d
		}
		return def
	}
	o := &options{}
	c := &o.cfg
	fs := flag.NewFlagSet("remotegpu-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.URL, "url", env("REMOTEGPU_URL", ""), "control-plane URL, e.g. https://gpu.example.com (REMOTEGPU_URL)")
	fs.StringVar(&c.MachineID, "machine-id", env("REMOTEGPU_MACHINE_ID", ""), "this machine's ID, as the console shows it (REMOTEGPU_MACHINE_ID)")
	fs.StringVar(&c.BootstrapToken, "bootstrap-token", "", "one-time bootstrap token from the console, exchanged for the agent token on the first start (REMOTEGPU_AGENT_TOKEN)")
	fs.StringVar(&c.StateDir, "state-dir", env("REMOTEGPU_STATE_DIR", env("STATE_DIRECTORY", "/var/lib/remotegpu-agent")), "keeps the agent token (mode 0600) across restarts (REMOTEGPU_STATE_DIR)")
	fs.DurationVar(&c.Interval, "interval", envDur("REMOTEGPU_INTERVAL", 0), "sampling interval; 0 takes the api's (5s by default) (REMOTEGPU_INTERVAL)")
	fs.StringVar(&c.GPUSource, "gpu-source", env("REMOTEGPU_GPU_SOURCE", agentproto.GPUSourceNVML), "nvml, or simulated on a machine without NVIDIA GPUs (reported as simulated) (REMOTEGPU_GPU_SOURCE)")
	fs.IntVar(&c.Sim.GPUs, "sim-gpus", envInt("REMOTEGPU_SIM_GPUS", 8), "simulated source: number of GPUs (REMOTEGPU_SIM_GPUS)")
	fs.StringVar(&c.Sim.Model, "sim-model", env("REMOTEGPU_SIM_MODEL", "NVIDIA A100-SXM4-80GB"), "simulated source: GPU model (REMOTEGPU_SIM_MODEL)")
	var seed int64
	fs.Int64Var(&seed, "sim-seed", int64(envInt("REMOTEGPU_SIM_SEED", 0)), "simulated source: seed; 0 derives it from the machine ID (REMOTEGPU_SIM_SEED)")
	fs.IntVar(&c.Buffer, "buffer", envInt("REMOTEGPU_BUFFER", 720), "samples kept while the api is unreachable, oldest dropped first (720 = 1 h at 5 s) (REMOTEGPU_BUFFER)")
	fs.StringVar(&c.DockerHost, "docker-host", env("REMOTEGPU_DOCKER_HOST", ""), "Docker daemon of the task containers; empty uses DOCKER_HOST or the local socket (REMOTEGPU_DOCKER_HOST)")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", envDur("REMOTEGPU_STOP_TIMEOUT", 30*time.Second), "how long a container has to stop before it is killed (REMOTEGPU_STOP_TIMEOUT)")
	fs.StringVar(&c.HostOps, "host-ops", env("REMOTEGPU_HOST_OPS", commands.ModeReal), "host commands: real; simulated (login account and sessions left alone, task containers run in --docker-host: for demo agents on a developer's machine); or off (metrics only, no command polling) (REMOTEGPU_HOST_OPS)")
	fs.DurationVar(&c.KillGrace, "kill-grace", envDur("REMOTEGPU_KILL_GRACE", 10*time.Second), "how long a login session's process has to exit after SIGTERM before SIGKILL when a lease ends (REMOTEGPU_KILL_GRACE)")
	fs.StringVar(&c.SSHUser, "ssh-user", env("REMOTEGPU_SSH_USER", ""), "when set, the only account whose password the agent sets (others are refused); empty: the login user the api names, root included (REMOTEGPU_SSH_USER)")
	fs.StringVar(&c.Chpasswd, "chpasswd", env("REMOTEGPU_CHPASSWD", "chpasswd"), "chpasswd command that sets the password; reads user:password lines on stdin (REMOTEGPU_CHPASSWD)")
	fs.DurationVar(&c.HTTPTimeout, "http-timeout", envDur("REMOTEGPU_HTTP_TIMEOUT", 10*time.Second), "timeout of each call to the api (REMOTEGPU_HTTP_TIMEOUT)")
	fs.BoolVar(&o.once, "once", false, "print the inventory and one sample as JSON and exit (no api needed)")
	fs.StringVar(&o.checkTask, "check-task", "", "run one task container of this image with --check-gpus through the agent's task path, print its log and exit with its status (no api needed)")
	fs.StringVar(&o.checkCmd, "check-command", "nvidia-smi -L", "--check-task: the command, run by /bin/sh -c")
	checkGPUs := fs.String("check-gpus", "0", "--check-task: comma-separated GPU indices given to the container (a device request with --gpu-source=nvml)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.logLevel, "log-level", env("REMOTEGPU_LOG_LEVEL", "info"), "debug, info, warn or error (REMOTEGPU_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("REMOTEGPU_LOG_FORMAT", "text"), "text or json (REMOTEGPU_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.BootstrapToken == "" {
		c.BootstrapToken = getenv("REMOTEGPU_AGENT_TOKEN")
	}
	for _, g := range strings.Split(*checkGPUs, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		n, err := strconv.Atoi(g)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--check-gpus: %q is not a GPU index", g)
		}
		o.checkGPUs = append(o.checkGPUs, n)
	}
	c.Sim.Seed = uint64(seed)
	switch c.GPUSource {
	case agentproto.GPUSourceNVML, agentproto.GPUSourceSimulated:
	default:
		return nil, fmt.Errorf("--gpu-source must be %s or %s, not %q", agentproto.GPUSourceNVML, agentproto.GPUSourceSimulated, c.GPUSource)
	}
	if c.Sim.GPUs < 1 || c.Sim.GPUs > 64 {
		return nil, errors.New("--sim-gpus must be between 1 and 64")
	}
	if c.Interval != 0 && c.Interval < 100*time.Millisecond {
		return nil, errors.New("--interval must be at least 100ms")
	}
	if c.Buffer < 1 {
		return nil, errors.New("--buffer must be at least 1")
	}
	if err := commands.CheckMode(c.HostOps); err != nil {
		return nil, err
	}
	if c.KillGrace <= 0 {
		return nil, errors.New("--kill-grace must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "remotegpu-agent:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "remotegpu-agent", runner.Version)
		return 0
	}
	o.cfg.Log = logging.New(stderr, o.logFormat, o.logLevel)
	if o.checkTask != "" {
		code, err := runner.CheckTask(ctx, o.cfg, o.checkTask, o.checkCmd, o.checkGPUs, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "remotegpu-agent:", err)
			return 1
		}
		return code
	}
	if o.once {
		err = runner.Once(ctx, o.cfg, stdout)
	} else {
		err = runner.Run(ctx, o.cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "remotegpu-agent:", err)
		if runner.NeedsOperator(err) {
			return runner.ExitConfig
		}
		return 1
	}
	return 0
}
