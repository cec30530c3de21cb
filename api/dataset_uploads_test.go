package api_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

const chunk = 5 << 20

type uploadSlot struct {
	Path           string `json:"path"`
	UploadID       string `json:"uploadId"`
	State          string `json:"state"`
	ChunkSize      int    `json:"chunkSize"`
	ChunkCount     int    `json:"chunkCount"`
	ConfirmedParts []int  `json:"confirmedParts"`
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func md5b64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func startUpload(t *testing.T, s *session, name string, total int64) store.Dataset {
	t.Helper()
	var d store.Dataset
	s.must(201, "POST", "/api/customer/datasets/upload", map[string]any{"name": name, "type": "other", "access": "team", "totalBytes": total}).decode(t, &d)
	if d.Status != "uploading" || d.ReservedBytes != total {
		t.Fatalf("started: %+v", d)
	}
	return d
}

func initFiles(t *testing.T, s *session, datasetID string, files ...map[string]any) []uploadSlot {
	t.Helper()
	var slots []uploadSlot
	s.must(200, "POST", "/api/customer/datasets/"+datasetID+"/uploads", map[string]any{"files": files}).decode(t, &slots)
	return slots
}

func fileSpec(path string, data []byte, archive bool) map[string]any {
	return map[string]any{"path": path, "size": len(data), "md5": md5hex(data), "archive": archive}
}

// putPart sends chunk n of data raw, with its Content-MD5 (or the one given).
func putPart(t *testing.T, s *session, datasetID, uploadID string, n int, data []byte, contentMD5 string) *reply {
	t.Helper()
	lo := (n - 1) * chunk
	hi := min(lo+chunk, len(data))
	part := data[lo:hi]
	if contentMD5 == "" {
		contentMD5 = md5b64(part)
	}
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/customer/datasets/%s/uploads/%s/parts/%d", s.e.srv.URL, datasetID, uploadID, n),
		bytes.NewReader(part))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-MD5", contentMD5)
	req.Header.Set("Authorization", "Bearer "+s.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := &reply{Status: resp.StatusCode}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatalf("part %d: %d %s", n, resp.StatusCode, raw)
	}
	return r
}

// uploadAll sends every part not confirmed yet and completes the upload.
func uploadAll(t *testing.T, s *session, datasetID string, slot uploadSlot, data []byte) {
	t.Helper()
	have := map[int]bool{}
	for _, n := range slot.ConfirmedParts {
		have[n] = true
	}
	for n := slot.ChunkCount; n >= 1; n-- { // out of order
		if !have[n] {
			if r := putPart(t, s, datasetID, slot.UploadID, n, data, ""); r.Status != 200 {
				t.Fatalf("part %d: %d %s", n, r.Status, r.Data)
			}
		}
	}
	s.must(200, "POST", "/api/customer/datasets/"+datasetID+"/uploads/"+slot.UploadID+"/complete", nil)
}

