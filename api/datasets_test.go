package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// dsData makes datasets with real blobs (rows and, with objects, MinIO
// objects) until the uploads land: the catalog reads what they record.
type dsData struct {
	t *testing.T
	e *env
}

func (e *env) datasets(t *testing.T) *dsData {
	t.Helper()
	if e.objects != nil {
		if err := e.objects.EnsureBuckets(context.Background(), objstore.BucketDatasets); err != nil {
			t.Fatal(err)
		}
	}
	return &dsData{t: t, e: e}
}

// create makes an available dataset of tenant ("" public) uploaded by user ("" none).
func (d *dsData) create(tenantID, userID, name, access string) string {
	d.t.Helper()
	id, err := d.e.st.CreateDataset(context.Background(), store.NewDataset{TenantID: tenantID, CreatedBy: userID, CreatedByName: "uploader",
		Name: name, Type: "image", Description: "about " + name, Tags: []string{"tag-" + name}, Access: access, Source: "upload",
		Status: store.DatasetAvailable})
	if err != nil {
		d.t.Fatal(err)
	}
	return id
}

// file adds a file with its content as a verified blob of the dataset's owner.
func (d *dsData) file(datasetID, path string, content []byte) {
	d.t.Helper()
	ctx := context.Background()
	sum := md5.Sum(content)
	var tenant *string
	if err := d.e.st.Pool.QueryRow(ctx, `SELECT tenant_id::text FROM datasets WHERE id = $1`, datasetID).Scan(&tenant); err != nil {
		d.t.Fatal(err)
	}
	owner := "public"
	if tenant != nil {
		owner = *tenant
	}
	var blob, key string
	if err := d.e.st.Pool.QueryRow(ctx, `WITH b AS (SELECT gen_random_uuid() AS id)
		INSERT INTO dataset_blobs (id, tenant_id, md5, size, object_key, verified)
		SELECT b.id, $1::uuid, $2, $3, $4 || '/blobs/' || b.id, true FROM b RETURNING id, object_key`,
		tenant, hex.EncodeToString(sum[:]), len(content), owner).Scan(&blob, &key); err != nil {
		d.t.Fatal(err)
	}
	if d.e.objects != nil {
		if err := d.e.objects.Put(ctx, objstore.BucketDatasets, key, bytes.NewReader(content), int64(len(content)), "application/octet-stream"); err != nil {
			d.t.Fatal(err)
		}
	}
	if _, err := d.e.st.Pool.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5) SELECT $1, $2, id, size, md5 FROM dataset_blobs WHERE id = $3`,
		datasetID, path, blob); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.e.st.Pool.Exec(ctx, `UPDATE datasets SET size_bytes = (SELECT sum(size) FROM dataset_files WHERE dataset_id = $1),
		file_count = (SELECT count(*) FROM dataset_files WHERE dataset_id = $1) WHERE id = $1`, datasetID); err != nil {
		d.t.Fatal(err)
	}
}

type dsPage struct {
	List  []api.DatasetItem `json:"list"`
	Total int               `json:"total"`
}

func listNames(t *testing.T, s *session, path string) []string {
	t.Helper()
	var p dsPage
	s.must(200, "GET", path, nil).decode(t, &p)
	out := []string{}
	for _, d := range p.List {
		out = append(out, d.Name)
	}
	return out
}

func sameNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func dsAuditCount(t *testing.T, e *env, action, target string) int {
	t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = $1 AND target_id = $2`, action, target).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDatasetListsDetailAndEdit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	d := e.datasets(t)
	fx := e.fx
	team := d.create(fx.tenantA.ID, fx.memberA.ID, "a-team", "team")
	private := d.create(fx.tenantA.ID, fx.memberA.ID, "a-private", "private")
	d.create(fx.tenantA.ID, fx.ownerA.ID, "a-owner", "private")
	d.create("", "", "pub", "public")
	d.create("", "", "pub-hidden", "private")
	b := d.create(fx.tenantB.ID, fx.ownerB.ID, "b-team", "team")
	d.file(team, "x.png", []byte("12345"))

	owner, member, ownerB := e.login("owner-a"), e.login("member-a"), e.login("owner-b")
	sameNames(t, "owner's mine", listNames(t, owner, "/api/customer/datasets?sortBy=name"), "a-owner", "a-private", "a-team")
	sameNames(t, "member's mine", listNames(t, member, "/api/customer/datasets?sort=name&order=desc"), "a-team", "a-private")
	sameNames(t, "public", listNames(t, member, "/api/customer/datasets/public"), "pub")
	sameNames(t, "shared", listNames(t, member, "/api/customer/datasets/shared"))
	sameNames(t, "q", listNames(t, owner, "/api/customer/datasets?q=TAG-A-T"), "a-team")
	sameNames(t, "type", listNames(t, owner, "/api/customer/datasets?type=text"))
	sameNames(t, "sizeBytes", listNames(t, owner, "/api/customer/datasets?sortBy=sizeBytes&order=desc&pageSize=1"), "a-team")
	if r := owner.do("GET", "/api/customer/datasets?type=pdf", nil); r.Status != 400 {
		t.Fatalf("a bad type: %d", r.Status)
	}

	// the detail: 404 across companies, canEdit by role and uploader
	ownerB.must(404, "GET", "/api/customer/datasets/"+team, nil)
	owner.must(404, "GET", "/api/customer/datasets/"+b, nil)
	var it api.DatasetItem
	member.must(200, "GET", "/api/customer/datasets/"+team, nil).decode(t, &it)
	if !it.CanEdit || it.FileCount != 1 || it.SizeBytes != 5 || it.Shared || it.Public {
		t.Fatalf("the uploader's view: %+v", it)
	}
	member2 := e.seedUser(fx.tenantA.ID, "member2-a", "member")
	member2.must(200, "GET", "/api/customer/datasets/"+team, nil).decode(t, &it)
	if it.CanEdit {
		t.Fatal("another member may edit")
	}
	member2.must(404, "GET", "/api/customer/datasets/"+private, nil)
	owner.must(200, "GET", "/api/customer/datasets/"+private, nil).decode(t, &it)
	if !it.CanEdit {
		t.Fatal("the owner may not edit")
	}

	// edit: the uploader and an owner may, another member may not
	body := map[string]any{"name": "renamed", "description": "new", "tags": []string{"x", "x", " y "}, "access": "private"}
	member2.must(403, "PUT", "/api/customer/datasets/"+team, body)
	member.must(200, "PUT", "/api/customer/datasets/"+team, body).decode(t, &it)
	if it.Name != "renamed" || it.Access != "private" || strings.Join(it.Tags, ",") != "x,y" {
		t.Fatalf("edited: %+v", it)
	}
	if dsAuditCount(t, e, "dataset.update", team) != 1 {
		t.Fatal("the edit is not audited")
	}
	owner.must(200, "PUT", "/api/customer/datasets/"+team, map[string]any{"access": "team"})
	if r := owner.do("PUT", "/api/customer/datasets/"+team, map[string]any{"access": "public"}); r.Status != 400 {
		t.Fatalf("a customer made its dataset public: %d", r.Status)
	}
	if r := owner.do("PUT", "/api/customer/datasets/"+team, map[string]any{"name": " "}); r.Status != 400 {
		t.Fatalf("an empty name: %d", r.Status)
	}
	ownerB.must(404, "PUT", "/api/customer/datasets/"+team, body)
	// the public dataset reads, but is not the customer's to change
	pub := listNames(t, member, "/api/customer/datasets/public")
	sameNames(t, "public after", pub, "pub")

	var q store.StorageUse
	owner.must(200, "GET", "/api/customer/storage/quota", nil).decode(t, &q)
	if q.UsedBytes != 5 || q.QuotaBytes != 100<<30 || q.CustomQuota {
		t.Fatalf("quota: %+v", q)
	}
	e.login("admin1").must(403, "GET", "/api/customer/storage/quota", nil)
}

