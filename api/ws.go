package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
	"github.com/jackc/puddle/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// WebSocket paths (not Huma operations: they are plain chi routes).
const (
	wsAdminMonitoring    = "/ws/admin/monitoring"
	wsCustomerMonitoring = "/ws/customer/monitoring/{machineId}"
)

// Close codes the sockets end with, besides the standard ones (1001 when
// the api shuts down). A client reconnects after 4008 and 1001, and not
// after 4401/4403 without a new token or a new lease.
const (
	CloseSessionEnded    = 4401 // logout, password change, account or customer disabled
	CloseAllocationEnded = 4403 // the machine is no longer leased to the caller's customer
	CloseSlowConsumer    = 4008 // the client did not keep up with the frames
)

// Frame types.
const (
	FrameSnapshot = "snapshot" // admin: every machine's latest figures, with what changed
	FrameRealtime = "realtime" // customer: the machine's latest figures
)

// AdminFrame is what /ws/admin/monitoring pushes every sample interval (5 s)
// and at once after connecting.
type AdminFrame struct {
	Type string `json:"type"` // "snapshot"
	// At is when the server built the frame (latency = receipt - at).
	At time.Time `json:"at"`
	// Machines are the items of GET /api/admin/monitoring/realtime, every machine, by name.
	Machines []store.RealtimeMachine `json:"machines"`
	// Statuses are the online/offline changes since the previous frame, oldest first.
	Statuses []StatusChange `json:"statuses"`
	// Alerts are the alerts opened or changed (acknowledged, resolved,
	// ignored) since the previous frame, in their current state.
	Alerts []store.Alert `json:"alerts"`
	// OpenAlerts counts the open alerts by level (the alert centre's badge).
	OpenAlerts store.OpenAlertCounts `json:"openAlerts"`
}

// StatusChange is a machine turned online or offline by the monitoring.
type StatusChange struct {
	MachineID string    `json:"machineId"`
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
}

// CustomerFrame is what /ws/customer/monitoring/{machineId} pushes when the
// machine's samples arrive, and at once after connecting.
type CustomerFrame struct {
	Type string          `json:"type"` // "realtime"
	At   time.Time       `json:"at"`
	Data MachineRealtime `json:"data"` // as GET /api/customer/monitoring/{machineId}/realtime
}

// wsTuning are the limits of the sockets.
type wsTuning struct {
	sendQueue    int           // frames queued per client; one more and it is dropped as a slow consumer
	writeTimeout time.Duration // for one frame; a client that takes longer is dropped
	pingEvery    time.Duration
	pongWait     time.Duration // the read deadline, moved on by every pong
	sessionCheck time.Duration // how often the sessions behind open sockets are checked again
	sendBuffer   int           // the socket's kernel send buffer (0: the system's)
	keepFrame    time.Duration // a new admin gets the last frame when it is younger than this
}

var defaultWSTuning = wsTuning{sendQueue: 8, writeTimeout: 10 * time.Second, pingEvery: 25 * time.Second, pongWait: 60 * time.Second,
	sessionCheck: 30 * time.Second}

// wsTuningOverride replaces the defaults for servers built after it is set (tests).
var wsTuningOverride atomic.Pointer[wsTuning]

// registerLive adds the monitoring WebSockets and the alerts API, evaluates
// the alert rules on every ingest, and starts the hub that pushes to the
// sockets (not for a server without a store, which only documents the API).
func (s *Server) registerLive(r chi.Router, api huma.API) {
	h := newHub(s)
	r.Get(wsAdminMonitoring, h.serveAdmin)
	r.Get(wsCustomerMonitoring, h.serveCustomer)
	(&alertsHandler{s: s, hub: h}).register(api)
	if s.Store == nil {
		return
	}
	s.OnIngest(h.alerts.onIngest)
	h.start()
}

// hub owns the sockets of one api process. Every replica has one; they learn
// of new data from Postgres (LISTEN on a dedicated connection): the ingest's
// machine_metrics and machine_status, alert_events, allocation_changes and
// alert_rules. For a machine_metrics notification it loads the machine's
// figures once and pushes them to that machine's customer sockets; the
// admin sockets get one snapshot of every machine per sample interval.
// Frames are encoded (and compressed) once and queued to every client; a
// client whose queue is full is dropped, never waited for.
type hub struct {
	s      *Server
	tune   wsTuning
	every  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	up     websocket.Upgrader
	alerts *alertEvaluator
	rules  rulesCache

	mu        sync.Mutex
	admins    map[*wsClient]struct{}
	customers map[string]map[*wsClient]struct{} // by machine
	statuses  []StatusChange                    // for the next admin frame
	alertIDs  map[string]struct{}               // for the next admin frame
	pushQ     map[string]struct{}               // machines whose customers get a frame
	lastFrame *websocket.PreparedMessage
	lastAt    time.Time
	building  sync.Mutex // one admin snapshot at a time

	wake chan struct{}
}

