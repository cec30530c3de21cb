package commands

import (
	"bytes"

	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// startKinds runs a loop with the real handlers; SetToken switches its client.
func startKinds(t *testing.T, f *fakeAPI, k *Kinds) *agent {
	a := &agent{client: f.client(), done: make(chan error, 1), forgotten: map[string]int{}, forgot: make(chan struct{}, 1)}
	if k.SetToken == nil {
		k.SetToken = a.client.SetToken
	}
	if k.Log == nil {
		k.Log = quiet()
	}
	return a.start(t, f, k.Handlers())
}

// tokenStore is the state file's stand-in.
type tokenStore struct {
	mu    sync.Mutex
	saved string
	fail  bool
}

func (s *tokenStore) save(tok string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.saved = tok
	return nil
}

// The agent keeps the new key, reports the rotation with it, and uses it
// from then on (the api accepts only the new key after the report).
func TestRotateAgentKey(t *testing.T) {
	f := newFakeAPI(t)
	rot := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindRotateAgentKey, Serial: "agent"}, secret: "new"}
	f.add(rot)
	store := &tokenStore{}
	startKinds(t, f, &Kinds{SaveToken: store.save})
	if r := f.waitReport(t, rot); r.Status != agentproto.ResultSucceeded {
		t.Fatalf("report %+v", r)
	}
	f.with(func() {
		if rot.resultToken != "new" {
			t.Errorf("reported with %q", rot.resultToken)
		}
	})
	store.mu.Lock()
	if store.saved != "new" {
		t.Errorf("saved %q", store.saved)
	}
	store.mu.Unlock()
	ping := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindPing, Args: args(agentproto.PingArgs{Seq: 7})}}
	f.add(ping)
	if r := f.waitReport(t, ping); r.Status != agentproto.ResultSucceeded || string(r.Result) != `{"seq":7}` {
		t.Errorf("ping after the rotation: %+v", r)
	}
	f.with(func() {
		if ping.resultToken != "new" {
			t.Errorf("ping reported with %q", ping.resultToken)
		}
	})
}

// A key handed out before (the agent switched, then restarted before its
// report) is reported with the key in use; a key that cannot be kept is a
// failure reported with the old key, which stays in use.
func TestRotateAgentKeyEdgeCases(t *testing.T) {
	f := newFakeAPI(t)
	again := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindRotateAgentKey, Serial: "agent"}, secret: "new1", fetched: true, claimSecret: true}
	unsaved := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindRotateAgentKey, Serial: "agent"}, secret: "new2"}
	f.add(again, unsaved)
	store := &tokenStore{fail: true}
	a := startKinds(t, f, &Kinds{SaveToken: store.save})
	if r := f.waitReport(t, again); r.Status != agentproto.ResultSucceeded {
		t.Errorf("again: %+v", r)
	}
	r := f.waitReport(t, unsaved)
	if r.Status != agentproto.ResultFailed || r.Error.Type != "StateNotSaved" || r.Error.Permanent {
		t.Errorf("unsaved: %+v %+v", r, r.Error)
	}
	f.with(func() {
		if again.resultToken != "old" || unsaved.resultToken != "old" {
			t.Errorf("reported with %q and %q", again.resultToken, unsaved.resultToken)
		}
	})
	a.waitForgotten(t, unsaved.ID)
	ping := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindPing, Args: args(agentproto.PingArgs{Seq: 1})}}
	f.add(ping)
	f.waitReport(t, ping)
	f.with(func() {
		if ping.resultToken != "old" {
			t.Errorf("ping with %q", ping.resultToken)
		}
	})
}