func waitDataset(t *testing.T, e *env, id string, statuses ...string) *store.Dataset {
	t.Helper()
	var d *store.Dataset
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		d, err = e.st.IngestDataset(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range statuses {
			if d.Status == s {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataset %s is %s (%s %v), want %v", id, d.Status, d.StatusReason, d.StatusParams, statuses)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func datasetFiles(t *testing.T, e *env, id string) map[string]int64 {
	t.Helper()
	rows, err := e.st.Pool.Query(context.Background(), `SELECT path, size FROM dataset_files WHERE dataset_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var p string
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		out[p] = n
	}
	return out
}

func uploadReason(t *testing.T, r *reply) string {
	var d struct{ Reason string }
	_ = json.Unmarshal(r.Data, &d)
	return d.Reason
}

// A 12 MiB file in 5 MiB chunks sent out of order, resumed, one bad chunk
// refused; then instant upload within the company, and not across companies.
func TestDatasetUploadResumeAndInstant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	owner := e.login("owner-a")
	big := randomBytes(t, 12<<20)
	small := []byte("hello, datasets\n")
	d := startUpload(t, owner, "big", int64(len(big)+len(small)))

	slots := initFiles(t, owner, d.ID, fileSpec("data/big.bin", big, false), fileSpec("small.txt", small, false))
	if slots[0].State != "open" || slots[0].ChunkCount != 3 || slots[0].ChunkSize != chunk || len(slots[0].ConfirmedParts) != 0 {
		t.Fatalf("init: %+v", slots)
	}
	// part 1, then asking again resumes the same upload with part 1 confirmed
	if r := putPart(t, owner, d.ID, slots[0].UploadID, 1, big, ""); r.Status != 200 {
		t.Fatalf("part 1: %d %s", r.Status, r.Data)
	}
	again := initFiles(t, owner, d.ID, fileSpec("data/big.bin", big, false))
	if again[0].UploadID != slots[0].UploadID || fmt.Sprint(again[0].ConfirmedParts) != "[1]" {
		t.Fatalf("resume: %+v", again)
	}
	// a chunk whose Content-MD5 is wrong is refused and not recorded
	if r := putPart(t, owner, d.ID, slots[0].UploadID, 2, big, md5b64([]byte("other"))); r.Status != 400 || uploadReason(t, r) != "uploads.chunkMd5Mismatch" {
		t.Fatalf("bad md5: %d %s", r.Status, r.Data)
	}
	var open []uploadSlot
	owner.must(200, "GET", "/api/customer/datasets/"+d.ID+"/uploads", nil).decode(t, &open)
	sort.Slice(open, func(i, j int) bool { return open[i].Path < open[j].Path })
	if len(open) != 2 || fmt.Sprint(open[0].ConfirmedParts) != "[1]" {
		t.Fatalf("open uploads: %+v", open)
	}
	// a wrong size is refused too; completing with parts missing names them
	if r := putPart(t, owner, d.ID, slots[0].UploadID, 3, big[:len(big)-1], ""); r.Status != 400 {
		t.Fatalf("short last part: %d", r.Status)
	}
	r := owner.must(409, "POST", "/api/customer/datasets/"+d.ID+"/uploads/"+slots[0].UploadID+"/complete", nil)
	if !strings.Contains(string(r.Data), `"parts":"2,3"`) {
		t.Fatalf("missing parts: %s", r.Data)
	}
	// finish refused while uploads are open
	owner.must(409, "POST", "/api/customer/datasets/"+d.ID+"/finish", nil)
	uploadAll(t, owner, d.ID, again[0], big)
	uploadAll(t, owner, d.ID, slots[1], small)
	owner.must(202, "POST", "/api/customer/datasets/"+d.ID+"/finish", nil)
	done := waitDataset(t, e, d.ID, "available", "failed")
	if done.Status != "available" || done.SizeBytes != int64(len(big)+len(small)) || done.FileCount != 2 || done.ReservedBytes != 0 {
		t.Fatalf("finished: %+v", done)
	}
	if f := datasetFiles(t, e, d.ID); f["data/big.bin"] != int64(len(big)) || f["small.txt"] != int64(len(small)) {
		t.Fatalf("files: %v", f)
	}
	use, _ := e.st.TenantStorage(context.Background(), e.fx.tenantA.ID, 1<<40, false)
	if use.UsedBytes != int64(len(big)+len(small)) || use.ReservedBytes != 0 {
		t.Fatalf("storage use: %+v", use)
	}

	// the same content in another dataset: done at once, nothing sent
	d2 := startUpload(t, owner, "copy", int64(len(big)))
	inst := initFiles(t, owner, d2.ID, fileSpec("copy.bin", big, false))
	if inst[0].State != "done" || inst[0].UploadID != "" {
		t.Fatalf("instant: %+v", inst)
	}
	owner.must(202, "POST", "/api/customer/datasets/"+d2.ID+"/finish", nil)
	if d := waitDataset(t, e, d2.ID, "available", "failed"); d.Status != "available" || d.FileCount != 1 || d.SizeBytes != int64(len(big)) {
		t.Fatalf("instant dataset: %+v", d)
	}
	// another company uploading the same content sends it
	ownerB := e.login("owner-b")
	d3 := startUpload(t, ownerB, "theirs", int64(len(big)))
	if s := initFiles(t, ownerB, d3.ID, fileSpec("big.bin", big, false)); s[0].State != "open" {
		t.Fatalf("another company got instant upload: %+v", s)
	}
	// and may not touch A's dataset
	ownerB.must(404, "POST", "/api/customer/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("x", small, false)}})
	if r := putPart(t, ownerB, d.ID, slots[0].UploadID, 1, big, ""); r.Status != 404 {
		t.Fatalf("B put a part into A's upload: %d", r.Status)
	}
}

// Over quota nothing is created; a same-content upload verified twice is merged.
func TestDatasetUploadQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true, config: func(c *config.Config) { c.Datasets.DefaultQuota = 1 << 20 }})
	owner := e.login("owner-a")
	r := owner.must(409, "POST", "/api/customer/datasets/upload", map[string]any{"name": "too big", "type": "image", "totalBytes": 2 << 20})
	if uploadReason(t, r) != "uploads.quotaExceeded" || !strings.Contains(string(r.Data), `"quota":"1.0 MiB"`) {
		t.Fatalf("over quota: %s", r.Data)
	}
	var n int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM datasets`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d datasets created over quota", n)
	}
	// within the reservation, then growing past the quota by adding files
	d := startUpload(t, owner, "small", 1000)
	data := randomBytes(t, 900<<10)
	initFiles(t, owner, d.ID, fileSpec("a.bin", data, false))
	r = owner.must(409, "POST", "/api/customer/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("b.bin", randomBytes(t, 200<<10), false)}})
	if uploadReason(t, r) != "uploads.quotaExceeded" {
		t.Fatalf("growing over quota: %s", r.Data)
	}
	var open []uploadSlot
	owner.must(200, "GET", "/api/customer/datasets/"+d.ID+"/uploads", nil).decode(t, &open)
	if len(open) != 1 {
		t.Fatalf("the refused batch left uploads: %+v", open)
	}
	// nothing uploaded yet: nothing to finish
	if r := owner.must(409, "POST", "/api/customer/datasets/"+startUpload(t, owner, "empty", 0).ID+"/finish", nil); uploadReason(t, r) != "uploads.nothingUploaded" {
		t.Fatalf("empty finish: %s", r.Data)
	}
	// a member may not add files to the owner's dataset
	e.login("member-a").must(403, "POST", "/api/customer/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("c.bin", data, false)}})
}

func zipBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Archives are extracted (folders kept); a zip bomb and a zip slip are
// refused with a 400 when their upload is whole, a tar.gz slip fails the
// dataset with a reason; none leaves a file.
func TestDatasetUploadArchives(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	owner := e.login("owner-a")
	upload := func(name string, data []byte, ext string) *store.Dataset {
		d := startUpload(t, owner, name, int64(len(data)))
		s := initFiles(t, owner, d.ID, fileSpec("pack/"+name+ext, data, true))
		uploadAll(t, owner, d.ID, s[0], data)
		owner.must(202, "POST", "/api/customer/datasets/"+d.ID+"/finish", nil)
		return waitDataset(t, e, d.ID, "available", "failed")
	}
	good := upload("good", zipBytes(t, map[string][]byte{"a.txt": []byte("a"), "img/b.png": []byte("bb"), "img/deep/c.bin": []byte("ccc")}), ".zip")
	if good.Status != "available" || good.FileCount != 3 || good.SizeBytes != 6 {
		t.Fatalf("zip: %+v", good)
	}
	if f := datasetFiles(t, e, good.ID); f["pack/img/deep/c.bin"] != 3 || f["pack/a.txt"] != 1 || len(f) != 3 {
		t.Fatalf("zip files: %v", f)
	}
	// a zip that cannot be unpacked is refused by its directory when it is
	// whole (here by its one part): 400, nothing kept, the upload aborted
	refused := func(name string, data []byte) (*reply, store.Dataset) {
		d := startUpload(t, owner, name, int64(len(data)))
		s := initFiles(t, owner, d.ID, fileSpec("pack/"+name+".zip", data, true))
		return putPart(t, owner, d.ID, s[0].UploadID, 1, data, ""), d
	}
	r, bomb := refused("bomb", zipBytes(t, map[string][]byte{"ok.txt": []byte("fine"), "zeros.bin": make([]byte, 20<<20)}))
	if r.Status != 400 || uploadReason(t, r) != "uploads.reason.archiveRatio" {
		t.Fatalf("zip bomb: %d %s", r.Status, r.Data)
	}
	r, slip := refused("slip", zipBytes(t, map[string][]byte{"../../evil.sh": []byte("rm -rf /")}))
	if r.Status != 400 || uploadReason(t, r) != "uploads.reason.archiveUnsafePath" || !strings.Contains(string(r.Data), "../../evil.sh") {
		t.Fatalf("zip slip: %d %s", r.Status, r.Data)
	}
	for _, d := range []store.Dataset{bomb, slip} {
		var open []map[string]any
		owner.must(200, "GET", "/api/customer/datasets/"+d.ID+"/uploads", nil).decode(t, &open)
		if len(open) != 0 {
			t.Fatalf("%s: open uploads left: %v", d.Name, open)
		}
		if n, _, _ := e.objects.Usage(context.Background(), objstore.BucketDatasets, "uploads/"+d.ID+"/"); n != 0 {
			t.Fatalf("%s: %d bytes of the refused archive kept", d.Name, n)
		}
		if r := owner.do("POST", "/api/customer/datasets/"+d.ID+"/finish", nil); r.Status != 409 {
			t.Fatalf("%s: finish with nothing uploaded: %d", d.Name, r.Status)
		}
	}
	// a tar.gz has no directory to look at: the ingest refuses it and the
	// dataset fails with the reason, leaving no file
	tslip := upload("tslip", tarGzBytes(t, map[string][]byte{"ok.txt": []byte("fine"), "../../evil.sh": []byte("rm -rf /")}), ".tar.gz")
	if tslip.Status != "failed" || tslip.StatusReason != "uploads.reason.archiveUnsafePath" || tslip.StatusParams["path"] != "../../evil.sh" ||
		len(datasetFiles(t, e, tslip.ID)) != 0 {
		t.Fatalf("tar.gz slip: %+v", tslip)
	}
	var blobs int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM dataset_blobs WHERE NOT verified`).Scan(&blobs)
	if blobs != 0 {
		t.Fatalf("%d unverified blobs left by the failed archives", blobs)
	}
}

// URL imports: a loopback URL is refused up front by default; allowed,
// a file and an archive are imported.
func TestDatasetImportURL(t *testing.T) {
	t.Parallel()
	content := randomBytes(t, 3<<20)
	archive := zipBytes(t, map[string][]byte{"x/1.txt": []byte("one"), "2.txt": []byte("two")})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data/file.bin":
			_, _ = w.Write(content)
		case "/go":
			http.Redirect(w, r, "/data/set.zip", http.StatusFound)
		case "/data/set.zip":
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	e := newEnv(t, options{temporal: true, objects: true})
	owner := e.login("owner-a")
	for _, u := range []string{srv.URL + "/data/file.bin", "http://169.254.169.254/latest/meta-data", "ftp://example.com/x", "http://localhost/x"} {
		r := owner.must(400, "POST", "/api/customer/datasets/import-url", map[string]any{"name": "n", "type": "other", "url": u})
		if uploadReason(t, r) != "uploads.urlForbidden" {
			t.Fatalf("%s: %s", u, r.Data)
		}
	}

	e2 := newEnv(t, options{temporal: true, objects: true, config: func(c *config.Config) { c.Datasets.ImportAllowPrivate = true }})
	owner = e2.login("owner-a")
	var d store.Dataset
	owner.must(201, "POST", "/api/customer/datasets/import-url", map[string]any{"name": "file", "type": "other", "url": srv.URL + "/data/file.bin"}).decode(t, &d)
	got := waitDataset(t, e2, d.ID, "available", "failed")
	if got.Status != "available" || got.FileCount != 1 || got.SizeBytes != int64(len(content)) || got.ProgressBytes != int64(len(content)) {
		t.Fatalf("url file: %+v", got)
	}
	if f := datasetFiles(t, e2, d.ID); f["file.bin"] != int64(len(content)) {
		t.Fatalf("url files: %v", f)
	}
	owner.must(201, "POST", "/api/customer/datasets/import-url", map[string]any{"name": "zip", "type": "text", "url": srv.URL + "/go"}).decode(t, &d)
	got = waitDataset(t, e2, d.ID, "available", "failed")
	if f := datasetFiles(t, e2, d.ID); got.Status != "available" || f["x/1.txt"] != 3 || f["2.txt"] != 3 || len(f) != 2 {
		t.Fatalf("url archive: %+v %v", got, f)
	}
	owner.must(201, "POST", "/api/customer/datasets/import-url", map[string]any{"name": "404", "type": "text", "url": srv.URL + "/nope"}).decode(t, &d)
	if got = waitDataset(t, e2, d.ID, "available", "failed"); got.StatusReason != "uploads.reason.urlStatus" {
		t.Fatalf("url 404: %+v", got)
	}
	// over the quota left: refused, nothing kept, nothing reserved
	if _, err := e2.st.Pool.Exec(context.Background(), `UPDATE tenants SET storage_quota_bytes = $2 WHERE id = $1`,
		e2.fx.tenantA.ID, int64(len(content))+(1<<20)); err != nil { // what is stored already + 1 MiB
		t.Fatal(err)
	}
	owner.must(201, "POST", "/api/customer/datasets/import-url", map[string]any{"name": "big", "type": "other", "url": srv.URL + "/data/file.bin"}).decode(t, &d)
	if got = waitDataset(t, e2, d.ID, "available", "failed"); got.StatusReason != "uploads.reason.quotaExceeded" || got.ReservedBytes != 0 ||
		len(datasetFiles(t, e2, d.ID)) != 0 {
		t.Fatalf("url over quota: %+v", got)
	}
	// an admin imports a public dataset
	var pub store.Dataset
	e2.login("admin1").must(201, "POST", "/api/admin/datasets", map[string]any{"name": "pub", "type": "other", "access": "public",
		"url": srv.URL + "/data/set.zip"}).decode(t, &pub)
	if got = waitDataset(t, e2, pub.ID, "available", "failed"); got.Status != "available" || !got.Public || got.FileCount != 2 {
		t.Fatalf("public import: %+v", got)
	}
}

// A file whose content is not the MD5 it was announced with fails the
// ingest, naming it; nothing of the dataset stays.
func TestDatasetUploadMD5Mismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	owner := e.login("owner-a")
	data := randomBytes(t, 7<<20)
	d := startUpload(t, owner, "liar", int64(len(data)))
	spec := fileSpec("x/liar.bin", data, false)
	spec["md5"] = md5hex([]byte("something else"))
	s := initFiles(t, owner, d.ID, spec, fileSpec("ok.txt", []byte("ok"), false))
	uploadAll(t, owner, d.ID, s[0], data)
	uploadAll(t, owner, d.ID, s[1], []byte("ok"))
	owner.must(202, "POST", "/api/customer/datasets/"+d.ID+"/finish", nil)
	got := waitDataset(t, e, d.ID, "available", "failed")
	if got.Status != "failed" || got.StatusReason != "uploads.reason.md5Mismatch" || got.StatusParams["path"] != "x/liar.bin" || got.ReservedBytes != 0 {
		t.Fatalf("md5 mismatch: %+v", got)
	}
	var n int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM dataset_blobs`).Scan(&n)
	if n != 0 || len(datasetFiles(t, e, d.ID)) != 0 {
		t.Fatalf("%d blobs and files %v left", n, datasetFiles(t, e, d.ID))
	}
	// the objects go right after the dataset is marked failed
	waitFor(t, "the refused file's object removed", func() bool {
		_, err := e.objects.Stat(context.Background(), "datasets", s[0].uploadKey(e, d))
		return errors.Is(err, objstore.ErrNotFound)
	})
}

// uploadKey is where an upload's file is stored (its blob key).
func (s uploadSlot) uploadKey(e *env, d store.Dataset) string {
	return d.TenantID + "/blobs/" + s.UploadID
}

// An admin uploads a public dataset with the same protocol under /api/admin.
func TestDatasetAdminUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	admin := e.login("admin1")
	data := []byte("public data\n")
	var d store.Dataset
	admin.must(201, "POST", "/api/admin/datasets", map[string]any{"name": "pub", "type": "text", "access": "public", "totalBytes": len(data)}).decode(t, &d)
	if !d.Public || d.Status != "uploading" {
		t.Fatalf("public dataset: %+v", d)
	}
	var slots []uploadSlot
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("p.txt", data, false)}}).decode(t, &slots)
	req, _ := http.NewRequest("PUT", e.srv.URL+"/api/admin/datasets/"+d.ID+"/uploads/"+slots[0].UploadID+"/parts/1", bytes.NewReader(data))
	req.Header.Set("Content-MD5", md5b64(data))
	req.Header.Set("Authorization", "Bearer "+admin.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin part: %v %v", err, resp)
	}
	resp.Body.Close()
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/uploads/"+slots[0].UploadID+"/complete", nil)
	// a zero-byte file: completed without a part
	var empty []uploadSlot
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("empty.txt", []byte{}, false)}}).decode(t, &empty)
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/uploads/"+empty[0].UploadID+"/complete", nil)
	admin.must(202, "POST", "/api/admin/datasets/"+d.ID+"/finish", nil)
	if got := waitDataset(t, e, d.ID, "available", "failed"); got.Status != "available" || got.FileCount != 2 || got.SizeBytes != int64(len(data)) {
		t.Fatalf("public upload: %+v", got)
	}
	// content the platform keeps to admins is not offered to customers
	owner := e.login("owner-a")
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/set-private", nil)
	hidden := startUpload(t, owner, "hidden", int64(len(data)))
	if s := initFiles(t, owner, hidden.ID, fileSpec("q.txt", data, false)); s[0].State != "open" {
		t.Fatalf("instant from an admins-only dataset: %+v", s)
	}
	admin.must(200, "POST", "/api/admin/datasets/"+d.ID+"/set-public", nil)
	// customers get instant upload from public data; their quota is untouched
	c := startUpload(t, owner, "uses public", int64(len(data)))
	if s := initFiles(t, owner, c.ID, fileSpec("q.txt", data, false)); s[0].State != "done" {
		t.Fatalf("instant from public: %+v", s)
	}
	owner.must(202, "POST", "/api/customer/datasets/"+c.ID+"/finish", nil)
	waitDataset(t, e, c.ID, "available")
	owner.must(200, "DELETE", "/api/customer/datasets/"+hidden.ID, nil)
	if use, _ := e.st.TenantStorage(context.Background(), e.fx.tenantA.ID, 1<<40, false); use.UsedBytes != 0 || use.ReservedBytes != 0 {
		t.Fatalf("public content cost the company: %+v", use)
	}
	// a customer may not add files to a public dataset
	owner.must(403, "POST", "/api/customer/datasets/"+d.ID+"/uploads", map[string]any{"files": []any{fileSpec("x.txt", data, false)}})
}

