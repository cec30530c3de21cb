package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func TestClientRegisterAndCalls(t *testing.T) {
	var inventories int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
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
				AgentToken: "rgt_agent", MachineID: "m-1", SampleInterval: 5, TemporalAddress: "127.0.0.1:7233", TemporalNS: "default", TaskQueue: "host.m-1"}})
		case agentproto.PathInventory:
			if r.Header.Get("Authorization") != "Bearer rgt_agent" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			inventories++
			w.WriteHeader(http.StatusNoContent)
		case agentproto.PathPassword:
			if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer rgt_agent" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			// A bare body (no envelope) is understood too.
			_ = json.NewEncoder(w).Encode(agentproto.PasswordResponse{User: "ubuntu", Password: "s3cret"})
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
	if resp.AgentToken != "rgt_agent" || resp.SampleInterval.Std().Seconds() != 5 || resp.TaskQueue != "host.m-1" {
		t.Errorf("register = %+v", resp)
	}
	if err := c.PostInventory(ctx, agentproto.Inventory{}); err != nil || inventories != 1 {
		t.Fatalf("inventory: %v (%d)", err, inventories)
	}
	pw, err := c.SSHPassword(ctx)
	if err != nil || pw.User != "ubuntu" || pw.Password != "s3cret" {
		t.Fatalf("password = %+v, %v", pw, err)
	}
	c.BaseURL = srv.URL + "/nothing"
	_, err = c.SSHPassword(ctx)
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
