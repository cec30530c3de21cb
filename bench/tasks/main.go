// Command tasks measures customer tasks (docs/tasks.md) end to end against
// the real api, worker, agent code and Docker daemon of a local stack:
//
//  1. submit → container running: -start-n tasks (`sleep 30`, 1 GPU), one
//     at a time, from POST /api/customer/tasks/training to Docker's
//     State.StartedAt of the container (the attempt's startedAt), each
//     right after a plain `docker run -d` of the same image and command on
//     the same engine; p50/p90/p99 of both and the difference at p50.
//  2. queue admission: a task holding all 8 GPUs of a machine, a second
//     queued behind it; from the first container's exit to the second's
//     status turning running and to its container starting (-queue-n times).
//  3. live log: a task printing -log-rate lines a second for -log-for (the
//     test image's /opt/rgpu-test/loglines.sh), read on the log socket
//     /ws/customer/tasks/:id/logs: lag from emit (Docker's timestamp of the
//     line) to receipt, and every line checked to arrive exactly once.
//  4. api memory: -mem-tasks tasks printing -mem-rate lines a second, each
//     followed by a socket; the api process's RSS and heap from /metrics
//     before, during (peak) and after.
//
// It adds -machines machines (8 GPUs each) through the admin api, runs the
// real agent of each in this process (agent/runner, what bin/remotegpu-agent
// runs: registration, samples, command loop, task containers and their log
// shipper, with simulated GPUs and host ops, its containers in DOCKER_HOST),
// leases them to the demo customer acme through the admin api, and submits
// the tasks as acme's owner, signed in through the api like the console.
// Each part deletes its tasks (their containers go with them); at the end
// the machines are reclaimed and deleted. It only talks to a local stack
// (127.0.0.0/8, localhost, [::1], a unix socket for Docker); the demo
// accounts are the ones `remotegpu testenv` seeds:
//
//	make build && bin/remotegpu testenv -- go run ./bench/tasks
//	make build && bin/remotegpu testenv -- go run ./bench/tasks -parts 3 -log-rate 5000 -log-for 20s
//
// /metrics is not public: -metrics names it (default http://$METRICS_ADDR/metrics,
// as testenv sets it) and -metrics-token its bearer token (METRICS_TOKEN).
// Results of a run: README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/remotegpu/remotegpu/bench/internal/benchfleet"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

type options struct {
	base, metricsURL, metricsToken, dockerHost string
	admin, adminPass, owner, ownerPass, tenant string
	machines                                   int
	parts                                      string

	startN   int
	startCmd string
	queueN   int
	holdCmd  string
	logRate  int
	logFor   time.Duration
	memTasks int
	memRate  int
	memFor   time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.base, "url", envOr("REMOTEGPU_URL", "http://127.0.0.1:8080"), "base URL of the api")
	flag.StringVar(&o.metricsURL, "metrics", defaultMetricsURL(), "the api's /metrics (on METRICS_ADDR, or the api's own with -metrics-token)")
	flag.StringVar(&o.metricsToken, "metrics-token", os.Getenv("METRICS_TOKEN"), "bearer token for /metrics (METRICS_TOKEN)")
	flag.StringVar(&o.dockerHost, "docker-host", os.Getenv("DOCKER_HOST"), "the stack's Docker daemon (DOCKER_HOST), where the agents run the containers")
	flag.StringVar(&o.admin, "admin", "admin", "platform admin (adds, leases and removes the machines)")
	flag.StringVar(&o.adminPass, "admin-password", "Admin@12345", "its password")
	flag.StringVar(&o.owner, "customer", "acme-owner", "customer user who submits the tasks")
	flag.StringVar(&o.ownerPass, "customer-password", "Owner@12345", "its password")
	flag.StringVar(&o.tenant, "tenant", "acme", "the customer's company code (the machines are leased to it)")
	flag.IntVar(&o.machines, "machines", 25, "machines of 8 GPUs, each with its agent")
	flag.StringVar(&o.parts, "parts", "1,2,3,4", "which parts to run")
	flag.IntVar(&o.startN, "start-n", 50, "1: tasks (and docker runs)")
	flag.StringVar(&o.startCmd, "start-cmd", "sleep 30", "1: their command")
	flag.IntVar(&o.queueN, "queue-n", 20, "2: rounds")
	flag.StringVar(&o.holdCmd, "hold-cmd", "sleep 5", "2: command of the task that holds the GPUs")
	flag.IntVar(&o.logRate, "log-rate", 5000, "3: lines a second")
	flag.DurationVar(&o.logFor, "log-for", 20*time.Second, "3: for how long")
	flag.IntVar(&o.memTasks, "mem-tasks", 200, "4: tasks, each with a socket")
	flag.IntVar(&o.memRate, "mem-rate", 10, "4: lines a second of each")
	flag.DurationVar(&o.memFor, "mem-for", 120*time.Second, "4: for how long")
	flag.Parse()
	if o.metricsURL == "" {
		o.metricsURL = strings.TrimRight(o.base, "/") + "/metrics"
	}
	if err := local(o); err != nil {
		fmt.Fprintln(os.Stderr, "tasks:", err)
		os.Exit(2)
	}
	if o.machines < 1 || o.startN < 1 || o.queueN < 1 || o.logRate < 1 || o.logFor < time.Second || o.memTasks < 1 || o.memRate < 1 || o.memFor < time.Second {
		fmt.Fprintln(os.Stderr, "tasks: counts, rates and durations must be positive")
		os.Exit(2)
	}
	// Interrupted (Ctrl-C, or testenv ending the command), it still removes
	// what it created.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "tasks:", err)
		os.Exit(1)
	}
	if len(problems) > 0 {
		fmt.Println("\nPROBLEMS found:")
		for _, p := range problems {
			fmt.Println("  -", p)
		}
		os.Exit(3)
	}
}

