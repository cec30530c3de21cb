package hostops

import (
	"archive/tar"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/mount"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Dataset mounts: a read-only local copy of a dataset under a path of the
// host (docs/datasets.md). The copy is the agent's only when its marker
// (agentproto.DatasetMarkerName) names the mount; the agent never writes
// into, nor removes, a directory that is not empty and not marked so. The
// mounts are listed in <StateDir>/dataset-mounts.json, so that the end of
// a lease removes the tenant's (stop_tenant).

// DatasetSource is the api's side of a mount (pusher.Client).
type DatasetSource interface {
	DatasetManifest(ctx context.Context, mountID string) (agentproto.DatasetManifest, error)
	// DatasetFile opens one file of the mount's dataset.
	DatasetFile(ctx context.Context, mountID, filePath string) (io.ReadCloser, error)
}

// DatasetFetchError wraps a failed call to the api; Permanent says the api
// refused it (the mount is gone, the lease ended).
type DatasetFetchError struct {
	Err       error
	Permanent bool
}

func (e *DatasetFetchError) Error() string { return e.Err.Error() }
func (e *DatasetFetchError) Unwrap() error { return e.Err }

// mountEntry is one mount in the agent's list.
type mountEntry struct {
	MountID   string `json:"mountId"`
	DatasetID string `json:"datasetId"`
	TenantID  string `json:"tenantId"`
	Path      string `json:"path"`
}

var mountsMu sync.Mutex

func (o *Ops) mountsFile() string { return filepath.Join(o.StateDir, "dataset-mounts.json") }

func (o *Ops) loadMounts() ([]mountEntry, error) {
	var list []mountEntry
	if o.StateDir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.mountsFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return list, json.Unmarshal(b, &list)
}

func (o *Ops) saveMounts(list []mountEntry) error {
	if o.StateDir == "" {
		return nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return err
	}
	tmp := o.mountsFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, o.mountsFile())
}

// editMounts changes the list of mounts under the lock.
func (o *Ops) editMounts(edit func([]mountEntry) []mountEntry) error {
	mountsMu.Lock()
	defer mountsMu.Unlock()
	list, err := o.loadMounts()
	if err != nil {
		return err
	}
	return o.saveMounts(edit(list))
}

// Mounts lists the mounts the agent keeps (tests, diagnostics).
func (o *Ops) Mounts() ([]string, error) {
	mountsMu.Lock()
	defer mountsMu.Unlock()
	list, err := o.loadMounts()
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m.MountID + " " + m.Path
	}
	return out, err
}

// checkMountPath refuses a path the doc does not allow, and one inside
// (or holding) the agent's state directory.
func (o *Ops) checkMountPath(p string) error {
	if why := agentproto.MountPathProblem(p); why != "" {
		return Permanentf("InvalidPath", "%q cannot hold a dataset (%s)", p, why)
	}
	if o.StateDir != "" {
		if sd, err := filepath.Abs(o.StateDir); err == nil && (within(p, sd) || within(sd, p)) {
			return Permanentf("InvalidPath", "%q is the agent's own directory", p)
		}
	}
	return nil
}

