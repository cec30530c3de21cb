// Package live pushes the monitoring to browsers over WebSockets: the
// admin's snapshot of every machine (with the status and alert changes
// since the previous one) every sample interval, and a leased machine's
// figures to its customer as they arrive; and a task's log as it is stored
// (tasklogs.go). Every api replica runs one Service between Start and
// Close; the replicas learn of new data from Postgres (LISTEN on a
// dedicated connection): the ingest's machine_metrics and machine_status,
// alert_events, allocation_changes, alert_rules and task_logs. Monitoring
// frames are encoded (and compressed) once and queued to every client; a
// client whose queue is full is dropped, never waited for.
package live

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
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/puddle/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/store"
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

// AdminFrame is what the admin's socket gets every sample interval (5 s)
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

// CustomerFrame is what a customer's socket on a machine gets when the
// machine's samples arrive, and at once after connecting.
type CustomerFrame struct {
	Type string                     `json:"type"` // "realtime"
	At   time.Time                  `json:"at"`
	Data monitoring.MachineRealtime `json:"data"` // as GET /api/customer/monitoring/{machineId}/realtime
}

// Tuning are the limits of the sockets.
type Tuning struct {
	SendQueue    int           // frames queued per client; one more and it is dropped as a slow consumer
	WriteTimeout time.Duration // for one frame; a client that takes longer is dropped
	PingEvery    time.Duration
	PongWait     time.Duration // the read deadline, moved on by every pong
	SessionCheck time.Duration // how often the sessions behind open sockets are checked again
	SendBuffer   int           // the socket's kernel send buffer (0: the system's)
	KeepFrame    time.Duration // a new admin gets the last frame when it is younger than this (0: the sample interval)
}

var DefaultTuning = Tuning{SendQueue: 8, WriteTimeout: 10 * time.Second, PingEvery: 25 * time.Second, PongWait: 60 * time.Second,
	SessionCheck: 30 * time.Second}

// Service owns the sockets of one api process.
type Service struct {
	Store      *store.Store
	Monitoring *monitoring.Service // the customers' frames, with their access check
	// PublicURL is the console's address: its origin may open sockets.
	PublicURL string
	// Every is the sample interval: one admin snapshot each.
	Every  time.Duration
	Tuning Tuning
	// RulesChanged is called when the alert rules changed on any replica
	// (or changes may have been missed).
	RulesChanged func()
	// WriteError answers a refused handshake (the api's error envelope).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// TaskLogs reads the tasks' logs for their sockets (internal/tasks).
	TaskLogs TaskLogs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	up     websocket.Upgrader

	mu        sync.Mutex
	admins    map[peer]struct{}
	customers map[string]map[peer]struct{}      // by machine
	followers map[string]map[*follower]struct{} // task log sockets, by task
	statuses  []StatusChange                    // for the next admin frame
	alertIDs  map[string]struct{}               // for the next admin frame
	pushQ     map[string]struct{}               // machines whose customers get a frame
	lastFrame *websocket.PreparedMessage
	lastAt    time.Time
	building  sync.Mutex // one admin snapshot at a time

	wake chan struct{}
}

// New builds the service; Start runs it. A service that was not started
// refuses every socket (503).
func New(st *store.Store, mon *monitoring.Service, publicURL string, every time.Duration, t Tuning) *Service {
	if t.KeepFrame == 0 {
		t.KeepFrame = every
	}
	s := &Service{Store: st, Monitoring: mon, PublicURL: publicURL, Every: every, Tuning: t, admins: map[peer]struct{}{},
		customers: map[string]map[peer]struct{}{}, followers: map[string]map[*follower]struct{}{}, alertIDs: map[string]struct{}{}, pushQ: map[string]struct{}{},
		wake: make(chan struct{}, 1), RulesChanged: func() {}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cancel() // not started
	s.up = websocket.Upgrader{
		HandshakeTimeout:  10 * time.Second,
		ReadBufferSize:    512, // clients only send control frames
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: true,
		CheckOrigin:       s.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			kind := apperr.Invalid
			if status == http.StatusForbidden {
				kind = apperr.Forbidden
			}
			s.writeError(w, r, apperr.New(kind, "live.handshakeRefused", "{reason}", apperr.P{"reason": reason.Error()}))
		},
	}
	return s
}

