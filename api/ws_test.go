package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

var wsTuneOnce sync.Once

// wsTune sets short socket limits for the WebSocket tests (servers built
// afterwards get them; tests that open no socket do not notice).
func wsTune() {
	wsTuneOnce.Do(func() {
		api.SetWSTuning(api.WSTestTuning{SendQueue: 4, WriteTimeout: time.Second, PingEvery: 500 * time.Millisecond,
			PongWait: 5 * time.Second, SessionCheck: 300 * time.Millisecond, SendBuffer: 16 << 10})
	})
}

// replica is another api process over the test's database: its own pool,
// its own hub, pushing to admins every `every`.
func (e *env) replica(t *testing.T, every time.Duration) *httptest.Server {
	t.Helper()
	st, err := store.Open(context.Background(), e.st.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := e.cfg
	cfg.Monitoring.SampleInterval = every
	a := api.New(api.Deps{Config: cfg, Store: st, Secrets: e.box})
	a.Start(context.Background())
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// wsURL is the socket's URL with a ticket (none when empty).
func wsURL(base, path, ticket string) string {
	u := "ws" + strings.TrimPrefix(base, "http") + path
	if ticket != "" {
		u += "?ticket=" + url.QueryEscape(ticket)
	}
	return u
}

// wsTicket asks the api at base for a one-time WebSocket ticket of the access token's session.
func wsTicket(t *testing.T, base, access string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/auth/ws-ticket", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data api.WSTicket `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 || env.Data.Ticket == "" || env.Data.ExpiresIn != 30 {
		t.Fatalf("ws-ticket: %d %+v %v", resp.StatusCode, env.Data, err)
	}
	return env.Data.Ticket
}

// ticketURL is the socket's URL with a fresh ticket of access.
func ticketURL(t *testing.T, base, path, access string) string {
	t.Helper()
	return wsURL(base, path, wsTicket(t, base, access))
}

// dialWS connects with a fresh ticket, failing the test unless the upgrade succeeds.
func dialWS(t *testing.T, base, path, access string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(ticketURL(t, base, path, access), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused dials and returns the HTTP status of the refused handshake.
func refused(t *testing.T, d *websocket.Dialer, u string, h http.Header) int {
	t.Helper()
	c, resp, err := d.Dial(u, h)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: accepted", u)
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	return resp.StatusCode
}

// waitFrame reads frames of type T until cond holds (20 s at most).
func waitFrame[T any](t *testing.T, c *websocket.Conn, what string, cond func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		var f T
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if cond(f) {
			return f
		}
	}
}

// closeCode reads until the socket ends and returns its close code (0 when
// it ended without a close frame).
func closeCode(t *testing.T, c *websocket.Conn, within time.Duration) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the socket was not closed within %s", within)
			}
			return 0
		}
	}
}

func findMachine(f api.AdminFrame, id string) *store.RealtimeMachine {
	for i := range f.Machines {
		if f.Machines[i].ID == id {
			return &f.Machines[i]
		}
	}
	return nil
}