func newHub(s *Server) *hub {
	t := defaultWSTuning
	if o := wsTuningOverride.Load(); o != nil {
		t = *o
	}
	h := &hub{s: s, tune: t, every: s.Config.Monitoring.WithDefaults().SampleInterval, admins: map[*wsClient]struct{}{},
		customers: map[string]map[*wsClient]struct{}{}, alertIDs: map[string]struct{}{}, pushQ: map[string]struct{}{},
		wake: make(chan struct{}, 1)}
	if h.tune.keepFrame == 0 {
		h.tune.keepFrame = h.every
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.up = websocket.Upgrader{
		HandshakeTimeout:  10 * time.Second,
		ReadBufferSize:    512, // clients only send control frames
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: true,
		CheckOrigin:       h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeJSONError(w, r, status, reason.Error())
		},
	}
	h.alerts = &alertEvaluator{h: h, in: make(chan ingested, 1024), starts: make(chan struct{}, 8)}
	h.rules.s = s
	return h
}

func (h *hub) start() {
	go h.listen()
	go h.pusher()
	go h.ticker()
	go h.alerts.run()
}

// stopOnClosedStore ends the hub when the store was closed (the process, or
// a test, is done); it reports whether it did.
func (h *hub) stopOnClosedStore(err error) bool {
	if !errors.Is(err, puddle.ErrClosedPool) {
		return false
	}
	h.stop(websocket.CloseGoingAway, "server shutting down")
	return true
}

// storeClosed tells (and stops the hub) when the store was closed.
func (h *hub) storeClosed() bool {
	c, err := h.s.Store.Pool.Acquire(h.ctx)
	if err == nil {
		c.Release()
		return false
	}
	return h.stopOnClosedStore(err)
}

