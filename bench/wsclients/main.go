// Command wsclients opens N admin monitoring WebSockets (/ws/admin/monitoring)
// against a running api and measures, for every 5 s update, the delay from
// the frame's server timestamp ("at") to its complete receipt by each
// client (p50/p99/max over all deliveries, and the slowest client per
// update), and the api's memory per connection from its /metrics before
// and after connecting (RSS, Go heap in use, goroutines). /metrics is not
// public: -metrics names where it is (default http://$METRICS_ADDR/metrics,
// as make run and testenv set it) and -metrics-token its bearer token
// (default $METRICS_TOKEN). Each client connects with a one-time ticket
// (POST /api/auth/ws-ticket), as the console does.
//
// With DATABASE_URL set and -machines M it first creates M machines named
// wsbench-NNNNN with 8 GPUs (if missing) and, while it measures, stores one
// sample round per machine every interval through the same batcher the
// agent endpoint uses, so frames have their real size and the api's
// LISTEN/NOTIFY path is busy. -cleanup removes those machines at the end.
// It only targets a local api (127.0.0.0/8, localhost, [::1]) and stops by
// itself after -d.
//
//	go run ./bench/wsclients -url http://127.0.0.1:8080 -n 500 -d 60s -machines 1000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/store"
)

func main() {
	base := flag.String("url", envOr("REMOTEGPU_URL", "http://127.0.0.1:8080"), "base URL of the api")
	n := flag.Int("n", 500, "WebSocket clients (at most 5000)")
	dur := flag.Duration("d", 60*time.Second, "how long to measure once every client is connected (at most 10m)")
	user := flag.String("user", "admin", "admin username")
	pass := flag.String("password", "Admin@12345", "admin password")
	compress := flag.Bool("compress", true, "ask for permessage-deflate, as browsers do")
	inflate := flag.Bool("inflate", false, "with -compress, inflate every frame whole and time its end (costs the bench "+
		"the CPU of 500 browsers); without it only the frame's head is inflated, the rest skipped, and the delay is to the frame's first bytes")
	machines := flag.Int("machines", 0, "create this many wsbench-* machines and feed them samples (needs DATABASE_URL)")
	interval := flag.Duration("interval", 5*time.Second, "how often the feeder stores a round per machine")
	cleanup := flag.Bool("cleanup", false, "delete the wsbench-* machines at the end")
	flag.StringVar(&metricsURL, "metrics", defaultMetricsURL(), "the api's /metrics (on METRICS_ADDR, or on the api with -metrics-token)")
	flag.StringVar(&metricsToken, "metrics-token", os.Getenv("METRICS_TOKEN"), "bearer token for /metrics (METRICS_TOKEN)")
	flag.Parse()
	if metricsURL == "" {
		metricsURL = *base + "/metrics"
	}
	if !strings.HasPrefix(*base, "http://127.") && !strings.HasPrefix(*base, "http://localhost") && !strings.HasPrefix(*base, "http://[::1]") {
		fail("wsclients only targets a local api (127.0.0.0/8, localhost, [::1])")
	}
	if *n < 1 || *n > 5000 || *dur <= 0 || *dur > 10*time.Minute {
		fail("-n must be 1..5000 and -d at most 10m")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur+5*time.Minute) // a hard stop, whatever happens
	defer cancel()

	var st *store.Store
	if *machines > 0 {
		dsn := os.Getenv("DATABASE_URL")
		if dsn == "" {
			fail("-machines needs DATABASE_URL (the api's database)")
		}
		var err error
		if st, err = store.Open(ctx, dsn); err != nil {
			fail(err.Error())
		}
		defer st.Close()
		ids, err := seed(ctx, st, *machines)
		if err != nil {
			fail(err.Error())
		}
		feedCtx, stopFeed := context.WithCancel(ctx)
		defer stopFeed()
		go feed(feedCtx, st, ids, *interval)
		if *cleanup {
			defer func() {
				c, cc := context.WithTimeout(context.Background(), time.Minute)
				defer cc()
				if _, err := st.Pool.Exec(c, `DELETE FROM machines WHERE name LIKE 'wsbench-%'`); err != nil {
					fmt.Fprintln(os.Stderr, "cleanup:", err)
				}
			}()
		}
		fmt.Printf("feeding %d machines × 8 GPUs every %s\n", len(ids), *interval)
		time.Sleep(*interval + time.Second) // every machine has a latest sample
	}

	token := login(*base, *user, *pass)

	r := &recorder{byUpdate: map[string]*update{}, whole: !*compress || *inflate}
	wsURL := "ws" + strings.TrimPrefix(*base, "http") + "/ws/admin/monitoring?ticket="
	dialer := &websocket.Dialer{EnableCompression: *compress, HandshakeTimeout: 30 * time.Second}
	conns := make([]*websocket.Conn, *n)
	var firstFrames sync.WaitGroup
	firstFrames.Add(*n)
	var wg sync.WaitGroup
	var connErr atomic.Int64
	open := func(i int) {
		ticket, err := wsTicket(*base, token)
		if err == nil {
			var c *websocket.Conn
			if c, _, err = dialer.DialContext(ctx, wsURL+url.QueryEscape(ticket), nil); err == nil {
				conns[i] = c
			}
		}
		if err != nil {
			connErr.Add(1)
			firstFrames.Done()
			return
		}
		c := conns[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.read(c, &firstFrames)
		}()
	}
	// one client first, so the api builds its snapshots before the baseline:
	// the difference is then what the other connections cost
	open(0)
	time.Sleep(2 * *interval)
	before := scrapeSettled()
	start := time.Now()
	for i := 1; i < len(conns); i++ {
		open(i)
	}
	connected := int64(*n) - connErr.Load()
	fmt.Printf("%d clients connected in %s (%d failed)\n", connected, time.Since(start).Round(time.Millisecond), connErr.Load())
	waitTimeout(&firstFrames, time.Minute)
	r.reset() // the first frames came at connect time, not on the 5 s beat
	time.Sleep(2 * *interval)
	after := scrapeSettled()

	cpuFrom, cpuAt := scrape()["process_cpu_seconds_total"], time.Now()
	measureEnd := time.Now().Add(*dur - 2**interval)
	for time.Now().Before(measureEnd) && ctx.Err() == nil {
		time.Sleep(time.Second)
	}
	cpu := (scrape()["process_cpu_seconds_total"] - cpuFrom) / time.Since(cpuAt).Seconds()
	for _, c := range conns {
		if c != nil {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.Close()
		}
	}
	wg.Wait()
	r.report(int(connected))
	fmt.Printf("api CPU while measuring: %.0f%% of one core\n", cpu*100)
	if connected > 1 {
		per := func(k string) float64 { return (after[k] - before[k]) / float64(connected-1) }
		fmt.Printf("api memory per connection: RSS %.1f KiB, Go heap in use %.1f KiB, goroutines %.2f (RSS %.1f -> %.1f MiB, heap %.1f -> %.1f MiB)\n",
			per("process_resident_memory_bytes")/1024, per("go_memstats_heap_inuse_bytes")/1024, per("go_goroutines"),
			before["process_resident_memory_bytes"]/(1<<20), after["process_resident_memory_bytes"]/(1<<20),
			before["go_memstats_heap_inuse_bytes"]/(1<<20), after["go_memstats_heap_inuse_bytes"]/(1<<20))
	}
}