// lease allocates the machine to the tenant, active from now.
func lease(t *testing.T, e *env, tenantID, machineID string) string {
	t.Helper()
	ctx := context.Background()
	id, err := e.st.CreateAllocation(ctx, tenantID, machineID, 1, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.ActivateAllocation(ctx, id, time.Now().Add(-time.Minute), time.Now().AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestWSAuth(t *testing.T) {
	wsTune()
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "ws-auth", "北京")
	lease(t, e, e.fx.tenantA.ID, a.machineID)
	owner, ownerB := e.login("owner-a"), e.login("owner-b")
	adminPath, custPath := "/ws/admin/monitoring", "/ws/customer/monitoring/"+a.machineID
	d := websocket.DefaultDialer
	base := e.srv.URL

	tk := func(s *session) string { return wsTicket(t, base, s.access) }
	cases := []struct {
		name   string
		url    string
		header http.Header
		want   int
	}{
		{"no ticket", wsURL(base, adminPath, ""), nil, 401},
		{"bad ticket", wsURL(base, adminPath, "not-a-ticket"), nil, 401},
		{"an access token in the URL (no longer taken)", base2ws(base) + adminPath + "?token=" + url.QueryEscape(admin.access), nil, 401},
		{"an access token as a subprotocol (no longer taken)", wsURL(base, adminPath, ""),
			http.Header{"Sec-WebSocket-Protocol": {"bearer, " + admin.access}}, 401},
		{"customer on the admin socket", wsURL(base, adminPath, tk(owner)), nil, 403},
		{"admin on the customer socket", wsURL(base, custPath, tk(admin)), nil, 403},
		{"another customer's machine", wsURL(base, custPath, tk(ownerB)), nil, 404},
		{"malformed machine id", wsURL(base, "/ws/customer/monitoring/nope", tk(owner)), nil, 400},
		{"foreign origin", wsURL(base, adminPath, tk(admin)), http.Header{"Origin": {"https://evil.example"}}, 403},
	}
	for _, c := range cases {
		if got := refused(t, d, c.url, c.header); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	e.anon().must(401, "POST", "/api/auth/ws-ticket", nil)

	// the console's own origin with a ticket from another replica (tickets live in Postgres)
	other := e.replica(t, time.Second)
	ticket := wsTicket(t, other.URL, admin.access)
	c, _, err := d.Dial(wsURL(base, adminPath, ticket), http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("ticket: %v", err)
	}
	defer c.Close()
	first := waitFrame(t, c, "the first snapshot", func(f api.AdminFrame) bool { return true })
	if first.Type != api.FrameSnapshot || findMachine(first, a.machineID) == nil || first.At.IsZero() {
		t.Fatalf("first frame %+v", first)
	}
	// a ticket opens one socket, once
	if got := refused(t, d, wsURL(base, adminPath, ticket), nil); got != 401 {
		t.Fatalf("spent ticket: %d", got)
	}
	// and only for 30 s
	late := wsTicket(t, base, admin.access)
	if _, err := e.st.Pool.Exec(context.Background(), `UPDATE ws_tickets SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if got := refused(t, d, wsURL(base, adminPath, late), nil); got != 401 {
		t.Fatalf("expired ticket: %d", got)
	}
	// other clients may send the access token in the Authorization header
	hc, _, err := d.Dial(wsURL(base, adminPath, ""), http.Header{"Authorization": {"Bearer " + admin.access}})
	if err != nil {
		t.Fatalf("Authorization header: %v", err)
	}
	hc.Close()
	// a session that ended is refused like on the REST operations, also with a ticket taken before
	gone := e.login("owner-a")
	goneTicket := wsTicket(t, base, gone.access)
	gone.must(200, "POST", "/api/auth/logout", map[string]any{"refreshToken": gone.refresh})
	if got := refused(t, d, wsURL(base, custPath, goneTicket), nil); got != 401 {
		t.Fatalf("ticket of a logged-out session: %d", got)
	}
	if got := refused(t, d, wsURL(base, custPath, ""), http.Header{"Authorization": {"Bearer " + gone.access}}); got != 401 {
		t.Fatalf("logged-out token: %d", got)
	}
}

func base2ws(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

// hot is n rounds 5 s apart from start with GPU gpu at tempC.
func hot(start time.Time, n, gpu int, tempC float64) []agentproto.Sample {
	out := make([]agentproto.Sample, n)
	for i := range out {
		out[i] = round(start.Add(time.Duration(i)*5*time.Second), 8, 40)
		out[i].GPUs[gpu].TempC = tempC
	}
	return out
}

func TestWSAdminAcrossReplicas(t *testing.T) {
	wsTune()
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "ws-fan", "北京")
	other := e.replica(t, 200*time.Millisecond)

	// the admin's socket is on the other replica; the agent posts to the first
	c := dialWS(t, other.URL, "/ws/admin/monitoring", admin.access)
	first := waitFrame(t, c, "the first snapshot", func(f api.AdminFrame) bool { return true })
	if m := findMachine(first, a.machineID); m == nil || m.SampleAt != nil {
		t.Fatalf("first frame: %+v", m)
	}
	at := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Minute)
	a.post(t, round(at, 8, 42))
	f := waitFrame(t, c, "the sample", func(f api.AdminFrame) bool {
		m := findMachine(f, a.machineID)
		return m != nil && m.SampleAt != nil && m.SampleAt.Equal(at)
	})
	if m := findMachine(f, a.machineID); *m.GPUUtil != 45.5 || len(m.GPUs) != 8 || m.Status != "online" {
		t.Fatalf("machine in the frame %+v", m)
	}
	if d := time.Since(f.At); d < 0 || d > 5*time.Second {
		t.Fatalf("frame time %s, %s ago", f.At, d)
	}

	// a hot GPU for a minute opens a critical alert on the ingesting replica; the frames carry it
	a.post(t, hot(at.Add(5*time.Second), 13, 2, 91)...)
	f = waitFrame(t, c, "the alert", func(f api.AdminFrame) bool { return len(f.Alerts) > 0 && f.OpenAlerts.Critical == 1 })
	al := f.Alerts[0]
	if al.Type != "gpu_temperature" || al.GPUIndex == nil || *al.GPUIndex != 2 || al.Status != "active" || al.MachineName != "ws-fan" || al.Level != "critical" {
		t.Fatalf("alert in the frame %+v", al)
	}
	waitFrame(t, c, "the machine's alert count", func(f api.AdminFrame) bool {
		m := findMachine(f, a.machineID)
		return m != nil && m.OpenAlerts == 1
	})
	// acknowledging on this replica shows on the other
	admin.must(200, "PUT", "/api/admin/alerts/"+al.ID+"/acknowledge", nil)
	waitFrame(t, c, "the acknowledgement", func(f api.AdminFrame) bool {
		return len(f.Alerts) == 1 && f.Alerts[0].ID == al.ID && f.Alerts[0].Status == "acknowledged"
	})

	// status changes from the offline detector
	if _, err := e.st.MarkStaleOffline(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f = waitFrame(t, c, "the status change", func(f api.AdminFrame) bool { return len(f.Statuses) > 0 })
	if s := f.Statuses[0]; s.MachineID != a.machineID || s.Status != "offline" {
		t.Fatalf("status change %+v", s)
	}
}

func TestWSCustomer(t *testing.T) {
	wsTune()
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "ws-cust", "上海")
	allocID := lease(t, e, e.fx.tenantA.ID, a.machineID)
	other := e.replica(t, 200*time.Millisecond)
	member := e.login("member-a")

	c := dialWS(t, other.URL, "/ws/customer/monitoring/"+a.machineID, member.access)
	first := waitFrame(t, c, "the first frame", func(f api.CustomerFrame) bool { return true })
	if first.Type != api.FrameRealtime || first.Data.MachineID != a.machineID || first.Data.SampleAt != nil || first.Data.Name != "ws-cust" {
		t.Fatalf("first frame %+v", first)
	}
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	a.post(t, round(at, 8, 10))
	f := waitFrame(t, c, "the sample", func(f api.CustomerFrame) bool { return f.Data.SampleAt != nil && f.Data.SampleAt.Equal(at) })
	if len(f.Data.Processes) != 1 || f.Data.Processes[0].PID != 4242 || len(f.Data.GPUs) != 8 || f.Data.Host == nil || f.Data.Host.NetRxBps != 5e6 {
		t.Fatalf("frame %+v", f.Data)
	}
	a.post(t, round(at.Add(5*time.Second), 8, 20))
	waitFrame(t, c, "the next sample", func(f api.CustomerFrame) bool {
		return f.Data.SampleAt != nil && f.Data.SampleAt.Equal(at.Add(5*time.Second))
	})

	// the lease ends: the socket closes with its own code, and a new one is refused
	if err := e.st.EndAllocation(context.Background(), allocID, "reclaimed", "test", "admin1", nil); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, c, 10*time.Second); code != api.CloseAllocationEnded {
		t.Fatalf("close code %d, want %d", code, api.CloseAllocationEnded)
	}
	if got := refused(t, websocket.DefaultDialer, ticketURL(t, other.URL, "/ws/customer/monitoring/"+a.machineID, member.access), nil); got != 404 {
		t.Fatalf("after the lease: %d", got)
	}

	// logging out closes the session's sockets
	b := addAgent(t, e, admin, "ws-cust-2", "上海")
	lease(t, e, e.fx.tenantA.ID, b.machineID)
	owner := e.login("owner-a")
	c2 := dialWS(t, other.URL, "/ws/customer/monitoring/"+b.machineID, owner.access)
	waitFrame(t, c2, "the first frame", func(f api.CustomerFrame) bool { return true })
	owner.must(200, "POST", "/api/auth/logout", map[string]any{"refreshToken": owner.refresh})
	if code := closeCode(t, c2, 10*time.Second); code != api.CloseSessionEnded {
		t.Fatalf("close code %d, want %d", code, api.CloseSessionEnded)
	}
}

func TestWSSlowConsumerDropped(t *testing.T) {
	wsTune()
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	// frames of some size: 30 machines with 8 GPUs each
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 30 {
		a := addAgent(t, e, admin, "slow-"+string(rune('a'+i/26))+string(rune('a'+i%26)), "北京")
		a.post(t, round(now, 8, float64(i)))
	}
	other := e.replica(t, 50*time.Millisecond)

	// the slow client never reads, through a tiny receive buffer
	slowDialer := &websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}).DialContext}
	slow, _, err := slowDialer.Dial(ticketURL(t, other.URL, "/ws/admin/monitoring", admin.access), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := dialWS(t, other.URL, "/ws/admin/monitoring", admin.access)

	// the fast client keeps getting frames on time while the slow one backs up and is dropped
	start := time.Now()
	frames, worst := 0, time.Duration(0)
	last := time.Now()
	for time.Since(start) < 4*time.Second {
		_ = fast.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f api.AdminFrame
		if err := fast.ReadJSON(&f); err != nil {
			t.Fatalf("the fast client lost its socket after %d frames: %v", frames, err)
		}
		frames++
		if gap := time.Since(last); gap > worst {
			worst = gap
		}
		last = time.Now()
		if len(f.Machines) != 30 {
			t.Fatalf("frame with %d machines", len(f.Machines))
		}
	}
	if frames < 20 || worst > time.Second {
		t.Fatalf("the fast client got %d frames in 4 s, the longest wait %s", frames, worst)
	}
	// the slow one: what was buffered, then the end (a close frame or a cut connection)
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	n := 0
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			n++
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the slow client was not dropped (read %d frames)", n)
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != api.CloseSlowConsumer && ce.Code != websocket.CloseAbnormalClosure {
			t.Fatalf("slow client closed with %d", ce.Code)
		}
		break
	}
	if n > 30 {
		t.Fatalf("the slow client got %d frames before it was dropped", n)
	}
}
