package commands

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeAPI is the api side of the host channel, with the semantics of
// internal/hostchan: a poll holds until there is an open command the agent
// is not running, a secret is handed out once, a completed command's
// second report is refused (409), a rotation's report must carry the new
// key. Every request is also sent on events, for the tests to wait on.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	events chan event

	mu      sync.Mutex
	cmds    []*fakeCmd
	polls   [][]string      // the running list of every poll, as it arrived
	valid   map[string]bool // agent tokens
	changed chan struct{}   // closed and replaced at every change
}

type fakeCmd struct {
	agentproto.Command
	secret       string
	fetched      bool
	claimSecret  bool // deliver it with hasSecret even though it was fetched
	secretCalls  int
	cancel       bool // heartbeats answer cancel
	failReports  int  // answer 503 to this many reports
	refuseReport int  // answer this status to every report (409, 404); the command is closed
	holdReports  bool // answer 503 to reports while set
	closed       bool // refused: not delivered any more
	result       *agentproto.ResultRequest
	resultToken  string
	reports      int // reports received, accepted or not
}

type event struct {
	op, id, token string
	status        int
	poll          agentproto.PollRequest
	progress      string
	result        agentproto.ResultRequest
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, events: make(chan event, 100000), valid: map[string]bool{"old": true}, changed: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) client() *pusher.Client {
	c := &pusher.Client{BaseURL: f.srv.URL, Timeout: 10 * time.Second}
	c.SetToken("old")
	return c
}

// add issues commands, in order.
func (f *fakeAPI) add(cmds ...*fakeCmd) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cmds {
		if c.HeartbeatSeconds == 0 {
			c.HeartbeatSeconds = 1
		}
		c.HasSecret = c.secret != ""
		f.cmds = append(f.cmds, c)
	}
	f.changeLocked()
}

func (f *fakeAPI) changeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) with(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeAPI) find(id string) *fakeCmd {
	for _, c := range f.cmds {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// waitEvent waits for the first event (from now on) that matches.
func (f *fakeAPI) waitEvent(t *testing.T, what string, match func(event) bool) event {
	t.Helper()
	deadline := time.After(30 * time.Second) // a hang, not a timing assumption
	for {
		select {
		case ev := <-f.events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

// until waits until cond (checked under the api's lock) holds; every
// request the api answers wakes it.
func (f *fakeAPI) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second) // a hang, not a timing assumption
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.events:
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

// waitReport waits until the api accepted the command's result.
func (f *fakeAPI) waitReport(t *testing.T, c *fakeCmd) agentproto.ResultRequest {
	t.Helper()
	f.until(t, "accepted report of "+c.Kind+" "+c.ID, func() bool { return c.result != nil })
	f.mu.Lock()
	defer f.mu.Unlock()
	return *c.result
}

func reply(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]any{"code": 0, "message": "ok", "data": data, "traceId": "t"}
	if code >= 400 {
		body = map[string]any{"code": code, "message": http.StatusText(code), "traceId": "t"}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	ev := event{token: token}
	defer func() { f.events <- ev }()
	f.mu.Lock()
	ok := f.valid[token]
	f.mu.Unlock()
	if !ok {
		ev.op, ev.status = "unauthorized", 401
		reply(w, 401, nil)
		return
	}
	if r.URL.Path == agentproto.PathCommandsPoll {
		ev.op = "poll"
		if err := json.NewDecoder(r.Body).Decode(&ev.poll); err != nil || ev.poll.Running == nil {
			f.t.Errorf("poll body: %v (running %v)", err, ev.poll.Running)
		}
		f.mu.Lock()
		f.polls = append(f.polls, ev.poll.Running)
		f.mu.Unlock()
		f.events <- event{op: "poll arrived", token: token, poll: ev.poll}
		ev.status = f.poll(w, r, ev.poll)
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/api/agent/commands/")
	id, op, _ := strings.Cut(rest, "/")
	ev.op, ev.id = op, id
	if !found || r.Method != http.MethodPost {
		ev.status = 404
		reply(w, 404, nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		ev.status = 404
		reply(w, 404, nil)
		return
	}
	switch op {
	case "secret":
		c.secretCalls++
		if c.secret == "" || c.fetched || c.result != nil {
			ev.status = 403
			reply(w, 403, nil)
			return
		}
		c.fetched = true
		if c.Kind == agentproto.KindRotateAgentKey {
			f.valid[c.secret] = true // pending until the report
		}
		ev.status = 200
		reply(w, 200, agentproto.SecretResponse{Secret: c.secret})
	case "heartbeat":
		var req agentproto.HeartbeatRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		ev.progress = string(req.Progress)
		ev.status = 200
		reply(w, 200, agentproto.HeartbeatResponse{Cancel: c.cancel || c.result != nil})
	case "result":
		_ = json.NewDecoder(r.Body).Decode(&ev.result)
		c.reports++
		f.changeLocked() // wakes the held poll: it must not bring the command back
		switch {
		case c.refuseReport != 0:
			ev.status = c.refuseReport
			c.closed = true
		case c.holdReports:
			ev.status = 503
		case c.failReports > 0:
			c.failReports--
			ev.status = 503
		case c.result != nil:
			ev.status = 409
		default:
			ev.status = 200
			res := ev.result
			c.result, c.resultToken = &res, token
			if c.Kind == agentproto.KindRotateAgentKey && res.Status == agentproto.ResultSucceeded && token == c.secret {
				for tok := range f.valid {
					f.valid[tok] = tok == c.secret
				}
			}
		}
		reply(w, ev.status, struct{}{})
	default:
		ev.status = 404
		reply(w, 404, nil)
	}
}

func (f *fakeAPI) poll(w http.ResponseWriter, r *http.Request, req agentproto.PollRequest) int {
	wait := time.After(time.Duration(req.WaitSeconds) * time.Second)
	for {
		f.mu.Lock()
		var out []agentproto.Command
		for _, c := range f.cmds {
			if c.result == nil && !c.closed && !slices.Contains(req.Running, c.ID) {
				cmd := c.Command
				cmd.HasSecret = c.secret != "" && (!c.fetched || c.claimSecret)
				out = append(out, cmd)
			}
		}
		changed := f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			reply(w, 200, agentproto.PollResponse{Commands: out})
			return 200
		}
		select {
		case <-changed:
		case <-wait:
			reply(w, 200, agentproto.PollResponse{Commands: []agentproto.Command{}})
			return 200
		case <-r.Context().Done():
			return 0
		}
	}
}

var idSeq struct {
	sync.Mutex
	n int
}

// newID makes a command ID (the api's are UUIDs).
func newID() string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", idSeq.n)
}
