package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/config"
)

// loginFrom posts a login as a client whose request carries X-Forwarded-For xff (when set).
func (e *env) loginFrom(xff, username, password string) *reply {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": username, "password": password})
	req, err := http.NewRequest("POST", e.srv.URL+"/api/auth/login", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := &reply{Status: resp.StatusCode, Header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(r); err != nil {
		e.t.Fatalf("login: %v", err)
	}
	return r
}

// failedLogins counts the failed logins whose password was checked (each is audited).
func (e *env) failedLogins(login string) int {
	e.t.Helper()
	var n int
	err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs
		WHERE action = 'auth.login' AND NOT success AND detail->>'reason' = 'bad credentials' AND target_id = $1`, login).Scan(&n)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// Many guesses at once at one account: each is counted before its password
// is checked, so no more than the limit are ever checked, and the lock holds
// against the right password afterwards.
func TestLoginParallelGuessesCannotPassTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: func(c *config.Config) { c.Security.LoginConcurrency = 32 }})
	const guesses = 20 // under the per-address limit (30): only the account limit is at work
	statuses := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			statuses[i] = e.anon().do("POST", "/api/auth/login", map[string]any{"username": "member-a", "password": fmt.Sprintf("guess-%d", i)}).Status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[401]+count[429] != guesses || count[429] < guesses-5 {
		t.Fatalf("statuses %v", count)
	}
	if n := e.failedLogins("member-a"); n != 5 {
		t.Fatalf("%d wrong passwords were checked, want exactly the limit 5", n)
	}
	// the account is locked, even for its right password; by e-mail too (one count per account)
	r := e.anon().must(429, "POST", "/api/auth/login", map[string]any{"username": "member-a@example.test", "password": testPassword})
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	e.login("owner-a") // another account from the same address is not
}

// A right password forgets the account's failures.
func TestLoginSuccessForgetsFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for range 2 {
		for range 4 {
			e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "owner-b", "password": "wrong"})
		}
		e.login("owner-b")
	}
}

// Password checks beyond LOGIN_CONCURRENCY are refused at once with 429 and
// Retry-After, not queued; the cap is never exceeded.
func TestLoginConcurrencyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: func(c *config.Config) { c.Security.LoginConcurrency = 2 }})
	release := api.HoldPasswordSlots(e.api, 2)
	var wg sync.WaitGroup
	replies := make([]*reply, 4)
	for i := range replies {
		wg.Go(func() {
			replies[i] = e.anon().do("POST", "/api/auth/login", map[string]any{"username": "member-b", "password": testPassword})
		})
	}
	wg.Wait()
	for _, r := range replies {
		if r.Status != 429 || r.Header.Get("Retry-After") != "1" || !strings.Contains(r.Message, "too many sign-ins") {
			t.Fatalf("with every slot taken: %d %q Retry-After %q", r.Status, r.Message, r.Header.Get("Retry-After"))
		}
	}
	release()
	var running, peak atomic.Int64
	api.OnPasswordWork(e.api, func(compute func()) {
		n := running.Add(1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		compute()
		running.Add(-1)
	})
	// the refused attempts were not counted as failures: four wrong ones still
	// get 401 (with the four counted, the first would be the fifth and lock)
	for range 4 {
		e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "member-b", "password": "wrong"})
	}
	e.login("member-b")

	// a burst of real checks (unknown accounts cost a check too) never runs more than 2 at once
	for i := range 12 {
		wg.Go(func() {
			r := e.anon().do("POST", "/api/auth/login", map[string]any{"username": fmt.Sprintf("ghost-%d", i), "password": "nope"})
			if r.Status != 401 && r.Status != 429 {
				t.Errorf("ghost %d: %d %s", i, r.Status, r.Message)
			}
		})
	}
	wg.Wait()
	if peak := peak.Load(); peak < 1 || peak > 2 {
		t.Fatalf("peak of concurrent password checks %d, want 1..2", peak)
	}
}

func TestClientIPFromTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted, err := config.ParseTrustedProxies("10.0.0.0/8, 192.168.1.10")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
		viaProxy   bool
	}{
		{"untrusted peer: X-Forwarded-For ignored", "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9", false},
		{"trusted proxy: the client it saw", "10.1.2.3:5000", []string{"198.51.100.7"}, "198.51.100.7", true},
		{"spoofed entries left of the real client are skipped", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7", true},
		{"two trusted hops", "10.1.2.3:5000", []string{"198.51.100.7, 192.168.1.10"}, "198.51.100.7", true},
		{"several headers", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.7, 10.9.9.9"}, "198.51.100.7", true},
		{"only trusted hops: the left-most", "10.1.2.3:5000", []string{"10.5.5.5"}, "10.5.5.5", true},
		{"no header: the proxy", "10.1.2.3:5000", nil, "10.1.2.3", true},
		{"garbage stops the walk", "10.1.2.3:5000", []string{"198.51.100.7, not-an-ip"}, "10.1.2.3", true},
		{"entry with a port", "10.1.2.3:5000", []string{"198.51.100.7:4711"}, "198.51.100.7", true},
		{"IPv6 peer", "[2001:db8::1]:443", []string{"1.2.3.4"}, "2001:db8::1", false},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:443", []string{"198.51.100.7"}, "198.51.100.7", true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		ip, via := api.ClientIP(r, trusted)
		if ip != c.want || via != c.viaProxy {
			t.Errorf("%s: %s %v, want %s %v", c.name, ip, via, c.want, c.viaProxy)
		}
	}
	if _, err := config.ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

// Behind a trusted proxy the per-address limit counts each real client: one
// attacker is locked out, not everyone behind the proxy.
func TestLoginThrottleBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	e := newEnv(t, options{config: func(c *config.Config) { c.Security.TrustedProxies = loopback }})
	const attacker, user = "203.0.113.7", "198.51.100.9"
	// 30 failures lock the address (the account lock keeps most of them cheap)
	for i := range 30 {
		r := e.loginFrom(attacker, "member-a", "wrong")
		if r.Status != 401 && r.Status != 429 {
			t.Fatalf("guess %d: %d", i, r.Status)
		}
	}
	if r := e.loginFrom(attacker, "owner-b", testPassword); r.Status != 429 {
		t.Fatalf("the attacker's address is not locked: %d", r.Status)
	}
	if r := e.loginFrom("6.6.6.6, "+user, "owner-b", testPassword); r.Status != 200 {
		t.Fatalf("another client behind the proxy: %d %s", r.Status, r.Message)
	}
	var ip string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT ip FROM sessions ORDER BY created_at DESC LIMIT 1`).Scan(&ip); err != nil || ip != user {
		t.Fatalf("session ip %q (%v), want the client's %s", ip, err, user)
	}

	// Without trusted proxies X-Forwarded-For is the caller's word: ignored.
	d := newEnv(t, options{})
	for i := range 30 {
		d.loginFrom(fmt.Sprintf("203.0.113.%d", i), "member-a", "wrong") // a new address every time
	}
	if r := d.loginFrom(user, "owner-b", testPassword); r.Status != 429 {
		t.Fatalf("a spoofed X-Forwarded-For escaped the address limit: %d", r.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: func(c *config.Config) {
		c.Security.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	get := func(path string, h http.Header) http.Header {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	for _, path := range []string{"/", "/login", "/api/auth/me", "/openapi.yaml"} {
		h := get(path, nil)
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
			"img-src 'self' data: blob:", "frame-ancestors 'none'", "object-src 'none'", "connect-src 'self' ws://"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
			t.Errorf("%s: CSP %q allows scripts it should not", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	// /docs keeps Huma's own policy: its renderer comes from unpkg.com
	if csp := get("/docs", nil).Get("Content-Security-Policy"); !strings.Contains(csp, "https://unpkg.com/") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("/docs CSP %q", csp)
	}
	// HSTS when the trusted proxy says the client used TLS
	if h := get("/api/auth/me", http.Header{"X-Forwarded-Proto": {"https"}}); !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("behind a TLS proxy: HSTS %q", h.Get("Strict-Transport-Security"))
	}
	// ... and not when an untrusted peer says so
	d := newEnv(t, options{})
	req, _ := http.NewRequest("GET", d.srv.URL+"/api/auth/me", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("untrusted X-Forwarded-Proto gave HSTS (%v)", err)
	}
	// direct TLS
	tls := httptest.NewTLSServer(e.api.Handler())
	defer tls.Close()
	resp, err := tls.Client().Get(tls.URL + "/api/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("over TLS: HSTS %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

func TestMetricsNotPublic(t *testing.T) {
	t.Parallel()
	scrape := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// neither METRICS_ADDR nor METRICS_TOKEN: there is no /metrics (not even the console's index)
	plain := newEnv(t, options{})
	if code, _ := scrape(plain.srv.URL+"/metrics", ""); code != 404 {
		t.Errorf("/metrics without configuration: %d", code)
	}

	const token = "metrics-token-0123456789"
	withToken := newEnv(t, options{config: func(c *config.Config) { c.Security.MetricsToken = token }})
	if code, _ := scrape(withToken.srv.URL+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without the token: %d", code)
	}
	if code, _ := scrape(withToken.srv.URL+"/metrics", "wrong-token-0123456789"); code != 401 {
		t.Errorf("/metrics with a wrong token: %d", code)
	}
	if code, body := scrape(withToken.srv.URL+"/metrics", token); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics with the token: %d %.100s", code, body)
	}

	// METRICS_ADDR: only its own listener serves it
	sep := newEnv(t, options{config: func(c *config.Config) { c.Security.MetricsAddr = "127.0.0.1:0" }})
	if code, _ := scrape(sep.srv.URL+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the api with METRICS_ADDR: %d", code)
	}
	ms := httptest.NewServer(sep.api.MetricsHandler())
	defer ms.Close()
	if code, body := scrape(ms.URL+"/metrics", ""); code != 200 || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("/metrics on METRICS_ADDR: %d %.100s", code, body)
	}
}

// Revealing an SSH password that cannot be audited does not happen.
func TestRevealPasswordFailsWithoutAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	m := addMachine(t, admin, "audit-01", "北京", "RTX 4090").Machine
	lease(t, e, e.fx.tenantA.ID, m.ID)
	owner := e.login("owner-a")
	ctx := context.Background()
	_, err := e.st.Pool.Exec(ctx, `
		CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.action = 'machine.reveal_password' THEN RAISE EXCEPTION 'audit log unavailable'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_down();`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *session
		path string
	}{{admin, "/api/admin/machines/" + m.ID + "/reveal-password"}, {owner, "/api/customer/machines/" + m.ID + "/reveal-password"}} {
		r := c.s.must(500, "POST", c.path, nil)
		if strings.Contains(string(r.Data), "password\"") || r.Message != "internal error" {
			t.Fatalf("%s without audit: %s %s", c.path, r.Message, r.Data)
		}
	}
	if _, err := e.st.Pool.Exec(ctx, `DROP TRIGGER audit_down ON audit_logs`); err != nil {
		t.Fatal(err)
	}
	var out api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reveal-password", nil).decode(t, &out)
	if out.Password == "" {
		t.Fatal("no password once the audit works")
	}
}
