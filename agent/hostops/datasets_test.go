package hostops

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// fakeDatasets serves a dataset's files as the api does.
type fakeDatasets struct {
	mu      sync.Mutex
	files   map[string][]byte
	badMD5  string // served with other bytes than its MD5 says
	fetched []string
}

func (f *fakeDatasets) DatasetManifest(_ context.Context, mountID string) (agentproto.DatasetManifest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := agentproto.DatasetManifest{DatasetID: "d1"}
	for p, b := range f.files {
		sum := md5.Sum(b)
		m.Files = append(m.Files, agentproto.DatasetManifestFile{Path: p, Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])})
	}
	return m, nil
}

func (f *fakeDatasets) DatasetFile(_ context.Context, mountID, p string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetched = append(f.fetched, p)
	b, ok := f.files[p]
	if !ok {
		return nil, &DatasetFetchError{Err: errors.New("404"), Permanent: true}
	}
	if p == f.badMD5 {
		b = bytes.ToUpper(b)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func mountArgs(id, tenant, dir string) agentproto.DatasetMountArgs {
	return agentproto.DatasetMountArgs{MountID: id, DatasetID: "d1", TenantID: tenant, Path: dir}
}

func errType(err error) string {
	var he *Error
	if errors.As(err, &he) {
		return he.Type
	}
	return ""
}

func TestDatasetMountSyncAndUnmount(t *testing.T) {
	ctx := context.Background()
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	dir := filepath.Join(t.TempDir(), "data", "imagenet")
	src := &fakeDatasets{files: map[string][]byte{"a.txt": []byte("alpha"), "sub/b.bin": {0, 1, 2}, "sub/deep/c.csv": []byte("x,y\n1,2\n"),
		"empty": {}}}
	var last agentproto.DatasetMountProgress
	res, err := o.DatasetMount(ctx, mountArgs("m1", "t1", dir), src, func(p agentproto.DatasetMountProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || res.Downloaded != 4 || res.Kept != 0 || res.Bytes != 16 {
		t.Fatalf("result %+v", res)
	}
	if last.FilesDone != 4 || last.BytesDone != 16 || last.BytesTotal != 16 {
		t.Fatalf("progress %+v", last)
	}
	for p, want := range src.files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %q, %v", p, got, err)
		}
		if info, _ := os.Stat(filepath.Join(dir, p)); info.Mode().Perm() != 0o444 {
			t.Fatalf("%s mode %v", p, info.Mode())
		}
	}
	for _, d := range []string{"", "sub", "sub/deep"} {
		if info, _ := os.Stat(filepath.Join(dir, d)); info.Mode().Perm() != 0o555 {
			t.Fatalf("dir %q mode %v", d, info.Mode())
		}
	}
	var mk agentproto.DatasetMarker
	if b, err := os.ReadFile(filepath.Join(dir, agentproto.DatasetMarkerName)); err != nil || json.Unmarshal(b, &mk) != nil ||
		mk != (agentproto.DatasetMarker{MountID: "m1", DatasetID: "d1", TenantID: "t1"}) {
		t.Fatalf("marker %+v, %v", mk, err)
	}

	// a re-mount is a sync: the same file kept, a changed one fetched, one gone removed, a stray file removed
	_ = os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "stray"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src.files["sub/b.bin"] = []byte("changed")
	delete(src.files, "sub/deep/c.csv")
	src.fetched = nil
	res, err = o.DatasetMount(ctx, mountArgs("m1", "t1", dir), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 1 || res.Kept != 2 || res.Removed != 2 || !slices.Equal(src.fetched, []string{"sub/b.bin"}) {
		t.Fatalf("sync %+v, fetched %v", res, src.fetched)
	}
	for _, gone := range []string{"stray", "sub/deep"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s is still there", gone)
		}
	}

	// another mount's directory, a non-empty one, system and relative paths: refused for good
	if _, err := o.DatasetMount(ctx, mountArgs("m2", "t1", dir), src, nil); errType(err) != "PathInUse" {
		t.Fatalf("another mount's directory: %v", err)
	}
	if _, err := o.DatasetMount(ctx, mountArgs("m5", "t1", filepath.Join(dir, "sub", "inner")), src, nil); errType(err) != "PathInUse" {
		t.Fatalf("a mount inside another: %v", err)
	}
	busy := t.TempDir()
	_ = os.WriteFile(filepath.Join(busy, "mine"), []byte("keep"), 0o644)
	if _, err := o.DatasetMount(ctx, mountArgs("m3", "t1", busy), src, nil); errType(err) != "PathNotEmpty" {
		t.Fatalf("non-empty: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(busy, "mine")); string(b) != "keep" {
		t.Fatal("the non-empty directory was touched")
	}
	for _, p := range []string{"/etc/x", "/usr/local/data", "relative/x", "/data", "/a/../b", "/proc/1", o.StateDir + "/x"} {
		if _, err := o.DatasetMount(ctx, mountArgs("m4", "t1", p), src, nil); errType(err) != "InvalidPath" {
			t.Errorf("%s: %v", p, err)
		}
	}

	// unmount: only this mount's copy
	// another mount's directory, an unmarked one: left alone
	if r, err := o.DatasetUnmount(ctx, agentproto.DatasetUnmountArgs{MountID: "m9", Path: dir}); err != nil || r.Removed {
		t.Fatalf("unmount by another mount: %+v, %v", r, err)
	}
	if r, err := o.DatasetUnmount(ctx, agentproto.DatasetUnmountArgs{MountID: "m3", Path: busy}); err != nil || r.Removed {
		t.Fatalf("unmount of an unmarked directory: %+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.txt")); err != nil {
		t.Fatalf("another mount's unmount removed the copy: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(busy, "mine")); string(b) != "keep" {
		t.Fatal("an unmount touched an unmarked directory")
	}
	if r, err := o.DatasetUnmount(ctx, agentproto.DatasetUnmountArgs{MountID: "m1", Path: dir}); err != nil || !r.Removed {
		t.Fatalf("unmount %+v, %v", r, err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the copy is still there")
	}
	if r, err := o.DatasetUnmount(ctx, agentproto.DatasetUnmountArgs{MountID: "m1", Path: dir}); err != nil || r.Removed {
		t.Fatalf("unmount again %+v, %v", r, err)
	}
	if l, _ := o.Mounts(); len(l) != 0 {
		t.Fatalf("mounts left in the list: %v", l)
	}
}

func TestDatasetMountChecksMD5(t *testing.T) {
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	dir := filepath.Join(t.TempDir(), "ds")
	src := &fakeDatasets{files: map[string][]byte{"ok": []byte("fine"), "bad": []byte("lower")}, badMD5: "bad"}
	_, err := o.DatasetMount(context.Background(), mountArgs("m1", "t1", dir), src, nil)
	if errType(err) != "ChecksumMismatch" {
		t.Fatalf("a corrupt download: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bad")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the corrupt file was put in place")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "ok" && e.Name() != agentproto.DatasetMarkerName {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}

func TestStopTenantRemovesItsMounts(t *testing.T) {
	ctx := context.Background()
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	src := &fakeDatasets{files: map[string][]byte{"f": []byte("1")}}
	a1, a2, b := filepath.Join(t.TempDir(), "a1"), filepath.Join(t.TempDir(), "a2"), filepath.Join(t.TempDir(), "b")
	for _, m := range []agentproto.DatasetMountArgs{mountArgs("ma1", "ta", a1), mountArgs("ma2", "ta", a2), mountArgs("mb", "tb", b)} {
		if _, err := o.DatasetMount(ctx, m, src, nil); err != nil {
			t.Fatal(err)
		}
	}
	// a listed directory whose marker was replaced is left alone
	_ = os.Chmod(a2, 0o755)
	_ = os.Remove(filepath.Join(a2, agentproto.DatasetMarkerName))
	n, err := o.RemoveTenantMounts("ta")
	if err != nil || n != 1 {
		t.Fatalf("removed %d, %v", n, err)
	}
	if _, err := os.Lstat(a1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the tenant's mount is still there")
	}
	for _, kept := range []string{a2, b + "/f"} {
		if _, err := os.Lstat(kept); err != nil {
			t.Fatalf("%s removed: %v", kept, err)
		}
	}
	if l, _ := o.Mounts(); len(l) != 1 || l[0] != "mb "+b {
		t.Fatalf("list %v", l)
	}
}

func TestDatasetImportStreamsATar(t *testing.T) {
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	root := t.TempDir()
	_ = os.MkdirAll(filepath.Join(root, "sub", "empty"), 0o755)
	_ = os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha"), 0o644)
	_ = os.WriteFile(filepath.Join(root, "sub", "b.bin"), bytes.Repeat([]byte{7}, 100000), 0o600)
	_ = os.Symlink("/etc/passwd", filepath.Join(root, "link"))
	_ = os.Symlink("/etc", filepath.Join(root, "sub", "dirlink"))
	_ = syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644)
	var names []string
	sizes := map[string]int64{}
	res, err := o.DatasetImport(context.Background(), agentproto.DatasetImportArgs{DatasetID: "d1", Path: root},
		func(_ context.Context, r io.Reader) (agentproto.DatasetImportResult, error) {
			tr := tar.NewReader(r)
			var n int64
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return agentproto.DatasetImportResult{}, err
				}
				if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
					t.Errorf("entry %s of type %c", h.Name, h.Typeflag)
				}
				names = append(names, h.Name)
				c, _ := io.Copy(io.Discard, tr)
				sizes[h.Name] = c
				n += c
			}
			return agentproto.DatasetImportResult{ObjectKey: "k", Size: n}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if want := []string{"a.txt", "sub/", "sub/b.bin", "sub/empty/"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	if sizes["sub/b.bin"] != 100000 || res.Size != 100005 {
		t.Fatalf("sizes %v, %+v", sizes, res)
	}
	for _, p := range []string{"relative", "/proc/self", "/", "/x/../y", o.StateDir} {
		if _, err := o.DatasetImport(context.Background(), agentproto.DatasetImportArgs{DatasetID: "d1", Path: p}, nil); errType(err) != "InvalidPath" {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := o.DatasetImport(context.Background(), agentproto.DatasetImportArgs{DatasetID: "d1", Path: root + "/none"}, nil); errType(err) != "NotFound" {
		t.Errorf("missing: %v", err)
	}
}

// stallingSource sends the first bytes of a file, then nothing.
type stallingSource struct{ fakeDatasets }

func (s *stallingSource) DatasetFile(ctx context.Context, _, p string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("ab"))
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	return pr, nil
}

func TestDatasetMountGivesUpAStalledDownload(t *testing.T) {
	old := datasetIdleTimeout
	datasetIdleTimeout = 200 * time.Millisecond
	t.Cleanup(func() { datasetIdleTimeout = old })
	o := &Ops{StateDir: t.TempDir(), Log: quiet()}
	src := &stallingSource{fakeDatasets{files: map[string][]byte{"f": []byte("abcdef")}}}
	_, err := o.DatasetMount(context.Background(), mountArgs("m1", "t1", filepath.Join(t.TempDir(), "d", "s")), src, nil)
	if errType(err) != "FetchStalled" {
		t.Fatalf("a stalled download: %v", err)
	}
}