// problems are what the parts found wrong in the product (lines lost ...):
// reported at the end, and the exit status is 3.
var problems []string

func problem(format string, args ...any) {
	problems = append(problems, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (err error) {
	runName := fmt.Sprintf("bench-tasks-%d", time.Now().Unix())
	host, _ := os.Hostname()
	fmt.Printf("bench/tasks %s on %s at %s: %d cores shared by the whole stack (PostgreSQL, Temporal, api+worker, dockerd, "+
		"these agents and containers) and by other work on this machine; load average at start %s\n",
		runName, host, time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), loadavg())
	fmt.Printf("api %s, metrics %s, docker %s\n", o.base, o.metricsURL, o.dockerHost)
	defer func() { fmt.Printf("\nload average at the end %s\n", loadavg()) }()

	dc, err := client.NewClientWithOpts(client.WithHost(o.dockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := dc.ImageInspect(ctx, testimage.Ref); err != nil {
		return fmt.Errorf("the test image %s is not in %s (testenv imports it): %w", testimage.Ref, o.dockerHost, err)
	}
	if _, err := scrape(o); err != nil {
		return err
	}
	admin, err := signIn(ctx, o.base, o.admin, o.adminPass)
	if err != nil {
		return err
	}
	owner, err := signIn(ctx, o.base, o.owner, o.ownerPass)
	if err != nil {
		return err
	}
	tenantID, err := tenantOf(ctx, admin, o.tenant)
	if err != nil {
		return err
	}

	began := time.Now()
	f, err := addFleet(ctx, o, admin, owner, tenantID, runName, o.machines)
	defer func() {
		if rmErr := f.remove(admin); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", rmErr))
		} else {
			fmt.Printf("\nremoved the %d machines (reclaimed, then deleted) and their agents' state\n", len(f.machines))
		}
		if n, lerr := leftContainers(dc, runName, f.machines); lerr != nil || n > 0 {
			err = errors.Join(err, fmt.Errorf("cleanup: %d containers left (%v)", n, lerr))
		} else {
			fmt.Println("no container of this run is left in", o.dockerHost)
		}
	}()
	if err != nil {
		return err
	}
	fmt.Printf("%d machines × %d GPUs added, their agents registered and leased to %s in %s\n",
		len(f.machines), gpusPerMachine, o.tenant, time.Since(began).Round(time.Millisecond))

	ts := &tasks{customer: owner, docker: dc, run: runName}
	parts := strings.Split(o.parts, ",")
	for _, p := range []struct {
		name string
		fn   func() error
	}{
		{"1", func() error { return startLatency(ctx, o, ts, f.machines) }},
		{"2", func() error { return admission(ctx, o, ts, f.machines[0]) }},
		{"3", func() error { return logLag(ctx, o, ts, f.machines[0]) }},
		{"4", func() error { return logMemory(ctx, o, ts, f.machines) }},
	} {
		if !slices.Contains(parts, p.name) {
			continue
		}
		partErr := p.fn()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		rmErr := ts.removeAll(cctx)
		cancel()
		if partErr != nil || rmErr != nil {
			return errors.Join(partErr, rmErr)
		}
	}
	return nil
}

// leftContainers counts the containers of the run still in Docker: the
// plain docker runs, and the task containers of its machines.
func leftContainers(dc *client.Client, run string, machines []machine) (int, error) {
	list, err := dc.ContainerList(context.Background(), container.ListOptions{All: true})
	if err != nil {
		return 0, err
	}
	ours := map[string]bool{}
	for _, m := range machines {
		ours[m.ID] = true
	}
	n := 0
	for _, c := range list {
		if c.Labels["remotegpu.bench"] == run || ours[c.Labels[agentproto.LabelMachine]] {
			n++
		}
	}
	return n, nil
}

// tenantOf finds the company with code among the admin's customers.
func tenantOf(ctx context.Context, admin *session, code string) (string, error) {
	var page struct {
		List []struct{ ID, Code string }
	}
	if err := admin.do(ctx, http.MethodGet, "/api/admin/customers?keyword="+url.QueryEscape(code), nil, &page); err != nil {
		return "", err
	}
	for _, c := range page.List {
		if c.Code == code {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("no customer %q (the demo data of testenv has acme)", code)
}

// local refuses anything but a loopback api, /metrics and Docker daemon.
func local(o options) error {
	for name, raw := range map[string]string{"-url": o.base, "-metrics": o.metricsURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || !benchfleet.Loopback(u.Hostname()) {
			return fmt.Errorf("%s %s is not local: this bench only targets http://127.0.0.0/8, localhost or [::1]", name, raw)
		}
	}
	u, err := url.Parse(o.dockerHost)
	switch {
	case o.dockerHost == "":
		return errors.New("-docker-host (DOCKER_HOST) is required: the stack's own Docker daemon, never the host's by default")
	case err != nil:
		return fmt.Errorf("-docker-host: %w", err)
	case u.Scheme == "unix":
	case u.Scheme == "tcp" && benchfleet.Loopback(u.Hostname()):
	default:
		return fmt.Errorf("-docker-host %s is not local", o.dockerHost)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// defaultMetricsURL is where testenv and make run serve /metrics (METRICS_ADDR).
func defaultMetricsURL() string {
	if a := os.Getenv("METRICS_ADDR"); a != "" {
		return "http://" + a + "/metrics"
	}
	return ""
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