// seedUser adds a user to a company and signs it in.
func (e *env) seedUser(tenantID, username, role string) *session {
	e.t.Helper()
	var hash string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE id = $1`, e.fx.memberA.ID).Scan(&hash); err != nil {
		e.t.Fatal(err)
	}
	u := &store.User{TenantID: &tenantID, Username: username, Name: username, Email: username + "@example.test", Role: role, AuthSource: "local", PasswordHash: hash}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return e.login(username)
}

func TestDatasetShareFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	d := e.datasets(t)
	fx := e.fx
	ds := d.create(fx.tenantA.ID, fx.memberA.ID, "to-share", "private")
	owner, member, ownerB, memberB, admin := e.login("owner-a"), e.login("member-a"), e.login("owner-b"), e.login("member-b"), e.login("admin1")
	member2 := e.seedUser(fx.tenantA.ID, "member2-a", "member")

	// who may share, and what
	member2.must(404, "POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"tenantCodes": []string{"tenant-b"}})
	if r := member.do("POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"tenantCodes": []string{"tenant-b", "nope"}}); r.Status != 400 ||
		!strings.Contains(string(r.Data), "nope") {
		t.Fatalf("an unknown code: %d %s", r.Status, r.Data)
	}
	if r := member.do("POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"tenantCodes": []string{"tenant-a"}}); r.Status != 400 {
		t.Fatalf("own company: %d", r.Status)
	}
	var shares []api.DatasetShare
	member.must(200, "POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"access": "team", "tenantCodes": []string{"tenant-b"}}).
		decode(t, &shares)
	if len(shares) != 1 || shares[0].Status != "pending" || shares[0].TenantCode != "tenant-b" {
		t.Fatalf("shares: %+v", shares)
	}
	if dsAuditCount(t, e, "dataset.share", ds) != 1 {
		t.Fatal("the share is not audited")
	}
	// the team sees it now (access team); B does not while pending
	member2.must(200, "GET", "/api/customer/datasets/"+ds, nil)
	sameNames(t, "B's shared while pending", listNames(t, ownerB, "/api/customer/datasets/shared"))
	ownerB.must(404, "GET", "/api/customer/datasets/"+ds, nil)

	// the admin's pending tab lists it with the share and its company
	var pending struct {
		List []api.AdminDatasetItem `json:"list"`
	}
	admin.must(200, "GET", "/api/admin/datasets?tab=pending", nil).decode(t, &pending)
	if len(pending.List) != 1 || len(pending.List[0].PendingShares) != 1 || pending.List[0].PendingShares[0].TenantName != "Company tenant-b" {
		t.Fatalf("pending: %+v", pending.List)
	}
	shareID := pending.List[0].PendingShares[0].ID
	if r := admin.do("POST", "/api/admin/datasets/shares/"+shareID+"/reject", map[string]any{}); r.Status != 400 {
		t.Fatalf("a reject without a reason: %d", r.Status)
	}
	admin.must(200, "POST", "/api/admin/datasets/shares/"+shareID+"/approve", nil)
	admin.must(409, "POST", "/api/admin/datasets/shares/"+shareID+"/approve", nil)
	var notices int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications n JOIN notification_batches b ON b.id = n.batch_id
		WHERE b.code = 'datasets.notice.shareApproved' AND n.user_id = $1`, fx.ownerA.ID).Scan(&notices); err != nil || notices != 1 {
		t.Fatalf("the owner company's notice: %d %v", notices, err)
	}

	// approved: B reads it under shared, read-only
	sameNames(t, "B's shared", listNames(t, memberB, "/api/customer/datasets/shared"), "to-share")
	var it api.DatasetItem
	memberB.must(200, "GET", "/api/customer/datasets/"+ds, nil).decode(t, &it)
	if !it.Shared || it.CanEdit {
		t.Fatalf("B's view: %+v", it)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{{"PUT", "", map[string]any{"name": "x"}}, {"DELETE", "", nil}, {"POST", "/share", map[string]any{"access": "team"}},
		{"POST", "/files/rename", map[string]any{"from": "a", "to": "b"}}, {"GET", "/shares", nil}, {"DELETE", "/files?path=a", nil}} {
		if r := ownerB.do(c.method, "/api/customer/datasets/"+ds+c.path, c.body); r.Status != 404 && r.Status != 403 {
			t.Fatalf("B %s %s: %d", c.method, c.path, r.Status)
		}
	}
	sameNames(t, "B's mine", listNames(t, ownerB, "/api/customer/datasets"))

	// B mounted it on a machine it leases
	ctx := context.Background()
	machineB := &store.Machine{Name: "b-share", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "b-share.example",
		SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := e.st.CreateMachine(ctx, machineB, ""); err != nil {
		t.Fatal(err)
	}
	mountB, err := e.st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: fx.tenantB.ID, DatasetID: ds, MachineID: machineB.ID, Path: "/data/shared"})
	if err != nil {
		t.Fatal(err)
	}

	// revoke: gone for B, and so is its mount of it (unmounting: the agent gets no more of its files)
	member.must(200, "DELETE", "/api/customer/datasets/"+ds+"/shares/"+shareID, nil)
	if m, err := e.st.GetDatasetMount(ctx, fx.tenantB.ID, mountB); err != nil || m.Status != store.MountUnmounting {
		t.Fatalf("B's mount after the revoke: %+v %v", m, err)
	}
	sameNames(t, "B's shared after revoke", listNames(t, memberB, "/api/customer/datasets/shared"))
	memberB.must(404, "GET", "/api/customer/datasets/"+ds, nil)
	member.must(404, "DELETE", "/api/customer/datasets/"+ds+"/shares/"+shareID, nil)

	// a rejection is told with its reason
	member.must(200, "POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"tenantCodes": []string{"tenant-b"}}).decode(t, &shares)
	var decided api.DatasetShare
	admin.must(200, "POST", "/api/admin/datasets/shares/"+shares[0].ID+"/reject", map[string]any{"reason": "contains personal data"}).decode(t, &decided)
	if decided.Status != "rejected" || decided.Reason != "contains personal data" {
		t.Fatalf("rejected: %+v", decided)
	}
	memberB.must(404, "GET", "/api/customer/datasets/"+ds, nil)
	owner.must(200, "GET", "/api/customer/datasets/"+ds+"/shares", nil).decode(t, &shares)
	if len(shares) != 1 || shares[0].Status != "rejected" {
		t.Fatalf("shares after reject: %+v", shares)
	}
}