// update is one admin snapshot, as its clients received it.
type update struct {
	at     time.Time
	delays []time.Duration
	bytes  int
}

type recorder struct {
	whole    bool // read every frame to its end
	mu       sync.Mutex
	byUpdate map[string]*update
	errors   int
	closes   map[int]int
}

var atField = regexp.MustCompile(`"at":"([^"]+)"`)

func (r *recorder) read(c *websocket.Conn, first *sync.WaitGroup) {
	got := false
	head := make([]byte, 128)
	for {
		_, rd, err := c.NextReader()
		if err != nil {
			if !got {
				first.Done()
			}
			r.mu.Lock()
			var ce *websocket.CloseError
			if errorsAs(err, &ce) && ce.Code != websocket.CloseNormalClosure {
				if r.closes == nil {
					r.closes = map[int]int{}
				}
				r.closes[ce.Code]++
			}
			r.mu.Unlock()
			return
		}
		now := time.Now()
		k, _ := io.ReadFull(rd, head)
		var rest int64
		if r.whole {
			rest, _ = io.Copy(io.Discard, rd)
			now = time.Now()
		} // else NextReader skips the rest of the frame without inflating it
		m := atField.FindSubmatch(head[:k])
		if m == nil {
			r.mu.Lock()
			r.errors++
			r.mu.Unlock()
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, string(m[1]))
		if err != nil {
			continue
		}
		r.mu.Lock()
		u := r.byUpdate[string(m[1])]
		if u == nil {
			u = &update{at: at, bytes: k + int(rest)}
			r.byUpdate[string(m[1])] = u
		}
		u.delays = append(u.delays, now.Sub(at))
		r.mu.Unlock()
		if !got {
			got = true
			first.Done()
		}
	}
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.byUpdate = map[string]*update{}
	r.mu.Unlock()
}

