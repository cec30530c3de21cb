// Command apiload drives a running RemoteGPU api with concurrent clients and
// reports throughput and latency percentiles per scenario. It only talks to
// the URL it is given (a local stack: `make run`, or REMOTEGPU_URL in testenv).
//
//	go run ./bench/apiload -url http://127.0.0.1:8080 -c 50 -d 20s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", envOr("REMOTEGPU_URL", "http://127.0.0.1:8080"), "base URL of the api")
	conc := flag.Int("c", 50, "concurrent clients")
	dur := flag.Duration("d", 20*time.Second, "duration of each scenario")
	user := flag.String("user", "admin", "admin username")
	pass := flag.String("password", "Admin@12345", "admin password")
	only := flag.String("only", "", "comma-separated scenarios to run (healthz,login,list-machines,list-customers)")
	flag.Parse()
	if !strings.HasPrefix(*url, "http://127.") && !strings.HasPrefix(*url, "http://localhost") && !strings.HasPrefix(*url, "http://[::1]") {
		fmt.Fprintln(os.Stderr, "apiload only targets a local stack (127.0.0.0/8, localhost, [::1])")
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 30 * time.Second}
	loginBody, _ := json.Marshal(map[string]string{"username": *user, "password": *pass})
	token := login(client, *url, loginBody)

	scenarios := []struct {
		name string
		req  func() *http.Request
	}{
		{"healthz", func() *http.Request { r, _ := http.NewRequest("GET", *url+"/healthz", nil); return r }},
		{"login", func() *http.Request {
			r, _ := http.NewRequest("POST", *url+"/api/auth/login", bytes.NewReader(loginBody))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"list-machines", func() *http.Request {
			r, _ := http.NewRequest("GET", *url+"/api/admin/machines?page=3&pageSize=20&region=%E5%8C%97%E4%BA%AC&status=online&allocationStatus=allocated&sortBy=name&order=asc", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}},
		{"list-customers", func() *http.Request {
			r, _ := http.NewRequest("GET", *url+"/api/admin/customers?page=1&pageSize=20&sortBy=createdAt&order=desc&status=active", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}},
	}
	fmt.Printf("%-16s %8s %9s %9s %9s %9s %9s %7s\n", "scenario", "requests", "req/s", "p50", "p90", "p99", "max", "errors")
	for _, sc := range scenarios {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), sc.name) {
			continue
		}
		lat, errs, elapsed := run(client, *conc, *dur, sc.req)
		slices.Sort(lat)
		fmt.Printf("%-16s %8d %9.0f %9s %9s %9s %9s %7d\n", sc.name, len(lat), float64(len(lat))/elapsed.Seconds(),
			pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100), errs)
	}
}

func run(client *http.Client, conc int, dur time.Duration, mk func() *http.Request) ([]time.Duration, int, time.Duration) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(dur)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := client.Do(mk())
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						bad++
					}
				} else {
					bad++
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs, time.Since(start)
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted) - 1) * p / 100
	return sorted[i].Round(10 * time.Microsecond).String()
}

func login(client *http.Client, url string, body []byte) string {
	resp, err := client.Post(url+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "login:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	var env struct {
		Data struct {
			AccessToken string `json:"accessToken"`
		} `json:"data"`
		Message string `json:"message"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if env.Data.AccessToken == "" {
		fmt.Fprintln(os.Stderr, "login failed:", resp.Status, env.Message)
		os.Exit(1)
	}
	return env.Data.AccessToken
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