// within: p is dir or under it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// readMarker reads the marker of the directory (nil when there is none).
func readMarker(dir string) (*agentproto.DatasetMarker, error) {
	f := filepath.Join(dir, agentproto.DatasetMarkerName)
	info, err := os.Lstat(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() || info.Size() > 4096 {
		return nil, nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	var m agentproto.DatasetMarker
	if json.Unmarshal(b, &m) != nil || m.MountID == "" {
		return nil, nil
	}
	return &m, nil
}

// claimDir makes dir the mount's: created when missing, or already marked
// for this mount, or empty. A file, a symlink, another mount's directory or
// one with other things in it is refused for good.
func claimDir(dir string, marker agentproto.DatasetMarker) error {
	for up := filepath.Dir(dir); up != "/" && up != "."; up = filepath.Dir(up) {
		if m, _ := readMarker(up); m != nil {
			return Permanentf("PathInUse", "%s is inside another dataset mount (%s)", dir, up)
		}
	}
	info, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Retryablef("MountFailed", err, "unable to create %s", dir)
		}
	case err != nil:
		return Retryablef("MountFailed", err, "unable to read %s", dir)
	case info.Mode()&fs.ModeSymlink != 0:
		return Permanentf("InvalidPath", "%s is a symbolic link", dir)
	case !info.IsDir():
		return Permanentf("NotADirectory", "%s exists and is not a directory", dir)
	default:
		m, err := readMarker(dir)
		if err != nil {
			return Retryablef("MountFailed", err, "unable to read the marker of %s", dir)
		}
		if m != nil && m.MountID != marker.MountID {
			return Permanentf("PathInUse", "%s holds another dataset mount", dir)
		}
		if m == nil {
			entries, err := os.ReadDir(dir)
			if err != nil {
				return Retryablef("MountFailed", err, "unable to list %s", dir)
			}
			if len(entries) > 0 {
				return Permanentf("PathNotEmpty", "%s is not empty", dir)
			}
		}
	}
	if err := makeWritable(dir); err != nil {
		return Retryablef("MountFailed", err, "unable to open %s for the sync", dir)
	}
	b, _ := json.Marshal(marker)
	f := filepath.Join(dir, agentproto.DatasetMarkerName)
	_ = os.Remove(f)
	if err := os.WriteFile(f, b, 0o444); err != nil {
		return Retryablef("MountFailed", err, "unable to write the marker in %s", dir)
	}
	return nil
}

// makeWritable gives the owner write access to every directory of the
// tree (symlinks are not followed), so its files can be replaced or removed.
func makeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return nil
	})
}

// makeReadOnly: files 0444, directories 0555.
func makeReadOnly(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(p, 0o555)
		case d.Type().IsRegular():
			return os.Chmod(p, 0o444)
		}
		return nil
	})
}

// cleanManifestPath is a manifest path in the local form, or "".
func cleanManifestPath(p string) string {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\\") || slices.Contains(strings.Split(p, "/"), "..") {
		return ""
	}
	c := path.Clean(p)
	if c != p || c == "." || c == agentproto.DatasetMarkerName {
		return ""
	}
	return c
}