func (r *recorder) report(clients int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ups := make([]*update, 0, len(r.byUpdate))
	for _, u := range r.byUpdate {
		ups = append(ups, u)
	}
	slices.SortFunc(ups, func(a, b *update) int { return a.at.Compare(b.at) })
	var all []time.Duration
	complete, within := 0, 0
	var slowest []time.Duration
	size := 0
	for _, u := range ups {
		all = append(all, u.delays...)
		if len(u.delays) >= clients {
			complete++
		}
		worst := slices.Max(u.delays)
		slowest = append(slowest, worst)
		if worst <= time.Second && len(u.delays) >= clients {
			within++
		}
		size = u.bytes
	}
	if len(all) == 0 {
		fmt.Println("no updates received")
		return
	}
	slices.Sort(all)
	slices.Sort(slowest)
	pct := func(d []time.Duration, p float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*p))] }
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	}
	what := "receipt of the whole frame"
	if !r.whole {
		what, size = "the frame's first bytes", 0
	}
	fmt.Printf("updates: %d (frame %.1f KiB uncompressed; 0: not read whole), %d received by all %d clients, %d of them by all within 1 s\n",
		len(ups), float64(size)/1024, complete, clients, within)
	fmt.Printf("delay from the frame's timestamp to %s, %d deliveries: p50 %s, p99 %s, max %s\n", what, len(all), ms(pct(all, .5)), ms(pct(all, .99)), ms(all[len(all)-1]))
	fmt.Printf("slowest client per update: p50 %s, max %s\n", ms(pct(slowest, .5)), ms(slowest[len(slowest)-1]))
	if r.errors > 0 || len(r.closes) > 0 {
		fmt.Printf("frames without a timestamp: %d; closed by the server: %v\n", r.errors, r.closes)
	}
}

// ---- the api --------------------------------------------------------------