type entryPage struct {
	List  []api.DatasetEntry `json:"list"`
	Total int                `json:"total"`
}

func TestDatasetFilesPreviewAndDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	d := e.datasets(t)
	fx := e.fx
	ds := d.create(fx.tenantA.ID, fx.memberA.ID, "media", "team")
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...)
	d.file(ds, "images/cats/a b.png", png)
	d.file(ds, "images/readme.txt", []byte("hello 你好"))
	d.file(ds, "data.bin", []byte{0, 1, 2})
	d.file(ds, "page.svg", []byte(`<svg onload="alert(1)"/>`))
	d.file(ds, "big.txt", bytes.Repeat([]byte("a"), 70<<10))
	d.file(ds, "odd/50%41 #?.txt", []byte("pct"))
	member, ownerB := e.login("member-a"), e.login("owner-b")

	var p entryPage
	member.must(200, "GET", "/api/customer/datasets/"+ds+"/files", nil).decode(t, &p)
	if p.Total != 5 || !p.List[0].Dir || p.List[0].Path != "images" || p.List[0].FileCount != 2 || p.List[1].Path != "odd" || p.List[2].Path != "big.txt" {
		t.Fatalf("root: %+v", p)
	}
	member.must(200, "GET", "/api/customer/datasets/"+ds+"/files?dir=images/&sort=name", nil).decode(t, &p)
	if p.Total != 2 || p.List[0].Path != "images/cats" || p.List[1].Name != "readme.txt" || p.List[1].MD5 == "" {
		t.Fatalf("images: %+v", p)
	}
	member.must(200, "GET", "/api/customer/datasets/"+ds+"/files?q=b.p", nil).decode(t, &p)
	if p.Total != 1 || p.List[0].Path != "images/cats/a b.png" {
		t.Fatalf("search: %+v", p)
	}
	if r := member.do("GET", "/api/customer/datasets/"+ds+"/files?dir=../x", nil); r.Status != 400 {
		t.Fatalf("a bad dir: %d", r.Status)
	}
	ownerB.must(404, "GET", "/api/customer/datasets/"+ds+"/files", nil)

	// preview: the path is one URL-encoded segment
	preview := func(path string) *reply {
		return member.do("GET", "/api/customer/datasets/"+ds+"/preview/"+url.PathEscape(path), nil)
	}
	r := preview("images/cats/a b.png")
	if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" || !bytes.Equal(r.Data, png) || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("image preview: %d %q %d bytes", r.Status, r.Header.Get("Content-Type"), len(r.Data))
	}
	r = preview("images/readme.txt")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(r.Data) != "hello 你好" {
		t.Fatalf("text preview: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Data)
	}
	if r = preview("page.svg"); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("svg preview: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if r = preview("odd/50%41 #?.txt"); r.Status != 200 || string(r.Data) != "pct" {
		t.Fatalf("a name with %%, # and ?: %d %q", r.Status, r.Data)
	}
	if r = preview("big.txt"); r.Status != 200 || len(r.Data) != 64<<10 {
		t.Fatalf("big text preview: %d, %d bytes", r.Status, len(r.Data))
	}
	if r = preview("data.bin"); r.Status != 415 {
		t.Fatalf("binary preview: %d", r.Status)
	}
	if r = preview("images/none.png"); r.Status != 404 {
		t.Fatalf("missing preview: %d", r.Status)
	}
	if r := ownerB.do("GET", "/api/customer/datasets/"+ds+"/preview/"+url.PathEscape("images/readme.txt"), nil); r.Status != 404 {
		t.Fatalf("B previews A's file: %d", r.Status)
	}

	// download a file through a link
	var link api.DownloadLink
	member.must(200, "POST", "/api/customer/datasets/"+ds+"/download-link", map[string]any{"path": "images/cats/a b.png"}).decode(t, &link)
	if !strings.HasPrefix(link.URL, "/api/datasets/download?ticket=") || time.Until(link.ExpiresAt) > 6*time.Minute {
		t.Fatalf("link: %+v", link)
	}
	get := func(u string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(e.srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(link.URL)
	if resp.StatusCode != 200 || !bytes.Equal(body, png) || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename="a b.png"`) {
		t.Fatalf("file download: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Disposition"), len(body))
	}
	ownerB.must(404, "POST", "/api/customer/datasets/"+ds+"/download-link", nil)
	if r := member.do("POST", "/api/customer/datasets/"+ds+"/download-link", map[string]any{"path": "nope.txt"}); r.Status != 404 {
		t.Fatalf("a link to nothing: %d", r.Status)
	}

	// the whole dataset as a zip
	member.must(200, "POST", "/api/customer/datasets/"+ds+"/download-link", nil).decode(t, &link)
	resp, body = get(link.URL)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
	}
	if len(got) != 6 || got["images/cats/a b.png"] != string(png) || got["images/readme.txt"] != "hello 你好" || got["data.bin"] != "\x00\x01\x02" {
		t.Fatalf("zip entries: %d %v", len(got), len(got["images/cats/a b.png"]))
	}
	var count int
	var used *time.Time
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT download_count, last_used_at FROM datasets WHERE id = $1`, ds).Scan(&count, &used); err != nil ||
		count != 2 || used == nil {
		t.Fatalf("download count %d, last used %v, %v", count, used, err)
	}

	// forged and expired tickets
	ticket := strings.TrimPrefix(link.URL, "/api/datasets/download?ticket=")
	if resp, _ := get("/api/datasets/download?ticket=" + ticket[:len(ticket)-3] + "abc"); resp.StatusCode != 403 {
		t.Fatalf("forged: %d", resp.StatusCode)
	}
	if resp, _ := get("/api/datasets/download?ticket=garbage"); resp.StatusCode != 403 {
		t.Fatalf("garbage: %d", resp.StatusCode)
	}
	// the user loses the right to read it: the link stops working
	e.st.Pool.Exec(context.Background(), `UPDATE datasets SET access = 'private', created_by = $2 WHERE id = $1`, ds, fx.ownerA.ID)
	if resp, _ := get(link.URL); resp.StatusCode != 404 {
		t.Fatalf("a link of a user who may no longer read: %d", resp.StatusCode)
	}
	e.offset = 6 * time.Minute
	if resp, _ := get(link.URL); resp.StatusCode != 401 {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
	e.offset = 0
	e.st.Pool.Exec(context.Background(), `UPDATE datasets SET access = 'team', created_by = $2 WHERE id = $1`, ds, fx.memberA.ID)

	// rename and delete (writers, audited; the dataset is counted again)
	owner := e.login("owner-a")
	var ch api.FilesChanged
	owner.must(200, "POST", "/api/customer/datasets/"+ds+"/files/rename", map[string]any{"from": "images", "to": "pictures"}).decode(t, &ch)
	if ch.Files != 2 {
		t.Fatalf("renamed %d", ch.Files)
	}
	owner.must(409, "POST", "/api/customer/datasets/"+ds+"/files/rename", map[string]any{"from": "data.bin", "to": "big.txt"})
	owner.must(400, "POST", "/api/customer/datasets/"+ds+"/files/rename", map[string]any{"from": "pictures", "to": "pictures/inner"})
	owner.must(404, "POST", "/api/customer/datasets/"+ds+"/files/rename", map[string]any{"from": "images", "to": "x"})
	e.seedUser(fx.tenantA.ID, "member2-a", "member").must(403, "POST", "/api/customer/datasets/"+ds+"/files/rename",
		map[string]any{"from": "data.bin", "to": "d.bin"})
	owner.must(200, "DELETE", "/api/customer/datasets/"+ds+"/files?path=pictures", nil).decode(t, &ch)
	if ch.Files != 2 {
		t.Fatalf("deleted %d", ch.Files)
	}
	owner.must(404, "DELETE", "/api/customer/datasets/"+ds+"/files?path=pictures", nil)
	var it api.DatasetItem
	owner.must(200, "GET", "/api/customer/datasets/"+ds, nil).decode(t, &it)
	if it.FileCount != 4 || it.SizeBytes != 3+3+int64(len(`<svg onload="alert(1)"/>`))+70<<10 {
		t.Fatalf("after delete: %d files, %d bytes", it.FileCount, it.SizeBytes)
	}
	if dsAuditCount(t, e, "dataset.file_rename", ds) != 1 || dsAuditCount(t, e, "dataset.file_delete", ds) != 1 {
		t.Fatal("file changes are not audited")
	}
}

func TestDatasetDeleteAndCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true, temporal: true})
	d := e.datasets(t)
	fx := e.fx
	ctx := context.Background()
	ds := d.create(fx.tenantA.ID, fx.memberA.ID, "to-delete", "team")
	d.file(ds, "a.bin", bytes.Repeat([]byte("x"), 1000))
	d.file(ds, "b.bin", bytes.Repeat([]byte("y"), 500))
	var key string
	if err := e.st.Pool.QueryRow(ctx, `SELECT b.object_key FROM dataset_files f JOIN dataset_blobs b ON b.id = f.blob_id
		WHERE f.dataset_id = $1 AND f.path = 'a.bin'`, ds).Scan(&key); err != nil {
		t.Fatal(err)
	}
	owner, member2 := e.login("owner-a"), e.seedUser(fx.tenantA.ID, "member2-a", "member")
	var q store.StorageUse
	owner.must(200, "GET", "/api/customer/storage/quota", nil).decode(t, &q)
	if q.UsedBytes != 1500 {
		t.Fatalf("used %d", q.UsedBytes)
	}

	// mounted: refused
	m := &store.Machine{Name: "m-ds", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "m.example", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := e.st.CreateMachine(ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	var mount string
	if err := e.st.Pool.QueryRow(ctx, `INSERT INTO dataset_mounts (tenant_id, dataset_id, machine_id, path, status) VALUES ($1, $2, $3, '/data/x', 'mounted')
		RETURNING id`, fx.tenantA.ID, ds, m.ID).Scan(&mount); err != nil {
		t.Fatal(err)
	}
	member2.must(403, "DELETE", "/api/customer/datasets/"+ds, nil)
	if r := owner.do("DELETE", "/api/customer/datasets/"+ds, nil); r.Status != 409 || !strings.Contains(string(r.Data), "datasets.inUse") {
		t.Fatalf("delete while mounted: %d %s", r.Status, r.Data)
	}
	e.login("admin1").must(409, "DELETE", "/api/admin/datasets/"+ds, nil)
	if _, err := e.st.Pool.Exec(ctx, `UPDATE dataset_mounts SET status = 'unmounted' WHERE id = $1`, mount); err != nil {
		t.Fatal(err)
	}

	owner.must(200, "DELETE", "/api/customer/datasets/"+ds, nil)
	owner.must(404, "GET", "/api/customer/datasets/"+ds, nil)
	if dsAuditCount(t, e, "dataset.delete", ds) != 1 {
		t.Fatal("the delete is not audited")
	}
	// the cleanup the delete started removes the blobs (objects, then rows) and the dataset's row
	waitFor(t, "the company's storage to drop", func() bool {
		owner.must(200, "GET", "/api/customer/storage/quota", nil).decode(t, &q)
		return q.UsedBytes == 0
	})
	if _, _, _, err := e.objects.Get(ctx, objstore.BucketDatasets, key); err != objstore.ErrNotFound {
		t.Fatalf("the blob's object is still there: %v", err)
	}
	waitFor(t, "the dataset's row to go", func() bool {
		var n int
		_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM datasets WHERE id = $1`, ds).Scan(&n)
		return n == 0
	})
}

// An edit, a share or a delete whose audit record cannot be written does not happen.
func TestDatasetChangesNeedTheirAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	d := e.datasets(t)
	ds := d.create(e.fx.tenantA.ID, e.fx.memberA.ID, "audited", "team")
	d.file(ds, "a.txt", []byte("a"))
	owner := e.login("owner-a")
	var it api.DatasetItem

	failAudits(t, e, "dataset.update")
	if r := owner.do("PUT", "/api/customer/datasets/"+ds, map[string]any{"name": "changed"}); r.Status != 500 {
		t.Fatalf("edit without its audit: %d", r.Status)
	}
	failAudits(t, e, "dataset.share")
	if r := owner.do("POST", "/api/customer/datasets/"+ds+"/share", map[string]any{"access": "private", "tenantCodes": []string{"tenant-b"}}); r.Status != 500 {
		t.Fatalf("share without its audit: %d", r.Status)
	}
	failAudits(t, e, "dataset.file_delete")
	if r := owner.do("DELETE", "/api/customer/datasets/"+ds+"/files?path=a.txt", nil); r.Status != 500 {
		t.Fatalf("file delete without its audit: %d", r.Status)
	}
	failAudits(t, e, "dataset.delete")
	if r := owner.do("DELETE", "/api/customer/datasets/"+ds, nil); r.Status != 500 {
		t.Fatalf("delete without its audit: %d", r.Status)
	}
	owner.must(200, "GET", "/api/customer/datasets/"+ds, nil).decode(t, &it)
	if it.Name != "audited" || it.Access != "team" || it.FileCount != 1 {
		t.Fatalf("changed without an audit record: %+v", it)
	}
	var shares []api.DatasetShare
	owner.must(200, "GET", "/api/customer/datasets/"+ds+"/shares", nil).decode(t, &shares)
	if len(shares) != 0 {
		t.Fatalf("shared without an audit record: %+v", shares)
	}
}
