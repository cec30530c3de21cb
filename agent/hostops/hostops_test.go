package hostops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeDocker serves the few Docker Engine API endpoints the activity calls.
type fakeDocker struct {
	mu         sync.Mutex
	containers []map[string]any // as /containers/json lists them
	ops        []string
	filter     string
}

var versioned = regexp.MustCompile(`^/v[0-9.]+`)

func (f *fakeDocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := versioned.ReplaceAllString(r.URL.Path, "")
	w.Header().Set("Api-Version", "1.47")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "/_ping":
		_, _ = w.Write([]byte("OK"))
	case r.Method == http.MethodGet && path == "/containers/json":
		if r.URL.Query().Get("all") != "1" {
			http.Error(w, `{"message":"want all=1"}`, http.StatusBadRequest)
			return
		}
		f.filter = r.URL.Query().Get("filters")
		var list []map[string]any
		for _, c := range f.containers {
			if strings.Contains(f.filter, fmt.Sprintf(`"%s=%s"`, LabelTenant, c["Labels"].(map[string]string)[LabelTenant])) {
				list = append(list, c)
			}
		}
		_ = json.NewEncoder(w).Encode(list)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/stop"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/stop")
		f.ops = append(f.ops, "stop "+id+" t="+r.URL.Query().Get("t"))
		if id == "gone" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such container: gone"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/containers/"):
		id := strings.TrimPrefix(path, "/containers/")
		f.ops = append(f.ops, "remove "+id+" force="+r.URL.Query().Get("force"))
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"unexpected ` + r.Method + " " + path + `"}`))
	}
}

func ctr(id, tenant, state string) map[string]any {
	return map[string]any{"Id": id, "Names": []string{"/" + id}, "State": state,
		"Labels": map[string]string{LabelTenant: tenant, "remotegpu.allocation": "a1"}}
}

func activityEnv(t *testing.T, ops *Ops) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	ops.Register(env)
	return env
}

func TestStopTenantContainers(t *testing.T) {
	fd := &fakeDocker{containers: []map[string]any{
		ctr("run1", "t1", "running"), ctr("done1", "t1", "exited"), ctr("gone", "t1", "running"), ctr("other", "t2", "running"),
	}}
	srv := httptest.NewServer(fd)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	dc, err := NewDocker("tcp://" + u.Host)
	if err != nil {
		t.Fatal(err)
	}
	ops := &Ops{MachineID: "m1", Docker: dc}
	env := activityEnv(t, ops)

	val, err := env.ExecuteActivity(NameStopTenantContainers, StopTenantContainersInput{
		MachineID: "m1", TenantID: "t1", AllocationID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	var res StopTenantContainersResult
	if err := val.Get(&res); err != nil || res.Stopped != 3 {
		t.Fatalf("result %+v, %v", res, err)
	}
	fd.mu.Lock()
	ops1 := strings.Join(slices.Sorted(slices.Values(fd.ops)), "\n")
	filter := fd.filter
	fd.mu.Unlock()
	want := strings.Join(slices.Sorted(slices.Values([]string{"stop run1 t=30", "remove run1 force=1", "remove done1 force=1", "stop gone t=30", "remove gone force=1"})), "\n")
	if ops1 != want {
		t.Errorf("docker calls:\n%s\nwant:\n%s", ops1, want)
	}
	if !strings.Contains(filter, `"remotegpu.tenant=t1"`) {
		t.Errorf("filter %s", filter)
	}

	// Nothing to stop.
	val, err = env.ExecuteActivity(NameStopTenantContainers, StopTenantContainersInput{MachineID: "m1", TenantID: "t9"})
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&res); err != nil || res.Stopped != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}

	// Another machine's request is refused.
	_, err = env.ExecuteActivity(NameStopTenantContainers, StopTenantContainersInput{MachineID: "m2", TenantID: "t1"})
	assertNonRetryable(t, err, "not m2")
}

func TestStopWithoutDocker(t *testing.T) {
	dc, err := NewDocker("unix://" + filepath.Join(t.TempDir(), "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	env := activityEnv(t, &Ops{Docker: dc, DockerHost: "unix:///nowhere"})
	_, err = env.ExecuteActivity(NameStopTenantContainers, StopTenantContainersInput{TenantID: "t1"})
	assertNonRetryable(t, err, "Docker daemon is not reachable")
}

func assertNonRetryable(t *testing.T, err error, contains string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || !strings.Contains(err.Error(), contains) {
		t.Errorf("want a non-retryable error containing %q, got %v", contains, err)
	}
}

type fakePasswords struct {
	resp agentproto.PasswordResponse
	err  error
}

func (f fakePasswords) SSHPassword(context.Context) (agentproto.PasswordResponse, error) {
	return f.resp, f.err
}

// fakeChpasswd writes a script that records its standard input (or fails).
func fakeChpasswd(t *testing.T, fail bool) (cmd, stdin string) {
	t.Helper()
	dir := t.TempDir()
	stdin = filepath.Join(dir, "stdin")
	script := "#!/bin/sh\ncat > '" + stdin + "'\n"
	if fail {
		script += "echo \"chpasswd: line 1: user 'ghost' does not exist\" >&2\nexit 1\n"
	}
	cmd = filepath.Join(dir, "chpasswd")
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin
}

func TestSetSSHPassword(t *testing.T) {
	cmd, stdin := fakeChpasswd(t, false)
	ops := &Ops{MachineID: "m1", Chpasswd: cmd, SSHUser: "ubuntu",
		Passwords: fakePasswords{resp: agentproto.PasswordResponse{User: "ubuntu", Password: "Zq9:x!y z"}}}
	env := activityEnv(t, ops)
	val, err := env.ExecuteActivity(NameSetSSHPassword, SetSSHPasswordInput{MachineID: "m1", User: "ubuntu"})
	if err != nil {
		t.Fatal(err)
	}
	var res SetSSHPasswordResult
	if err := val.Get(&res); err != nil || res.User != "ubuntu" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(stdin); string(b) != "ubuntu:Zq9:x!y z\n" {
		t.Errorf("chpasswd got %q", b)
	}
}

func TestSetSSHPasswordRefusals(t *testing.T) {
	okCmd, _ := fakeChpasswd(t, false)
	failCmd, _ := fakeChpasswd(t, true)
	login := func(user, pw string) fakePasswords {
		return fakePasswords{resp: agentproto.PasswordResponse{User: user, Password: pw}}
	}
	for _, tc := range []struct {
		name     string
		ops      Ops
		contains string
		retry    bool
	}{
		{"other user than configured", Ops{SSHUser: "ubuntu", Chpasswd: okCmd, Passwords: login("admin", "x")}, `manages only "ubuntu"`, false},
		{"root without opting in", Ops{Chpasswd: okCmd, Passwords: login("root", "x")}, "root", false},
		{"bad user name", Ops{Chpasswd: okCmd, Passwords: login("a:b", "x")}, "invalid SSH user", false},
		{"multi-line password", Ops{Chpasswd: okCmd, Passwords: login("ubuntu", "a\nroot:b")}, "multi-line", false},
		{"chpasswd fails", Ops{Chpasswd: failCmd, Passwords: login("ghost", "pw-never-shown")}, "does not exist", false},
		{"no chpasswd", Ops{Chpasswd: "/nonexistent/chpasswd", Passwords: login("ubuntu", "x")}, "chpasswd failed", false},
		{"token revoked", Ops{Chpasswd: okCmd, Passwords: fakePasswords{err: pusher.ErrUnauthorized}}, "rejected the agent token", false},
		{"api down", Ops{Chpasswd: okCmd, Passwords: fakePasswords{err: &pusher.StatusError{Op: "get SSH password", Status: 503}}}, "503", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := tc.ops
			env := activityEnv(t, &ops)
			_, err := env.ExecuteActivity(NameSetSSHPassword, SetSSHPasswordInput{User: "ubuntu"})
			if tc.retry {
				var app *temporal.ApplicationError
				if err == nil || (errors.As(err, &app) && app.NonRetryable()) || !strings.Contains(err.Error(), tc.contains) {
					t.Errorf("want a retryable error containing %q, got %v", tc.contains, err)
				}
				return
			}
			assertNonRetryable(t, err, tc.contains)
			if err != nil && strings.Contains(err.Error(), "pw-never-shown") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
