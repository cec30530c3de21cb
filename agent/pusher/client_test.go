package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func TestClientRegisterAndCalls(t *testing.T) {
	var inventories int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case agentproto.PathRegister:
			var req agentproto.RegisterRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			if r.Header.Get("Authorization") != "" {
				t.Errorf("register carries %q", r.Header.Get("Authorization"))
			}
			if req.BootstrapToken != "rga_boot" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"code":401,"message":"invalid bootstrap token","traceId":"x"}`))
				return
			}
			if req.MachineID != "m-1" || req.Inventory.GPUSource != "simulated" {
				t.Errorf("register request %+v", req)
			}
			// The api wraps every answer in its envelope.
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "traceId": "t", "data": agentproto.RegisterResponse{
				AgentToken: "rgt_agent", MachineID: "m-1", SampleInterval: 5}})
		case agentproto.PathInventory:
			if r.Header.Get("Authorization") != "Bearer rgt_agent" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			inventories++
			w.WriteHeader(http.StatusNoContent)
		case "/api/agent/commands/c%2F1/secret":
			if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer rgt_agent" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			// A bare body (no envelope) is understood too.
			_ = json.NewEncoder(w).Encode(agentproto.SecretResponse{Secret: "s3cret"})
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":404,"message":"no such thing"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{BaseURL: srv.URL + "/"}

	_, err := c.Register(ctx, agentproto.RegisterRequest{MachineID: "m-1", BootstrapToken: "used"})
	if !errors.Is(err, ErrBootstrapRejected) || err.Error() != "bootstrap token invalid or already used: issue a new one in the console" {
		t.Fatalf("register with a bad token: %v", err)
	}
	if err := c.PostInventory(ctx, agentproto.Inventory{}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("inventory before register: %v", err)
	}
	resp, err := c.Register(ctx, agentproto.RegisterRequest{MachineID: "m-1", BootstrapToken: "rga_boot",
		Inventory: agentproto.Inventory{GPUSource: "simulated"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.AgentToken != "rgt_agent" || resp.SampleInterval.Std().Seconds() != 5 {
		t.Errorf("register = %+v", resp)
	}
	if err := c.PostInventory(ctx, agentproto.Inventory{}); err != nil || inventories != 1 {
		t.Fatalf("inventory: %v (%d)", err, inventories)
	}
	secret, err := c.CommandSecret(ctx, "c/1")
	if err != nil || secret != "s3cret" {
		t.Fatalf("secret = %q, %v", secret, err)
	}
	c.BaseURL = srv.URL + "/nothing"
	_, err = c.CommandSecret(ctx, "c/1")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Message != "no such thing" || Retryable(err) {
		t.Errorf("404: %v", err)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("dial tcp: connection refused"), true},
		{&StatusError{Status: 503}, true},
		{&StatusError{Status: 500}, true},
		{&StatusError{Status: 429}, true},
		{&StatusError{Status: 404}, false},
		{&StatusError{Status: 422}, false},
		{ErrUnauthorized, false},
		{ErrBootstrapRejected, false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v", tc.err, got)
		}
	}
}

// The command calls: paths, bodies, and a poll that may take longer than
// the client's timeout by the wait it asks for.
func TestClientCommandCalls(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
		reply := func(data any) {
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "message": "ok", "traceId": "t", "data": data})
		}
		switch r.URL.Path {
		case agentproto.PathCommandsPoll:
			<-time.After(1500 * time.Millisecond) // held longer than Timeout; within wait + Timeout
			reply(agentproto.PollResponse{Commands: []agentproto.Command{{ID: "c1", Kind: "ping", HeartbeatSeconds: 5}}})
		case "/api/agent/commands/c1/heartbeat":
			reply(agentproto.HeartbeatResponse{Cancel: true})
		case "/api/agent/commands/c1/result":
			reply(struct{}{})
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Timeout: time.Second}
	c.SetToken("tok")
	ctx := context.Background()
	cmds, err := c.PollCommands(ctx, nil, 5*time.Second)
	if err != nil || len(cmds) != 1 || cmds[0].ID != "c1" || cmds[0].HeartbeatSeconds != 5 {
		t.Fatalf("poll = %+v, %v", cmds, err)
	}
	cancel, err := c.CommandHeartbeat(ctx, "c1", json.RawMessage(`{"n":1}`))
	if err != nil || !cancel {
		t.Fatalf("heartbeat = %v, %v", cancel, err)
	}
	if err := c.CommandResult(ctx, "c1", agentproto.ResultRequest{Status: agentproto.ResultSucceeded, Result: json.RawMessage(`{"seq":1}`)}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /api/agent/commands/poll {"running":[],"waitSeconds":5}`,
		`POST /api/agent/commands/c1/heartbeat {"progress":{"n":1}}`,
		`POST /api/agent/commands/c1/result {"status":"succeeded","result":{"seq":1}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A 401 to a call sent with a token the client has since replaced (a key
// rotation in between) is worth retrying, not the end of the agent.
func TestClientStaleToken401(t *testing.T) {
	c := &Client{}
	arrived, answer := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer old" {
			close(arrived)
			<-answer
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c.BaseURL = srv.URL
	c.SetToken("old")
	done := make(chan error, 1)
	go func() { done <- c.PostInventory(context.Background(), agentproto.Inventory{}) }()
	<-arrived
	c.SetToken("new")
	close(answer)
	err := <-done
	if errors.Is(err, ErrUnauthorized) || !Retryable(err) {
		t.Errorf("stale 401: %v", err)
	}
	if err := c.PostInventory(context.Background(), agentproto.Inventory{}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("401 with the current token: %v", err)
	}
}