// Simulated host ops answer every command without touching the host and say so.
func TestSimulatedKinds(t *testing.T) {
	f := newFakeAPI(t)
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGSbWZ0z6WRr6T8rzb1kS2y5d1WZTvG0d3cB3N3mQ0eR alice"
	stop := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindStopTenant, Serial: "login",
		Args: args(agentproto.StopTenantArgs{TenantID: "t1", AllocationID: "a1", User: "root"})}}
	pw := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindSetPassword, Serial: "login",
		Args: args(agentproto.SetPasswordArgs{User: "root"})}, secret: "pw-never-logged"}
	keys := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindSyncSSHKeys, Serial: "login",
		Args: args(agentproto.SyncSSHKeysArgs{User: "root", Keys: []string{key}, Version: 2})}}
	badKeys := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindSyncSSHKeys, Serial: "login",
		Args: args(agentproto.SyncSSHKeysArgs{User: "root", Keys: []string{"not a key"}})}}
	unknown := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: "reformat"}}
	f.add(stop, pw, keys, badKeys, unknown)
	var logs bytes.Buffer
	var logMu sync.Mutex
	startKinds(t, f, &Kinds{Simulated: true, SaveToken: (&tokenStore{}).save, Log: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))})
	for _, tc := range []struct {
		c    *fakeCmd
		want string
	}{
		{stop, `{"containers":0,"processes":0,"simulated":true}`},
		{pw, `{"user":"root","simulated":true}`},
		{keys, `{"user":"root","keys":1,"file":"","simulated":true}`},
	} {
		if r := f.waitReport(t, tc.c); r.Status != agentproto.ResultSucceeded || string(r.Result) != tc.want {
			t.Errorf("%s: %+v (%s)", tc.c.Kind, r, r.Result)
		}
	}
	if r := f.waitReport(t, badKeys); r.Status != agentproto.ResultFailed || r.Error.Type != "InvalidKey" || !r.Error.Permanent {
		t.Errorf("bad keys: %+v", r.Error)
	}
	if r := f.waitReport(t, unknown); r.Status != agentproto.ResultFailed || r.Error.Type != "UnknownKind" || !r.Error.Permanent {
		t.Errorf("unknown: %+v", r.Error)
	}
	f.with(func() {
		if pw.secretCalls != 1 {
			t.Errorf("secret fetched %d times", pw.secretCalls)
		}
	})
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), "pw-never-logged") || !strings.Contains(logs.String(), "SIMULATED host ops") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// The real set_password applies the command's secret with chpasswd and
// never logs it.
func TestSetPasswordKind(t *testing.T) {
	dir := t.TempDir()
	stdin := filepath.Join(dir, "stdin")
	chpasswd := filepath.Join(dir, "chpasswd")
	if err := os.WriteFile(chpasswd, []byte("#!/bin/sh\ncat > '"+stdin+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFakeAPI(t)
	pw := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindSetPassword, Serial: "login",
		Args: args(agentproto.SetPasswordArgs{User: "root"})}, secret: "Tr0ub4dor&3"}
	// Delivered again after its secret was fetched (an agent restart): no secret, a retryable failure.
	lost := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindSetPassword, Serial: "login",
		Args: args(agentproto.SetPasswordArgs{User: "root"})}, secret: "gone", fetched: true}
	f.add(pw, lost)
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	startKinds(t, f, &Kinds{Ops: &hostops.Ops{Chpasswd: chpasswd, Log: log}, SaveToken: (&tokenStore{}).save, Log: log})
	if r := f.waitReport(t, pw); r.Status != agentproto.ResultSucceeded || string(r.Result) != `{"user":"root"}` {
		t.Errorf("report %+v", r)
	}
	if b, _ := os.ReadFile(stdin); string(b) != "root:Tr0ub4dor&3\n" {
		t.Errorf("chpasswd got %q", b)
	}
	r := f.waitReport(t, lost)
	if r.Status != agentproto.ResultFailed || r.Error.Type != "SecretUnavailable" || r.Error.Permanent {
		t.Errorf("lost secret: %+v", r.Error)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), "Tr0ub4dor") {
		t.Errorf("the password is in the log:\n%s", logs.String())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