// Start listens to Postgres and runs the pushes until Close (or until the
// store is closed).
func (s *Service) Start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, run := range []func(){s.listen, s.pusher, s.ticker} {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); run() }()
	}
}

// Close ends every socket (1001, going away) and stops the service.
func (s *Service) Close() {
	s.stop(websocket.CloseGoingAway, "server shutting down")
	s.wg.Wait()
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if s.WriteError != nil {
		s.WriteError(w, r, err)
		return
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// stopOnClosedStore ends the service when the store was closed (the process,
// or a test, is done); it reports whether it did.
func (s *Service) stopOnClosedStore(err error) bool {
	if !errors.Is(err, puddle.ErrClosedPool) {
		return false
	}
	s.stop(websocket.CloseGoingAway, "server shutting down")
	return true
}

// storeClosed tells (and stops the service) when the store was closed.
func (s *Service) storeClosed() bool {
	c, err := s.Store.Pool.Acquire(s.ctx)
	if err == nil {
		c.Release()
		return false
	}
	return s.stopOnClosedStore(err)
}

func (s *Service) stop(code int, reason string) {
	s.cancel()
	s.mu.Lock()
	var all []peer
	for c := range s.admins {
		all = append(all, c)
	}
	for _, set := range s.customers {
		for c := range set {
			all = append(all, c)
		}
	}
	for _, set := range s.followers {
		for f := range set {
			all = append(all, f.c)
		}
	}
	s.mu.Unlock()
	for _, c := range all {
		c.kick(code, reason)
	}
}

func (s *Service) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ---- the connection to Postgres -------------------------------------------

var channels = []string{store.ChannelMachineMetrics, store.ChannelMachineStatus, store.ChannelAlertEvents,
	store.ChannelAllocationChanges, store.ChannelAlertRules, store.ChannelTaskLogs}

// listen keeps a dedicated connection LISTENing, reconnecting with backoff.
func (s *Service) listen() {
	backoff := time.Second
	for s.ctx.Err() == nil {
		err := s.listenOnce(func() { backoff = time.Second })
		if s.ctx.Err() != nil || s.stopOnClosedStore(err) || s.storeClosed() {
			return
		}
		slog.Warn("live monitoring: notification connection lost; reconnecting", "err", err, "in", backoff)
		if !s.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (s *Service) listenOnce(connected func()) error {
	pc, err := s.Store.Pool.Acquire(s.ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // ours alone: the pool neither reuses nor waits for it
	defer conn.Close(context.Background())
	for _, ch := range channels {
		if _, err := conn.Exec(s.ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	connected()
	// whatever happened while no one listened: check every customer socket again
	s.mu.Lock()
	for m := range s.customers {
		s.pushQ[m] = struct{}{}
	}
	s.mu.Unlock()
	s.RulesChanged()
	s.poke()
	s.wakeAllFollowers()
	for {
		n, err := conn.WaitForNotification(s.ctx)
		if err != nil {
			return err
		}
		s.dispatch(n.Channel, n.Payload)
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) dispatch(channel, payload string) {
	switch channel {
	case store.ChannelMachineMetrics, store.ChannelAllocationChanges:
		s.mu.Lock()
		_, watched := s.customers[payload]
		if watched {
			s.pushQ[payload] = struct{}{}
		}
		s.mu.Unlock()
		if watched {
			s.poke()
		}
	case store.ChannelMachineStatus:
		id, status, ok := strings.Cut(payload, ":")
		if !ok {
			return
		}
		s.mu.Lock()
		if len(s.statuses) < 10000 {
			s.statuses = append(s.statuses, StatusChange{MachineID: id, Status: status, At: time.Now().UTC()})
		}
		_, watched := s.customers[id]
		if watched {
			s.pushQ[id] = struct{}{}
		}
		s.mu.Unlock()
		if watched {
			s.poke()
		}
	case store.ChannelAlertEvents:
		id, _, _ := strings.Cut(payload, ":")
		s.mu.Lock()
		if len(s.alertIDs) < 10000 {
			s.alertIDs[id] = struct{}{}
		}
		s.mu.Unlock()
	case store.ChannelAlertRules:
		s.RulesChanged()
	case store.ChannelTaskLogs:
		s.wakeFollowers(payload)
	}
}

// ---- customer frames ------------------------------------------------------

// pusher sends the customers' frames of the machines queued by dispatch.
func (s *Service) pusher() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		queue := s.pushQ
		s.pushQ = map[string]struct{}{}
		s.mu.Unlock()
		for machine := range queue {
			if err := s.pushCustomers(machine); err != nil {
				if s.stopOnClosedStore(err) {
					return
				}
				slog.Error("live monitoring: unable to push a machine's figures", "machine", machine, "err", err)
			}
		}
	}
}

// pushCustomers loads the machine's figures once per customer watching it
// (normally one: its tenant) and sends them; the sockets of a customer who
// no longer leases it are closed.
func (s *Service) pushCustomers(machine string) error {
	s.mu.Lock()
	byTenant := map[string][]peer{}
	for c := range s.customers[machine] {
		tenant := c.principal().TenantID
		byTenant[tenant] = append(byTenant[tenant], c)
	}
	s.mu.Unlock()
	for _, clients := range byTenant {
		pm, err := s.customerFrame(clients[0].principal(), machine)
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
func (s *Service) customerFrame(p *caller.Principal, machine string) (*websocket.PreparedMessage, error) {
	ctx, cancel := context.WithTimeout(caller.WithPrincipal(s.ctx, p), 10*time.Second)
	defer cancel()
	data, err := s.Monitoring.CustomerRealtime(ctx, monitoring.MachineInput{MachineID: machine})
	if err != nil {
		return nil, err
	}
	return prepare(CustomerFrame{Type: FrameRealtime, At: time.Now().UTC(), Data: data})
}

func prepare(v any) (*websocket.PreparedMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}

// ---- admin frames ------------------------------------------------------------

func (s *Service) ticker() {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.tick(); err != nil {
			if s.stopOnClosedStore(err) {
				return
			}
			slog.Error("live monitoring: unable to send the admin snapshot", "err", err)
		}
		if time.Since(lastCheck) >= s.Tuning.SessionCheck {
			lastCheck = time.Now()
			if err := s.checkSessions(); err != nil {
				if s.stopOnClosedStore(err) {
					return
				}
				slog.Error("live monitoring: unable to check sessions", "err", err)
			}
		}
	}
}

// tick sends the admins their snapshot.
func (s *Service) tick() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.Every+10*time.Second)
	defer cancel()
	s.mu.Lock()
	admins := len(s.admins)
	if admins == 0 {
		// nobody to tell: the next admin starts from a full snapshot anyway
		s.statuses, s.alertIDs = nil, map[string]struct{}{}
	}
	s.mu.Unlock()
	if admins == 0 {
		return nil
	}
	return s.broadcastSnapshot(ctx)
}

// snapshot builds an admin frame of every machine. With changes it carries
// (and takes) the status and alert changes gathered since the previous
// frame; without, it carries none and leaves them for the next.
func (s *Service) snapshot(ctx context.Context, changes bool) (*AdminFrame, error) {
	machines, err := s.Store.AllRealtime(ctx, store.RealtimeFilter{})
	if err != nil {
		return nil, err
	}
	f := &AdminFrame{Type: FrameSnapshot, Machines: machines, Statuses: []StatusChange{}, Alerts: []store.Alert{}}
	var ids []string
	if changes {
		s.mu.Lock()
		if s.statuses != nil {
			f.Statuses = s.statuses
		}
		s.statuses = nil
		ids = make([]string, 0, len(s.alertIDs))
		for id := range s.alertIDs {
			ids = append(ids, id)
		}
		s.alertIDs = map[string]struct{}{}
		s.mu.Unlock()
	}
	if len(ids) > 0 {
		if f.Alerts, err = s.Store.AlertsByID(ctx, ids); err != nil {
			return nil, err
		}
	}
	if f.OpenAlerts, err = s.Store.CountOpenAlerts(ctx); err != nil {
		return nil, err
	}
	f.At = time.Now().UTC()
	return f, nil
}

// snapshotFrame builds a snapshot (see snapshot) and keeps it as the last
// frame; one at a time, so admins connecting together share one query.
// With recent set, a last frame younger than KeepFrame is given instead.
func (s *Service) snapshotFrame(ctx context.Context, changes, recent bool) (*websocket.PreparedMessage, error) {
	s.building.Lock()
	defer s.building.Unlock()
	if recent {
		s.mu.Lock()
		pm, at := s.lastFrame, s.lastAt
		s.mu.Unlock()
		if pm != nil && time.Since(at) < s.Tuning.KeepFrame {
			return pm, nil
		}
	}
	f, err := s.snapshot(ctx, changes)
	if err != nil {
		return nil, err
	}
	pm, err := prepare(f)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lastFrame, s.lastAt = pm, time.Now()
	s.mu.Unlock()
	return pm, nil
}

// broadcastSnapshot builds one snapshot, with the changes since the
// previous one, and queues it to every admin.
func (s *Service) broadcastSnapshot(ctx context.Context) error {
	pm, err := s.snapshotFrame(ctx, true, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	admins := make([]peer, 0, len(s.admins))
	for c := range s.admins {
		admins = append(admins, c)
	}
	s.mu.Unlock()
	for _, c := range admins {
		c.offer(pm)
	}
	return nil
}

// firstSnapshot is what a new admin gets at once: the last frame when it is
// recent, else a fresh one (which does not take the pending changes).
func (s *Service) firstSnapshot(ctx context.Context) (*websocket.PreparedMessage, error) {
	return s.snapshotFrame(ctx, false, true)
}

// checkSessions closes the sockets whose session ended (logout, password
// change, account or customer disabled) since they connected.
func (s *Service) checkSessions() error {
	s.mu.Lock()
	bySession := map[string][]peer{}
	for c := range s.admins {
		sid := c.principal().SessionID
		bySession[sid] = append(bySession[sid], c)
	}
	for _, set := range s.customers {
		for c := range set {
			sid := c.principal().SessionID
			bySession[sid] = append(bySession[sid], c)
		}
	}
	for _, set := range s.followers {
		for f := range set {
			sid := f.c.principal().SessionID
			bySession[sid] = append(bySession[sid], f.c)
		}
	}
	s.mu.Unlock()
	for sid, clients := range bySession {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		sp, err := s.Store.LoadPrincipal(ctx, sid)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, c := range clients {
			if p := c.principal(); err != nil || !accounts.SessionLive(sp) || sp.Role != p.Role || sp.TenantID != p.TenantID {
				c.kick(CloseSessionEnded, "session ended: log in again")
			}
		}
	}
	return nil
}

// ---- handshakes ----------------------------------------------------------

// Authenticator finds the caller of a handshake (a one-time ticket, or a
// bearer token), with its session still live and its account active.
type Authenticator func(r *http.Request) (*caller.Principal, error)

// authenticate checks the upgrade, the origin, the caller and its role; it
// answers the refusal itself.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request, auth Authenticator, roles []string) *caller.Principal {
	if !websocket.IsWebSocketUpgrade(r) {
		s.writeError(w, r, apperr.New(apperr.Invalid, "live.upgradeRequired", "a WebSocket upgrade is required"))
		return nil
	}
	if !s.checkOrigin(r) {
		s.writeError(w, r, apperr.New(apperr.Forbidden, "live.originNotAllowed", "origin not allowed"))
		return nil
	}
	p, err := auth(r)
	if err != nil {
		if de, ok := apperr.As(err); ok && de.Kind != apperr.Unauthorized {
			de = apperr.New(apperr.Unauthorized, de.Code, de.Message, de.Params)
			err = de
		}
		s.writeError(w, r, err)
		return nil
	}
	for _, role := range roles {
		if p.Role == role {
			return p
		}
	}
	s.writeError(w, r, apperr.New(apperr.Forbidden, apperr.CodeForbidden, "forbidden"))
	return nil
}

// checkOrigin accepts clients that send no Origin (not a browser), the
// console's own origin (PUBLIC_URL, or the Host the request came to), and
// loopback origins when the api itself is configured on loopback (the Vite
// dev server proxies /ws from another port).
func (s *Service) checkOrigin(r *http.Request) bool {
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
	pub, _ := url.Parse(s.PublicURL)
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

type AdminInput struct {
	Authenticate Authenticator
	Roles        []string // the roles allowed
}

// ServeAdmin serves an admin's socket until it ends: a snapshot at once,
// then one every sample interval.
func (s *Service) ServeAdmin(w http.ResponseWriter, r *http.Request, in AdminInput) {
	p := s.authenticate(w, r, in.Authenticate, in.Roles)
	if p == nil {
		return
	}
	first, err := s.firstSnapshot(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := s.upgrade(w, r, p, "")
	if c == nil {
		return
	}
	s.join(c, "")
	c.offer(first)
	c.run(s.Tuning)
	s.leave(c, "")
}

type CustomerInput struct {
	Authenticate Authenticator
	Roles        []string
	MachineID    string // a UUID
}

// ServeCustomer serves a customer's socket on a leased machine until it
// ends (or the lease does: 4403).
func (s *Service) ServeCustomer(w http.ResponseWriter, r *http.Request, in CustomerInput) {
	p := s.authenticate(w, r, in.Authenticate, in.Roles)
	if p == nil {
		return
	}
	machine := in.MachineID
	first, err := s.customerFrame(p, machine)
	if isNotFound(err) {
		s.writeError(w, r, apperr.New(apperr.NotFound, "live.machineNotLeased", "machine not found"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := s.upgrade(w, r, p, machine)
	if c == nil {
		return
	}
	s.join(c, machine)
	c.offer(first)
	c.run(s.Tuning)
	s.leave(c, machine)
}

// join adds a socket to the admins (machine empty) or to the customers
// watching machine.
func (s *Service) join(c peer, machine string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if machine == "" {
		s.admins[c] = struct{}{}
		return
	}
	set := s.customers[machine]
	if set == nil {
		set = map[peer]struct{}{}
		s.customers[machine] = set
	}
	set[c] = struct{}{}
}

// leave takes back what join did.
func (s *Service) leave(c peer, machine string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if machine == "" {
		delete(s.admins, c)
		return
	}
	if set, ok := s.customers[machine]; ok {
		delete(set, c)
		if len(set) == 0 {
			delete(s.customers, machine)
		}
	}
}

func (s *Service) upgrade(w http.ResponseWriter, r *http.Request, p *caller.Principal, machine string) *client {
	if s.ctx.Err() != nil {
		s.writeError(w, r, apperr.New(apperr.Unavailable, "live.shuttingDown", "shutting down"))
		return nil
	}
	conn, err := s.up.Upgrade(hijacker(w), r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	if s.Tuning.SendBuffer > 0 {
		if tc, ok := conn.NetConn().(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(s.Tuning.SendBuffer)
		}
	}
	return &client{conn: conn, p: p, machine: machine, send: make(chan *websocket.PreparedMessage, s.Tuning.SendQueue), done: make(chan struct{})}
}