// DatasetMount makes path a read-only copy of the mount's dataset: a sync
// (files already there with the same size and MD5 are kept, others are
// fetched, files not in the dataset removed), DatasetMountConcurrency
// downloads at once, each through a temporary name and a rename.
func (o *Ops) DatasetMount(ctx context.Context, a agentproto.DatasetMountArgs, src DatasetSource,
	progress func(agentproto.DatasetMountProgress)) (agentproto.DatasetMountResult, error) {
	var res agentproto.DatasetMountResult
	if a.MountID == "" || a.TenantID == "" || a.DatasetID == "" || strings.ContainsAny(a.MountID+a.TenantID, "/\\") {
		return res, Permanentf("InvalidArgs", "the mount, dataset and tenant are required")
	}
	if err := o.checkMountPath(a.Path); err != nil {
		return res, err
	}
	manifest, err := src.DatasetManifest(ctx, a.MountID)
	if err != nil {
		return res, fetchErr(err, "unable to read the dataset's manifest")
	}
	want := map[string]agentproto.DatasetManifestFile{}
	for _, f := range manifest.Files {
		p := cleanManifestPath(f.Path)
		if p == "" || f.Size < 0 {
			return res, Permanentf("InvalidManifest", "the manifest has an invalid path %q", f.Path)
		}
		want[p] = f
		res.Files++
		res.Bytes += f.Size
	}
	marker := agentproto.DatasetMarker{MountID: a.MountID, DatasetID: a.DatasetID, TenantID: a.TenantID}
	// listed before anything is written: a lease end meanwhile removes it
	if err := o.editMounts(func(l []mountEntry) []mountEntry {
		l = slices.DeleteFunc(l, func(m mountEntry) bool { return m.MountID == a.MountID })
		return append(l, mountEntry{MountID: a.MountID, DatasetID: a.DatasetID, TenantID: a.TenantID, Path: a.Path})
	}); err != nil {
		return res, Retryablef("StateNotSaved", err, "unable to record the mount in the agent's state")
	}
	if err := claimDir(a.Path, marker); err != nil {
		if he := (*Error)(nil); errors.As(err, &he) && he.Permanent {
			_ = o.forgetMount(a.MountID)
		}
		return res, err
	}
	removed, err := removeExtra(a.Path, want)
	if err != nil {
		return res, Retryablef("MountFailed", err, "unable to remove files not in the dataset")
	}
	res.Removed = removed

	var filesDone atomic.Int64
	var bytesDone atomic.Int64
	var reportMu sync.Mutex // one report at a time, each newer than the last
	report := func() {
		reportMu.Lock()
		defer reportMu.Unlock()
		if progress != nil {
			progress(agentproto.DatasetMountProgress{FilesDone: int(filesDone.Load()), FilesTotal: res.Files,
				BytesDone: bytesDone.Load(), BytesTotal: res.Bytes})
		}
	}
	report()
	paths := make(chan agentproto.DatasetManifestFile)
	var downloaded, kept atomic.Int64
	var failOnce sync.Once
	var failed error // the first download's failure
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range agentproto.DatasetMountConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range paths {
				got, err := syncFile(wctx, src, a.MountID, a.Path, f, &bytesDone)
				if err != nil {
					failOnce.Do(func() { failed = err })
					cancel(err)
					continue
				}
				if got {
					downloaded.Add(1)
				} else {
					kept.Add(1)
					bytesDone.Add(f.Size)
				}
				filesDone.Add(1)
				report()
			}
		}()
	}
	for _, p := range slices.Sorted(mapsKeys(want)) {
		select {
		case paths <- want[p]:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
			break
		}
	}
	close(paths)
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if failed != nil {
		return res, failed
	}
	res.Downloaded, res.Kept = int(downloaded.Load()), int(kept.Load())
	if err := makeReadOnly(a.Path); err != nil {
		return res, Retryablef("MountFailed", err, "unable to make the copy read-only")
	}
	report()
	o.log().Info("dataset mounted", "mount", a.MountID, "dataset", a.DatasetID, "path", a.Path, "files", res.Files, "bytes", res.Bytes,
		"downloaded", res.Downloaded, "kept", res.Kept, "removed", res.Removed)
	return res, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func fetchErr(err error, msg string) error {
	var fe *DatasetFetchError
	if errors.As(err, &fe) && fe.Permanent {
		return &Error{Type: "FetchRefused", Message: msg, Permanent: true, Err: err}
	}
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	return Retryablef("FetchFailed", err, "%s", msg)
}