func login(base, user, pass string) string {
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := http.Post(base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		fail("login: " + err.Error())
	}
	defer resp.Body.Close()
	var env struct {
		Message string `json:"message"`
		Data    struct {
			AccessToken string `json:"accessToken"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != 200 || env.Data.AccessToken == "" {
		fail(fmt.Sprintf("login as %s: %d %s", user, resp.StatusCode, env.Message))
	}
	return env.Data.AccessToken
}

// wsTicket asks for a one-time WebSocket ticket with the access token.
func wsTicket(base, token string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/auth/ws-ticket", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var env struct {
		Message string `json:"message"`
		Data    struct {
			Ticket string `json:"ticket"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != 200 || env.Data.Ticket == "" {
		return "", fmt.Errorf("ws-ticket: %d %s", resp.StatusCode, env.Message)
	}
	return env.Data.Ticket, nil
}

// Where /metrics is and its token (flags -metrics, -metrics-token).
var metricsURL, metricsToken string

func defaultMetricsURL() string {
	if a := os.Getenv("METRICS_ADDR"); a != "" {
		return "http://" + a + "/metrics"
	}
	return ""
}

var metricLine = regexp.MustCompile(`^(process_resident_memory_bytes|process_cpu_seconds_total|go_memstats_heap_inuse_bytes|go_goroutines) ([0-9.e+]+)$`)

func scrape() map[string]float64 {
	req, _ := http.NewRequest(http.MethodGet, metricsURL, nil)
	if metricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+metricsToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("metrics: " + err.Error())
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail(fmt.Sprintf("metrics: %s answered %d (set -metrics to METRICS_ADDR's /metrics, or -metrics-token)", metricsURL, resp.StatusCode))
	}
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			out[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
	}
	return out
}

// scrapeSettled takes the smallest of a few readings a second apart (GC noise).
func scrapeSettled() map[string]float64 {
	best := scrape()
	for range 4 {
		time.Sleep(time.Second)
		for k, v := range scrape() {
			if v < best[k] {
				best[k] = v
			}
		}
	}
	return best
}

// ---- synthetic machines ---------------------------------------------------

func seed(ctx context.Context, st *store.Store, n int) ([]string, error) {
	var have int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM machines WHERE name LIKE 'wsbench-%' AND deleted_at IS NULL`).Scan(&have); err != nil {
		return nil, err
	}
	regions := fleet.DefaultCatalog.Regions
	for i := have; i < n; i++ {
		r := regions[i%len(regions)]
		name := fmt.Sprintf("wsbench-%05d", i)
		m := &store.Machine{Name: name, Region: r.Name, GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: name + ".bench.local", SSHPort: 22,
			SSHUser: "root", SSHPasswordEnc: []byte{1}, Status: "online"}
		if err := st.CreateMachine(ctx, m, ""); err != nil {
			return nil, err
		}
	}
	rows, err := st.Pool.Query(ctx, `SELECT id::text FROM machines WHERE name LIKE 'wsbench-%' AND deleted_at IS NULL ORDER BY name LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// feed stores one round per machine per interval, spread over the interval as agents would.
func feed(ctx context.Context, st *store.Store, ids []string, every time.Duration) {
	g := store.NewIngester(st, store.IngestOptions{Wait: 20 * time.Millisecond})
	for i, id := range ids {
		go func() {
			offset := every * time.Duration(i) / time.Duration(len(ids))
			select {
			case <-ctx.Done():
				return
			case <-time.After(offset):
			}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if _, err := g.Submit(ctx, id, time.Now(), []agentproto.Sample{sample(time.Now())}); err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "feed:", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

func sample(at time.Time) agentproto.Sample {
	s := agentproto.Sample{At: at, Host: agentproto.HostSample{CPUPct: rand.Float64() * 100, MemUsedMiB: 200000, MemTotalMiB: 1031000,
		Disks:    []agentproto.DiskSample{{Mount: "/", UsedGiB: 800, TotalGiB: 3600, ReadBps: 1e6, WriteBps: 2e6}},
		NetRxBps: 1e7, NetTxBps: 2e6, Load1: 12}}
	for i := range 8 {
		u := rand.Float64() * 100
		s.GPUs = append(s.GPUs, agentproto.GPUSample{Index: i, UUID: fmt.Sprintf("GPU-%d", i), Utilization: u, MemUsedMiB: int64(u * 800),
			MemTotalMiB: 81559, TempC: 40 + u*0.4, PowerW: 100 + u*5, PowerLimitW: 700,
			Processes: []agentproto.GPUProcess{{PID: 1000 + i, Name: "python train.py", MemUsedMiB: int64(u * 800)}}})
	}
	return s
}

// ---- helpers --------------------------------------------------------------

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		fmt.Println("not every client got its first frame within", d)
	}
}

func errorsAs(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "wsclients:", msg)
	os.Exit(2)
}