// Uploads nobody touched are aborted (their parts removed) and their
// dataset fails, releasing its reservation.
func TestDatasetUploadsCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	owner := e.login("owner-a")
	data := randomBytes(t, 11<<20)
	d := startUpload(t, owner, "abandoned", int64(len(data)))
	s := initFiles(t, owner, d.ID, fileSpec("a.bin", data, false))
	if r := putPart(t, owner, d.ID, s[0].UploadID, 1, data, ""); r.Status != 200 {
		t.Fatal(r.Status)
	}
	fresh := startUpload(t, owner, "fresh", 10)
	ctx := context.Background()
	if open, err := e.objects.ListIncompleteUploads(ctx, "datasets", d.TenantID+"/blobs/"+s[0].UploadID); err != nil || len(open) != 1 {
		t.Fatalf("the multipart upload in progress: %v %v", open, err)
	}
	for _, q := range []string{`UPDATE dataset_uploads SET updated_at = now() - interval '8 days' WHERE dataset_id = $1`,
		`UPDATE datasets SET updated_at = now() - interval '8 days' WHERE id = $1`} {
		if _, err := e.st.Pool.Exec(ctx, q, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	run, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: e.cfg.TemporalTaskQueue}, workflows.DatasetUploadsCleanup,
		workflows.DatasetUploadsCleanupInput{Prefix: d.TenantID + "/"})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.UploadsCleanupResult
	if err := run.Get(ctx, &res); err != nil || res.UploadsAborted != 1 || res.DatasetsFailed != 1 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	got, _ := e.st.IngestDataset(ctx, d.ID)
	if got.Status != "failed" || got.StatusReason != "uploads.reason.abandoned" || got.ReservedBytes != 0 {
		t.Fatalf("abandoned dataset: %+v", got)
	}
	if f, _ := e.st.IngestDataset(ctx, fresh.ID); f.Status != "uploading" {
		t.Fatalf("a fresh dataset was touched: %+v", f)
	}
	left, err := e.objects.ListIncompleteUploads(ctx, "datasets", d.TenantID+"/blobs/"+s[0].UploadID)
	if err != nil || len(left) != 0 {
		t.Fatalf("multipart upload left: %v %v", left, err)
	}
	// a multipart upload no upload row knows (an api stopped before recording it) goes too
	key := d.TenantID + "/blobs/leftover"
	if _, err := e.objects.NewMultipartUpload(ctx, "datasets", key); err != nil {
		t.Fatal(err)
	}
	run, err = e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: e.cfg.TemporalTaskQueue}, workflows.DatasetUploadsCleanup,
		workflows.DatasetUploadsCleanupInput{OlderThan: time.Nanosecond, Prefix: d.TenantID + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &res); err != nil || res.LeftoversAborted < 1 {
		t.Fatalf("leftovers: %+v %v", res, err)
	}
	if left, err := e.objects.ListIncompleteUploads(ctx, "datasets", key); err != nil || len(left) != 0 {
		t.Fatalf("leftover multipart upload: %v %v", left, err)
	}
}

// Starting an upload whose audit record cannot be written creates nothing.
func TestDatasetUploadNeedsItsAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	failAudits(t, e, "dataset.create")
	if r := e.login("owner-a").do("POST", "/api/customer/datasets/upload", map[string]any{"name": "n", "type": "other", "totalBytes": 1}); r.Status != 500 {
		t.Fatalf("upload without its audit record: %d", r.Status)
	}
	var n int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM datasets`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d datasets created without their audit record", n)
	}
}

func tarGzBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