// syncFile makes one file of the copy right: kept when it is there with
// the size and MD5 (false), else downloaded to a temporary name in its
// directory, checked and renamed over (true).
func syncFile(ctx context.Context, src DatasetSource, mountID, root string, f agentproto.DatasetManifestFile, done *atomic.Int64) (bool, error) {
	target := filepath.Join(root, filepath.FromSlash(f.Path))
	if same, err := sameFile(target, f); err != nil {
		return false, Retryablef("MountFailed", err, "unable to read %s", target)
	} else if same {
		return false, nil
	}
	dir := filepath.Dir(target)
	if err := mkdirs(root, dir); err != nil {
		return false, err
	}
	// a download that stalls is given up (and tried again by the command's retry)
	fctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	idle := time.AfterFunc(datasetIdleTimeout, func() { stop(errStalled) })
	defer idle.Stop()
	body, err := src.DatasetFile(fctx, mountID, f.Path)
	if err != nil {
		if context.Cause(fctx) == errStalled {
			return false, Retryablef("FetchStalled", err, "no bytes of %s for %s", f.Path, datasetIdleTimeout)
		}
		return false, fetchErr(err, "unable to fetch "+f.Path)
	}
	defer body.Close()
	ctx = fctx
	tmp, err := os.CreateTemp(dir, ".rgpu-tmp-*")
	if err != nil {
		return false, Retryablef("MountFailed", err, "unable to write in %s", dir)
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h, countWriter{done, idle}), io.LimitReader(body, f.Size+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if context.Cause(ctx) == errStalled {
			return false, Retryablef("FetchStalled", err, "no bytes of %s for %s", f.Path, datasetIdleTimeout)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if strings.Contains(err.Error(), "no space left") {
			return false, Permanentf("NoSpace", "no space left on the device of %s", root)
		}
		return false, Retryablef("FetchFailed", err, "unable to download %s", f.Path)
	}
	if n != f.Size || !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), f.MD5) {
		done.Add(-n)
		return false, Retryablef("ChecksumMismatch", nil, "%s arrived with %d bytes and another MD5 than the dataset's", f.Path, n)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return false, Retryablef("MountFailed", err, "unable to make %s read-only", f.Path)
	}
	if info, err := os.Lstat(target); err == nil && info.IsDir() {
		if err := os.RemoveAll(target); err != nil {
			return false, Retryablef("MountFailed", err, "unable to replace the directory %s", target)
		}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return false, Retryablef("MountFailed", err, "unable to put %s in place", f.Path)
	}
	return true, nil
}

// countWriter counts the bytes downloaded and keeps the stall timer off.
type countWriter struct {
	n    *atomic.Int64
	idle *time.Timer
}

func (c countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	c.idle.Reset(datasetIdleTimeout)
	return len(p), nil
}

// datasetIdleTimeout is how long a file's download may go without a byte.
var datasetIdleTimeout = 2 * time.Minute

var errStalled = errors.New("the download stalled")

// sameFile: target is a regular file with f's size and MD5.
func sameFile(target string, f agentproto.DatasetManifestFile) (bool, error) {
	info, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) || err == nil && (!info.Mode().IsRegular() || info.Size() != f.Size) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	file, err := os.Open(target)
	if err != nil {
		return false, err
	}
	defer file.Close()
	h := md5.New()
	if _, err := io.Copy(h, file); err != nil {
		return false, err
	}
	return strings.EqualFold(hex.EncodeToString(h.Sum(nil)), f.MD5), nil
}

// mkdirs makes dir (under root) and its parents; a file or symlink in the
// way is removed (the copy is the agent's).
func mkdirs(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return Permanentf("InvalidManifest", "%s is outside the mount", dir)
	}
	cur := root
	if rel == "." {
		return nil
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err == nil && info.IsDir() {
			continue
		}
		if err == nil {
			if err := os.Remove(cur); err != nil {
				return Retryablef("MountFailed", err, "unable to replace %s", cur)
			}
		}
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return Retryablef("MountFailed", err, "unable to create %s", cur)
		}
	}
	return nil
}

// removeExtra removes what the copy has and the dataset does not: files,
// symlinks, leftovers of interrupted downloads, and directories no file
// of the dataset is under. The marker stays.
func removeExtra(root string, want map[string]agentproto.DatasetManifestFile) (int, error) {
	dirs := map[string]bool{}
	for p := range want {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	removed := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || rel == agentproto.DatasetMarkerName {
			return nil
		}
		if d.IsDir() {
			if dirs[rel] {
				return nil
			}
			if _, isFile := want[rel]; isFile {
				return filepath.SkipDir // replaced by the file when it is fetched
			}
			removed++
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		if _, ok := want[rel]; ok && d.Type().IsRegular() {
			return nil
		}
		removed++
		return os.Remove(p)
	})
	return removed, err
}

func (o *Ops) forgetMount(mountID string) error {
	return o.editMounts(func(l []mountEntry) []mountEntry {
		return slices.DeleteFunc(l, func(m mountEntry) bool { return m.MountID == mountID })
	})
}

