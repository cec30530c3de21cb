package commands

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeDatasetAPI serves one dataset's files and takes imports.
type fakeDatasetAPI struct {
	files  map[string][]byte
	refuse int // answer this status to everything (0: serve)

	mu      sync.Mutex
	imports map[string][]string // command ID → tar entries
}

func (f *fakeDatasetAPI) refusal() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refuse
}

func (f *fakeDatasetAPI) DatasetManifest(_ context.Context, mountID string) (agentproto.DatasetManifest, error) {
	if st := f.refusal(); st != 0 {
		return agentproto.DatasetManifest{}, &pusher.StatusError{Op: "get dataset manifest", Status: st}
	}
	m := agentproto.DatasetManifest{DatasetID: "d1"}
	for p, b := range f.files {
		sum := md5.Sum(b)
		m.Files = append(m.Files, agentproto.DatasetManifestFile{Path: p, Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])})
	}
	return m, nil
}

func (f *fakeDatasetAPI) DatasetFile(_ context.Context, _, p string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(f.files[p])), nil
}

func (f *fakeDatasetAPI) PutDatasetImport(_ context.Context, commandID string, r io.Reader) (agentproto.DatasetImportResult, error) {
	tr := tar.NewReader(r)
	var names []string
	var n int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return agentproto.DatasetImportResult{}, err
		}
		names = append(names, h.Name)
		c, _ := io.Copy(io.Discard, tr)
		n += c
	}
	f.mu.Lock()
	f.imports[commandID] = names
	f.mu.Unlock()
	if st := f.refusal(); st != 0 {
		return agentproto.DatasetImportResult{}, &pusher.StatusError{Op: "put dataset import", Status: st}
	}
	return agentproto.DatasetImportResult{ObjectKey: agentproto.DatasetImportObjectKey("d1", commandID), Size: n}, nil
}

// The dataset kinds through the command loop: a mount makes the copy and
// reports progress, an unmount removes it, an import streams the tar for
// its own command; what the api refuses fails for good.
func TestDatasetCommands(t *testing.T) {
	ops := &hostops.Ops{StateDir: t.TempDir(), Log: quiet()}
	dsAPI := &fakeDatasetAPI{files: map[string][]byte{"a/b.txt": []byte("bee"), "c.bin": {1, 2, 3}}, imports: map[string][]string{}}
	f := newFakeAPI(t)
	dir := filepath.Join(t.TempDir(), "data", "ds")
	mount := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindDatasetMount,
		Args: args(agentproto.DatasetMountArgs{MountID: "m1", DatasetID: "d1", TenantID: "t1", Path: dir})}}
	f.add(mount)
	startKinds(t, f, &Kinds{Ops: ops, Simulated: true, Datasets: dsAPI, SaveToken: (&tokenStore{}).save})
	if res := decode[agentproto.DatasetMountResult](t, f.waitReport(t, mount)); res.Files != 2 || res.Downloaded != 2 {
		t.Fatalf("mount %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a", "b.txt")); string(b) != "bee" {
		t.Fatalf("copy %q, %v", b, err)
	}

	stop := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindStopTenant,
		Args: args(agentproto.StopTenantArgs{TenantID: "t1", AllocationID: "a1", User: "root"})}}
	f.add(stop)
	if res := decode[agentproto.StopTenantResult](t, f.waitReport(t, stop)); res.DatasetMounts != 1 {
		t.Fatalf("stop tenant %+v", res)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("the lease's end left the copy: %v", err)
	}

	src := t.TempDir()
	_ = os.WriteFile(filepath.Join(src, "x.txt"), []byte("x"), 0o644)
	imp := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindDatasetImport,
		Args: args(agentproto.DatasetImportArgs{DatasetID: "d1", Path: src})}}
	f.add(imp)
	if res := decode[agentproto.DatasetImportResult](t, f.waitReport(t, imp)); res.Size != 1 || res.ObjectKey != "imports/d1/"+imp.ID+".tar" {
		t.Fatalf("import %+v", res)
	}
	dsAPI.mu.Lock()
	names := dsAPI.imports[imp.ID]
	dsAPI.mu.Unlock()
	if len(names) != 1 || names[0] != "x.txt" {
		t.Fatalf("imported %v", names)
	}

	dsAPI.mu.Lock()
	dsAPI.refuse = 404
	dsAPI.mu.Unlock()
	refused := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindDatasetMount,
		Args: args(agentproto.DatasetMountArgs{MountID: "m2", DatasetID: "d1", TenantID: "t1", Path: dir})}}
	f.add(refused)
	if r := f.waitReport(t, refused); r.Status != agentproto.ResultFailed || r.Error.Type != "FetchRefused" || !r.Error.Permanent {
		t.Fatalf("refused mount: %+v", r)
	}
	refusedImport := &fakeCmd{Command: agentproto.Command{ID: newID(), Kind: agentproto.KindDatasetImport,
		Args: args(agentproto.DatasetImportArgs{DatasetID: "d1", Path: src})}}
	f.add(refusedImport)
	if r := f.waitReport(t, refusedImport); r.Status != agentproto.ResultFailed || r.Error.Type != "UploadRefused" || !r.Error.Permanent {
		t.Fatalf("refused import: %+v", r)
	}
}
