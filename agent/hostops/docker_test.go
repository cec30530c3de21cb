package hostops

import (
	"context"
	"encoding/json"
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

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeDocker serves the few Docker Engine API endpoints StopTenant calls.
type fakeDocker struct {
	mu         sync.Mutex
	containers []map[string]any // as /containers/json lists them
	ops        []string
	filter     string
	failList   bool
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
		if f.failList {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"layer store broken"}`))
			return
		}
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

func dockerAt(t *testing.T, host string) Docker {
	t.Helper()
	dc, err := NewDocker(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	return dc
}

func serveDocker(t *testing.T, fd *fakeDocker) Docker {
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return dockerAt(t, "tcp://"+u.Host)
}

func TestStopTenantContainers(t *testing.T) {
	fd := &fakeDocker{containers: []map[string]any{
		ctr("run1", "t1", "running"), ctr("done1", "t1", "exited"), ctr("gone", "t1", "running"), ctr("other", "t2", "running"),
	}}
	ops := newProcTree(t).ops()
	ops.Docker = serveDocker(t, fd)
	var progress []int
	res, err := ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t1", AllocationID: "a1", User: "ubuntu"},
		func(r agentproto.StopTenantResult) { progress = append(progress, r.Containers) })
	if err != nil || res.Containers != 3 || res.Processes != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if !slices.Equal(progress, []int{1, 2, 3}) {
		t.Errorf("progress %v", progress)
	}
	fd.mu.Lock()
	got := strings.Join(slices.Sorted(slices.Values(fd.ops)), "\n")
	filter := fd.filter
	fd.mu.Unlock()
	want := strings.Join(slices.Sorted(slices.Values([]string{"stop run1 t=30", "remove run1 force=1", "remove done1 force=1", "stop gone t=30", "remove gone force=1"})), "\n")
	if got != want {
		t.Errorf("docker calls:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(filter, `"remotegpu.tenant=t1"`) {
		t.Errorf("filter %s", filter)
	}

	// Nothing to stop.
	res, err = ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t9"}, nil)
	if err != nil || res.Containers != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	// No tenant: a bad command.
	_, err = ops.StopTenant(context.Background(), agentproto.StopTenantArgs{}, nil)
	assertErr(t, err, "InvalidArgs", true, "no tenant")
}

// A host without Docker has no containers to stop: that is not a failure.
func TestStopTenantWithoutDocker(t *testing.T) {
	for name, docker := range map[string]Docker{
		"no socket": dockerAt(t, "unix://"+filepath.Join(t.TempDir(), "docker.sock")),
		"no client": nil,
	} {
		t.Run(name, func(t *testing.T) {
			ops := newProcTree(t).ops()
			ops.Docker = docker
			res, err := ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t1", User: "ubuntu"}, nil)
			if err != nil || res.Containers != 0 {
				t.Fatalf("result %+v, %v", res, err)
			}
		})
	}
}

// A Docker that is there but fails is worth trying again; the sessions
// are killed all the same.
func TestStopTenantDockerFails(t *testing.T) {
	pt := newProcTree(t)
	pt.add(5000200, 1, "S", 1001, unsetLoginUID, 0) // a process of the user (no real process has that PID)
	ops := pt.ops()
	ops.Docker = serveDocker(t, &fakeDocker{failList: true})
	_, err := ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t1", User: "ubuntu"}, nil)
	assertErr(t, err, "DockerFailed", false, "layer store broken")

	// A socket nobody answers on.
	sock := filepath.Join(t.TempDir(), "docker.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ops.Docker = dockerAt(t, "unix://"+sock)
	_, err = ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t1"}, nil)
	assertErr(t, err, "DockerUnavailable", false, "does not answer")
}