// DatasetUnmount removes the mount's copy, only when its marker names the
// mount; a copy already gone, or a directory that is not the mount's
// (another marker, none), is left alone and answered Removed: false.
func (o *Ops) DatasetUnmount(_ context.Context, a agentproto.DatasetUnmountArgs) (agentproto.DatasetUnmountResult, error) {
	var res agentproto.DatasetUnmountResult
	if a.MountID == "" {
		return res, Permanentf("InvalidArgs", "no mount given")
	}
	if err := o.checkMountPath(a.Path); err != nil {
		return res, err
	}
	removed, err := removeMount(a.Path, func(m *agentproto.DatasetMarker) bool { return m.MountID == a.MountID })
	var he *Error
	if errors.As(err, &he) && he.Type == "NotOurMount" {
		// no copy of this mount is there (the marker comes before any file):
		// nothing to remove, and what is there is left alone
		o.log().Warn("unmount: the directory is not this mount's copy; left alone", "mount", a.MountID, "path", a.Path, "error", err)
		err = nil
	}
	if err != nil {
		return res, err
	}
	if err := o.forgetMount(a.MountID); err != nil {
		return res, Retryablef("StateNotSaved", err, "unable to update the agent's list of mounts")
	}
	res.Removed = removed
	o.log().Info("dataset unmounted", "mount", a.MountID, "path", a.Path, "removed", removed)
	return res, nil
}

// removeMount removes dir when its marker passes ours; false when there
// is nothing there. A directory with another marker, or none, is refused.
func removeMount(dir string, ours func(*agentproto.DatasetMarker) bool) (bool, error) {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, Retryablef("UnmountFailed", err, "unable to read %s", dir)
	}
	if !info.IsDir() {
		return false, Permanentf("NotOurMount", "%s is not a dataset mount", dir)
	}
	m, err := readMarker(dir)
	if err != nil {
		return false, Retryablef("UnmountFailed", err, "unable to read the marker of %s", dir)
	}
	if m == nil || !ours(m) {
		return false, Permanentf("NotOurMount", "%s is not this dataset mount (its marker names another, or none)", dir)
	}
	if err := makeWritable(dir); err != nil {
		return false, Retryablef("UnmountFailed", err, "unable to open %s for removal", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, Retryablef("UnmountFailed", err, "unable to remove %s", dir)
	}
	return true, nil
}

// RemoveTenantMounts removes every listed mount whose marker names the
// tenant (the end of its lease) and says how many went.
func (o *Ops) RemoveTenantMounts(tenantID string) (int, error) {
	if tenantID == "" {
		return 0, Permanentf("InvalidArgs", "no tenant given")
	}
	mountsMu.Lock()
	defer mountsMu.Unlock()
	list, err := o.loadMounts()
	if err != nil {
		return 0, Retryablef("StateUnreadable", err, "unable to read the agent's list of mounts")
	}
	n := 0
	var errs []error
	keep := list[:0:0]
	for _, m := range list {
		if m.TenantID != tenantID {
			keep = append(keep, m)
			continue
		}
		removed, err := removeMount(m.Path, func(mk *agentproto.DatasetMarker) bool { return mk.TenantID == tenantID })
		var he *Error
		switch {
		case err == nil:
			if removed {
				n++
			}
		case errors.As(err, &he) && he.Permanent:
			o.log().Warn("a listed mount's directory is no longer the tenant's: left alone", "path", m.Path, "error", err)
		default:
			errs = append(errs, err)
			keep = append(keep, m)
		}
	}
	if err := o.saveMounts(keep); err != nil {
		errs = append(errs, Retryablef("StateNotSaved", err, "unable to update the agent's list of mounts"))
	}
	if n > 0 {
		o.log().Info("removed the tenant's dataset mounts", "tenant", tenantID, "mounts", n)
	}
	return n, errors.Join(errs...)
}

// ImportUpload sends the tar stream to the api (unknown length: chunked).
type ImportUpload func(ctx context.Context, r io.Reader) (agentproto.DatasetImportResult, error)