func (h *hub) stop(code int, reason string) {
	h.cancel()
	h.mu.Lock()
	var all []*wsClient
	for c := range h.admins {
		all = append(all, c)
	}
	for _, set := range h.customers {
		for c := range set {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.kick(code, reason)
	}
}

func (h *hub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ---- the connection to Postgres -------------------------------------------

var hubChannels = []string{store.ChannelMachineMetrics, store.ChannelMachineStatus, store.ChannelAlertEvents,
	store.ChannelAllocationChanges, store.ChannelAlertRules}

// listen keeps a dedicated connection LISTENing, reconnecting with backoff.
func (h *hub) listen() {
	backoff := time.Second
	for h.ctx.Err() == nil {
		err := h.listenOnce(func() { backoff = time.Second })
		if h.ctx.Err() != nil || h.stopOnClosedStore(err) || h.storeClosed() {
			return
		}
		slog.Warn("websocket hub: notification connection lost; reconnecting", "err", err, "in", backoff)
		if !h.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (h *hub) listenOnce(connected func()) error {
	pc, err := h.s.Store.Pool.Acquire(h.ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // ours alone: the pool neither reuses nor waits for it
	defer conn.Close(context.Background())
	for _, ch := range hubChannels {
		if _, err := conn.Exec(h.ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	connected()
	// whatever happened while no one listened: check every customer socket again
	h.mu.Lock()
	for m := range h.customers {
		h.pushQ[m] = struct{}{}
	}
	h.mu.Unlock()
	h.rules.invalidate()
	h.poke()
	for {
		n, err := conn.WaitForNotification(h.ctx)
		if err != nil {
			return err
		}
		h.dispatch(n.Channel, n.Payload)
	}
}

func (h *hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) dispatch(channel, payload string) {
	switch channel {
	case store.ChannelMachineMetrics, store.ChannelAllocationChanges:
		h.mu.Lock()
		_, watched := h.customers[payload]
		if watched {
			h.pushQ[payload] = struct{}{}
		}
		h.mu.Unlock()
		if watched {
			h.poke()
		}
	case store.ChannelMachineStatus:
		id, status, ok := strings.Cut(payload, ":")
		if !ok {
			return
		}
		h.mu.Lock()
		if len(h.statuses) < 10000 {
			h.statuses = append(h.statuses, StatusChange{MachineID: id, Status: status, At: time.Now().UTC()})
		}
		_, watched := h.customers[id]
		if watched {
			h.pushQ[id] = struct{}{}
		}
		h.mu.Unlock()
		if watched {
			h.poke()
		}
	case store.ChannelAlertEvents:
		id, _, _ := strings.Cut(payload, ":")
		h.mu.Lock()
		if len(h.alertIDs) < 10000 {
			h.alertIDs[id] = struct{}{}
		}
		h.mu.Unlock()
	case store.ChannelAlertRules:
		h.rules.invalidate()
	}
}

// ---- customer frames ------------------------------------------------------

// pusher sends the customers' frames of the machines queued by dispatch.
func (h *hub) pusher() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		}
		h.mu.Lock()
		queue := h.pushQ
		h.pushQ = map[string]struct{}{}
		h.mu.Unlock()
		for machine := range queue {
			if err := h.pushCustomers(machine); err != nil {
				if h.stopOnClosedStore(err) {
					return
				}
				slog.Error("websocket hub: unable to push a machine's figures", "machine", machine, "err", err)
			}
		}
	}
}

// pushCustomers loads the machine's figures once per customer watching it
// (normally one: its tenant) and sends them; the sockets of a customer who
// no longer leases it are closed.
func (h *hub) pushCustomers(machine string) error {
	h.mu.Lock()
	byTenant := map[string][]*wsClient{}
	for c := range h.customers[machine] {
		byTenant[c.p.TenantID] = append(byTenant[c.p.TenantID], c)
	}
	h.mu.Unlock()
	for _, clients := range byTenant {
		pm, err := h.customerFrame(clients[0].p, machine)
		if isNotFound(err) {
			for _, c := range clients {
				c.kick(CloseAllocationEnded, "allocation ended: the machine is no longer leased to your account")
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, c := range clients {
			c.offer(pm)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	de, ok := apperr.As(err)
	return ok && de.Kind == apperr.NotFound
}

// customerFrame is the machine's realtime answer for the caller, as the REST
// operation gives it (and with its access check: not found when the machine
// is not leased to the caller's customer).
func (h *hub) customerFrame(p *Principal, machine string) (*websocket.PreparedMessage, error) {
	ctx, cancel := context.WithTimeout(caller.WithPrincipal(h.ctx, p), 10*time.Second)
	defer cancel()
	resp, err := (&monitoringHandler{h.s}).customerRealtime(ctx, &CustomerRealtimeInput{MachineID: machine})
	if err != nil {
		return nil, err
	}
	return prepare(CustomerFrame{Type: FrameRealtime, At: time.Now().UTC(), Data: resp.Body.Data})
}

func prepare(v any) (*websocket.PreparedMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}

// ---- admin frames and the periodic work -------------------------------------

func (h *hub) ticker() {
	t := time.NewTicker(h.every)
	defer t.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		if err := h.tick(); err != nil {
			if h.stopOnClosedStore(err) {
				return
			}
			slog.Error("websocket hub: periodic work failed", "err", err)
		}
		if time.Since(lastCheck) >= h.tune.sessionCheck {
			lastCheck = time.Now()
			if err := h.checkSessions(); err != nil {
				if h.stopOnClosedStore(err) {
					return
				}
				slog.Error("websocket hub: unable to check sessions", "err", err)
			}
		}
	}
}

// tick sends the admins their snapshot, opens and resolves offline alerts,
// and retries the notifications whose start failed.
func (h *hub) tick() error {
	ctx, cancel := context.WithTimeout(h.ctx, h.every+10*time.Second)
	defer cancel()
	h.mu.Lock()
	admins := len(h.admins)
	h.mu.Unlock()
	var errs []error
	if admins == 0 {
		// nobody to tell: the next admin starts from a full snapshot anyway
		h.mu.Lock()
		h.statuses, h.alertIDs = nil, map[string]struct{}{}
		h.mu.Unlock()
	} else {
		if _, err := h.broadcastSnapshot(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.alerts.sweepOffline(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := h.alerts.retryNotifications(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// snapshot builds an admin frame: every machine, and the status and alert
// changes gathered since the previous one.
func (h *hub) snapshot(ctx context.Context) (*websocket.PreparedMessage, error) {
	machines, _, err := h.s.Store.Realtime(ctx, store.RealtimeFilter{}, store.Page{PageSize: 1000000})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	statuses := h.statuses
	h.statuses = nil
	ids := make([]string, 0, len(h.alertIDs))
	for id := range h.alertIDs {
		ids = append(ids, id)
	}
	h.alertIDs = map[string]struct{}{}
	h.mu.Unlock()
	f := AdminFrame{Type: FrameSnapshot, Machines: machines, Statuses: statuses, Alerts: []store.Alert{}}
	if f.Statuses == nil {
		f.Statuses = []StatusChange{}
	}
	if len(ids) > 0 {
		if f.Alerts, err = h.s.Store.AlertsByID(ctx, ids); err != nil {
			return nil, err
		}
	}
	if f.OpenAlerts, err = h.s.Store.CountOpenAlerts(ctx); err != nil {
		return nil, err
	}
	f.At = time.Now().UTC()
	return prepare(f)
}

// broadcastSnapshot builds one snapshot and queues it to every admin.
func (h *hub) broadcastSnapshot(ctx context.Context) (int, error) {
	h.building.Lock()
	defer h.building.Unlock()
	pm, err := h.snapshot(ctx)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	h.lastFrame, h.lastAt = pm, time.Now()
	admins := make([]*wsClient, 0, len(h.admins))
	for c := range h.admins {
		admins = append(admins, c)
	}
	h.mu.Unlock()
	for _, c := range admins {
		c.offer(pm)
	}
	return len(admins), nil
}

// firstSnapshot is what a new admin gets at once: the last frame when it is
// recent, else a fresh one (which does not consume the pending changes).
func (h *hub) firstSnapshot(ctx context.Context) (*websocket.PreparedMessage, error) {
	// one at a time: many admins connecting together share one query
	h.building.Lock()
	defer h.building.Unlock()
	h.mu.Lock()
	pm, at := h.lastFrame, h.lastAt
	h.mu.Unlock()
	if pm != nil && time.Since(at) < h.tune.keepFrame {
		return pm, nil
	}
	machines, _, err := h.s.Store.Realtime(ctx, store.RealtimeFilter{}, store.Page{PageSize: 1000000})
	if err != nil {
		return nil, err
	}
	f := AdminFrame{Type: FrameSnapshot, Machines: machines, Statuses: []StatusChange{}, Alerts: []store.Alert{}}
	if f.OpenAlerts, err = h.s.Store.CountOpenAlerts(ctx); err != nil {
		return nil, err
	}
	f.At = time.Now().UTC()
	if pm, err = prepare(f); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.lastFrame, h.lastAt = pm, time.Now()
	h.mu.Unlock()
	return pm, nil
}

// checkSessions closes the sockets whose session ended (logout, password
// change, account or customer disabled) since they connected.
func (h *hub) checkSessions() error {
	h.mu.Lock()
	bySession := map[string][]*wsClient{}
	for c := range h.admins {
		bySession[c.p.SessionID] = append(bySession[c.p.SessionID], c)
	}
	for _, set := range h.customers {
		for c := range set {
			bySession[c.p.SessionID] = append(bySession[c.p.SessionID], c)
		}
	}
	h.mu.Unlock()
	for sid, clients := range bySession {
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		sp, err := h.s.Store.LoadPrincipal(ctx, sid)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, c := range clients {
			if err != nil || sp.UserStatus != "active" || sp.TenantStatus == "disabled" || sp.Role != c.p.Role || sp.TenantID != c.p.TenantID {
				c.kick(CloseSessionEnded, "session ended: log in again")
			}
		}
	}
	return nil
}

// ---- handshakes ----------------------------------------------------------

// authenticate checks the ticket or token (wsPrincipal: session still live,
// account active) and the role; it answers the refusal itself.
func (h *hub) authenticate(w http.ResponseWriter, r *http.Request, roles []string) *Principal {
	if !websocket.IsWebSocketUpgrade(r) {
		writeJSONError(w, r, http.StatusBadRequest, "a WebSocket upgrade is required")
		return nil
	}
	if !h.checkOrigin(r) {
		writeJSONError(w, r, http.StatusForbidden, "origin not allowed")
		return nil
	}
	p, err := h.s.wsPrincipal(r)
	if err != nil {
		if de, ok := apperr.As(err); ok {
			writeJSONError(w, r, http.StatusUnauthorized, de.Message)
		} else {
			slog.ErrorContext(r.Context(), "internal error", "err", err)
			writeJSONError(w, r, http.StatusInternalServerError, "internal error")
		}
		return nil
	}
	for _, role := range roles {
		if p.Role == role {
			return p
		}
	}
	writeJSONError(w, r, http.StatusForbidden, errForbiddenRole.Message)
	return nil
}

// checkOrigin accepts clients that send no Origin (not a browser), the
// console's own origin (PUBLIC_URL, or the Host the request came to), and
// loopback origins when the api itself is configured on loopback (the Vite
// dev server proxies /ws from another port).
func (h *hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	pub, _ := url.Parse(h.s.Config.PublicURL)
	if pub != nil && pub.Host != "" && strings.EqualFold(u.Host, pub.Host) && strings.EqualFold(u.Scheme, pub.Scheme) {
		return true
	}
	return isLoopback(u.Hostname()) && (pub == nil || pub.Host == "" || isLoopback(pub.Hostname()))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hijacker finds, through the middlewares' wrappers, the writer that can
// hand over the connection.
func hijacker(w http.ResponseWriter) http.ResponseWriter {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return w
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

func (h *hub) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := h.authenticate(w, r, roleAdmin)
	if p == nil {
		return
	}
	first, err := h.firstSnapshot(r.Context())
	if err != nil {
		slog.ErrorContext(r.Context(), "internal error", "err", err)
		writeJSONError(w, r, http.StatusInternalServerError, "internal error")
		return
	}
	c := h.upgrade(w, r, p, "")
	if c == nil {
		return
	}
	h.mu.Lock()
	h.admins[c] = struct{}{}
	h.mu.Unlock()
	c.offer(first)
	c.run(h.tune)
	h.mu.Lock()
	delete(h.admins, c)
	h.mu.Unlock()
}

func (h *hub) serveCustomer(w http.ResponseWriter, r *http.Request) {
	p := h.authenticate(w, r, roleCustomer)
	if p == nil {
		return
	}
	machine := chi.URLParam(r, "machineId")
	if err := validUUIDs(map[string]string{"machineId": machine}); err != nil {
		writeJSONError(w, r, http.StatusBadRequest, "machineId must be a UUID")
		return
	}
	first, err := h.customerFrame(p, machine)
	if isNotFound(err) {
		writeJSONError(w, r, http.StatusNotFound, "机器不存在或未分配给您 / machine not found")
		return
	}
	if err != nil {
		slog.ErrorContext(r.Context(), "internal error", "err", err)
		writeJSONError(w, r, http.StatusInternalServerError, "internal error")
		return
	}
	c := h.upgrade(w, r, p, machine)
	if c == nil {
		return
	}
	h.mu.Lock()
	set := h.customers[machine]
	if set == nil {
		set = map[*wsClient]struct{}{}
		h.customers[machine] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	c.offer(first)
	c.run(h.tune)
	h.mu.Lock()
	delete(set, c)
	if cur, ok := h.customers[machine]; ok && len(cur) == 0 {
		delete(h.customers, machine)
	}
	h.mu.Unlock()
}

func (h *hub) upgrade(w http.ResponseWriter, r *http.Request, p *Principal, machine string) *wsClient {
	if h.ctx.Err() != nil {
		writeJSONError(w, r, http.StatusServiceUnavailable, "shutting down")
		return nil
	}
	conn, err := h.up.Upgrade(hijacker(w), r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	if h.tune.sendBuffer > 0 {
		if tc, ok := conn.NetConn().(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(h.tune.sendBuffer)
		}
	}
	return &wsClient{conn: conn, p: p, machine: machine, send: make(chan *websocket.PreparedMessage, h.tune.sendQueue), done: make(chan struct{})}
}

// ---- one client ----------------------------------------------------------

// wsClient is one socket: the handler's goroutine reads (control frames,
// pongs), one goroutine writes what the hub queues.
type wsClient struct {
	conn    *websocket.Conn
	p       *Principal
	machine string
	send    chan *websocket.PreparedMessage
	done    chan struct{} // closed when the read side ended
	once    sync.Once
	closing atomic.Bool
}

// offer queues a frame without ever waiting: a full queue drops the client.
func (c *wsClient) offer(pm *websocket.PreparedMessage) {
	if c.closing.Load() {
		return
	}
	select {
	case c.send <- pm:
	default:
		c.kick(CloseSlowConsumer, "slow consumer: frames were not read in time")
	}
}

// kick closes the socket with a close frame: sent as soon as the writer is
// free (at most a second), then the connection is cut once the peer answers
// or a second later.
func (c *wsClient) kick(code int, reason string) {
	c.once.Do(func() {
		c.closing.Store(true)
		go func() {
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			t := time.NewTimer(2 * time.Second)
			defer t.Stop()
			select {
			case <-c.done:
			case <-t.C:
			}
			_ = c.conn.Close()
		}()
	})
}

// run serves the socket until it ends.
func (c *wsClient) run(t wsTuning) {
	go c.write(t)
	c.conn.SetReadLimit(4096)
	_ = c.conn.SetReadDeadline(time.Now().Add(t.pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(t.pongWait)) })
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			break
		}
	}
	c.closing.Store(true)
	close(c.done)
	_ = c.conn.Close()
}

func (c *wsClient) write(t wsTuning) {
	ping := time.NewTicker(t.pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case pm := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				_ = c.conn.Close()
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(t.writeTimeout)); err != nil {
				_ = c.conn.Close()
				return
			}
		}
	}
}
