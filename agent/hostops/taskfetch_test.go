package hostops

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeOutputAPI is the api's side of PathTaskOutputUpload: it keeps what
// each command uploaded.
type fakeOutputAPI struct {
	mu   sync.Mutex
	got  map[string]string // URL path → body
	auth []string
}

func (f *fakeOutputAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPut || r.ContentLength != int64(len(b)) {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.got[r.URL.Path] = string(b)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"code":0,"message":"ok","data":{"size":`+strconv.Itoa(len(b))+`,"etag":"e-`+strconv.Itoa(len(b))+`"}}`)
}

// An output file goes to the api as it is; nothing outside the output
// directory (through "..", an absolute path or a symlink), no directory and
// no file over the cap is sent.
func TestTaskOutputFetch(t *testing.T) {
	t.Parallel()
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	ctx := context.Background()
	fake := &fakeOutputAPI{got: map[string]string{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	api := &pusher.Client{BaseURL: srv.URL}
	api.SetToken("agent-token")
	fetch := func(p string) (agentproto.TaskOutputFetchResult, error) {
		return o.TaskOutputFetch(ctx, agentproto.TaskOutputFetchArgs{TaskID: "t1", Path: p},
			func(ctx context.Context, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error) {
				return api.PutTaskOutput(ctx, "t1", "cmd-"+strconv.FormatInt(size, 10), r, size)
			})
	}
	_, err := fetch("model.pt")
	assertErr(t, err, "NotFound", true, "model.pt") // no attempt ran here yet

	out := filepath.Join(o.StateDir, "tasks", "t1", "output")
	for p, body := range map[string]string{"model.pt": "weights", "logs/a.txt": "a", "empty": ""} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(o.StateDir, "secret"), []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"etc": "/etc", "up": "../../../secret", "inside": "logs/a.txt"} {
		if err := os.Symlink(target, filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
	}
	big, err := os.Create(filepath.Join(out, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(agentproto.MaxTaskOutputFetchBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	big.Close()

	res, err := fetch("model.pt")
	if err != nil || res.Size != 7 || res.ETag != "e-7" {
		t.Fatalf("model.pt: %+v, %v", res, err)
	}
	if res, err := fetch("./inside"); err != nil || res.Size != 1 {
		t.Fatalf("a symlink inside: %+v, %v", res, err)
	}
	if res, err := fetch("empty"); err != nil || res.Size != 0 {
		t.Fatalf("an empty file: %+v, %v", res, err)
	}
	fake.mu.Lock()
	if fake.got["/api/agent/tasks/t1/outputs/cmd-7"] != "weights" || fake.got["/api/agent/tasks/t1/outputs/cmd-1"] != "a" || len(fake.got) != 3 ||
		fake.auth[0] != "Bearer agent-token" {
		t.Errorf("uploaded %v (auth %v)", fake.got, fake.auth)
	}
	fake.mu.Unlock()

	for _, bad := range []string{"", "..", "../t1/output/model.pt", "logs/../../x", "/etc/passwd", "etc/passwd", "up", `logs\a.txt`} {
		_, err := fetch(bad)
		assertErr(t, err, "InvalidPath", true, "")
	}
	for _, dir := range []string{"logs", "logs/", "."} {
		_, err := fetch(dir)
		assertErr(t, err, "IsDirectory", true, "directory")
	}
	_, err = fetch("nope")
	assertErr(t, err, "NotFound", true, "nope")
	_, err = fetch("big.bin")
	assertErr(t, err, "TooLarge", true, "more than")
	_, err = o.TaskOutputFetch(ctx, agentproto.TaskOutputFetchArgs{TaskID: "../t1", Path: "model.pt"}, nil)
	assertErr(t, err, "InvalidArgs", true, "")
	fake.mu.Lock()
	if len(fake.got) != 3 {
		t.Errorf("refused fetches uploaded: %v", fake.got)
	}
	fake.mu.Unlock()
}