// DatasetImport streams a tar of the path to upload: regular files and
// directories, names relative to the path, symlinks, devices, sockets and
// pipes left out (never followed); no temporary file.
func (o *Ops) DatasetImport(ctx context.Context, a agentproto.DatasetImportArgs, upload ImportUpload) (agentproto.DatasetImportResult, error) {
	var res agentproto.DatasetImportResult
	if a.DatasetID == "" {
		return res, Permanentf("InvalidArgs", "no dataset given")
	}
	if why := agentproto.ImportPathProblem(a.Path); why != "" {
		return res, Permanentf("InvalidPath", "%q cannot be imported (%s)", a.Path, why)
	}
	if o.StateDir != "" {
		if sd, err := filepath.Abs(o.StateDir); err == nil && (within(a.Path, sd) || within(sd, a.Path)) {
			return res, Permanentf("InvalidPath", "%q holds the agent's own directory", a.Path)
		}
	}
	info, err := os.Lstat(a.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return res, Permanentf("NotFound", "%s does not exist", a.Path)
	case err != nil:
		return res, Retryablef("ImportFailed", err, "unable to read %s", a.Path)
	case !info.IsDir() && !info.Mode().IsRegular():
		return res, Permanentf("InvalidPath", "%s is neither a directory nor a regular file", a.Path)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(ctx, pw, a.Path, info)) }()
	res, err = upload(ctx, pr)
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return res, err
	}
	o.log().Info("dataset imported from this host", "dataset", a.DatasetID, "path", a.Path, "bytes", res.Size)
	return res, nil
}

func writeTar(ctx context.Context, w io.Writer, root string, rootInfo fs.FileInfo) error {
	tw := tar.NewWriter(w)
	if !rootInfo.IsDir() {
		if err := tarFile(tw, root, path.Base(filepath.ToSlash(root)), rootInfo); err != nil {
			return err
		}
		return tw.Close()
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != root && errors.Is(err, fs.ErrPermission) {
				return nil // unreadable: left out
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info() // lstat
		if err != nil {
			return nil // gone meanwhile
		}
		switch {
		case d.IsDir():
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: info.ModTime()}
			return tw.WriteHeader(hdr)
		case info.Mode().IsRegular():
			return tarFile(tw, p, name, info)
		}
		return nil // symlinks, devices, sockets, pipes
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// tarFile writes a regular file with the size it had when listed.
func tarFile(tw *tar.Writer, p, name string, info fs.FileInfo) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: info.Size(), Mode: 0o644, ModTime: info.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(f, info.Size()))
	if err != nil {
		return err
	}
	if n < info.Size() { // shrank meanwhile: pad
		if _, err := io.CopyN(tw, zeroReader{}, info.Size()-n); err != nil {
			return err
		}
	}
	return nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// datasetBind is a mounted dataset bound read-only into a task's container:
// the host path must be a mount's copy (its marker there), the container
// path a name under agentproto.ContainerDatasetsDir.
func datasetBind(d agentproto.TaskDataset) (mount.Mount, error) {
	if agentproto.MountPathProblem(d.HostPath) != "" {
		return mount.Mount{}, Permanentf("InvalidArgs", "%q is not a dataset mount's path", d.HostPath)
	}
	name, ok := strings.CutPrefix(d.ContainerPath, agentproto.ContainerDatasetsDir+"/")
	if !ok || name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return mount.Mount{}, Permanentf("InvalidArgs", "%q is not a path under %s", d.ContainerPath, agentproto.ContainerDatasetsDir)
	}
	if m, err := readMarker(d.HostPath); err != nil || m == nil {
		return mount.Mount{}, Permanentf("DatasetMissing", "the dataset mounted at %s is no longer there", d.HostPath)
	}
	return mount.Mount{Type: mount.TypeBind, Source: d.HostPath, Target: d.ContainerPath, ReadOnly: true}, nil
}
