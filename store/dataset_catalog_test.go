package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// dsFixture: companies A and B with an owner and a member each.
type dsFixture struct {
	st                                *store.Store
	a, b                              *store.Tenant
	ownerA, memberA, member2A, ownerB *store.User
}

func newDSFixture(t *testing.T) *dsFixture { return newDSFixtureTB(t) }

func newDSFixtureTB(t testing.TB) *dsFixture {
	t.Helper()
	st, _ := storetest.New(t)
	ctx := context.Background()
	f := &dsFixture{st: st}
	mkTenant := func(code string) *store.Tenant {
		tn := &store.Tenant{Name: code, Company: "Company " + code, Code: code, Email: code + "@example.test", Status: "active"}
		if err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	mkUser := func(tenant *store.Tenant, name, role string) *store.User {
		u := &store.User{TenantID: &tenant.ID, Username: name, Name: name, Email: name + "@example.test", Role: role, AuthSource: "local", PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.a, f.b = mkTenant("ds-a"), mkTenant("ds-b")
	f.ownerA, f.memberA, f.member2A = mkUser(f.a, "ds-owner-a", "owner"), mkUser(f.a, "ds-member-a", "member"), mkUser(f.a, "ds-member2-a", "member")
	f.ownerB = mkUser(f.b, "ds-owner-b", "owner")
	return f
}

// dataset makes an available dataset of tenant (nil: public) by user.
func (f *dsFixture) dataset(t testing.TB, tenant *store.Tenant, by *store.User, name, access string) string {
	t.Helper()
	n := store.NewDataset{Name: name, Type: "text", Access: access, Source: "upload", Status: store.DatasetAvailable}
	if tenant != nil {
		n.TenantID = tenant.ID
	}
	if by != nil {
		n.CreatedBy, n.CreatedByName = by.ID, by.Username
	}
	id, err := f.st.CreateDataset(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// file adds a file with a blob of its own (or the blob given) and returns the blob.
func (f *dsFixture) file(t *testing.T, datasetID, path string, size int64, blob string) string {
	t.Helper()
	ctx := context.Background()
	if blob == "" {
		if err := f.st.Pool.QueryRow(ctx, `INSERT INTO dataset_blobs (tenant_id, md5, size, object_key, verified)
			SELECT tenant_id, md5(random()::text), $2, 'test/' || gen_random_uuid(), true FROM datasets WHERE id = $1 RETURNING id`,
			datasetID, size).Scan(&blob); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.Pool.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5) SELECT $1, $2, id, size, md5 FROM dataset_blobs WHERE id = $3`,
		datasetID, path, blob); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Pool.Exec(ctx, `UPDATE datasets SET size_bytes = (SELECT sum(size) FROM dataset_files WHERE dataset_id = $1),
		file_count = (SELECT count(*) FROM dataset_files WHERE dataset_id = $1) WHERE id = $1`, datasetID); err != nil {
		t.Fatal(err)
	}
	return blob
}

func (f *dsFixture) share(t *testing.T, datasetID string, to *store.Tenant, status string) string {
	t.Helper()
	sh, err := f.st.ShareDataset(context.Background(), datasetID, to.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if status != store.SharePending {
		if err := f.st.DecideShare(context.Background(), sh.ID, status, "r", ""); err != nil {
			t.Fatal(err)
		}
	}
	return sh.ID
}

func names(list []store.Dataset) map[string]bool {
	out := map[string]bool{}
	for _, d := range list {
		out[d.Name] = true
	}
	return out
}

func TestDatasetVisibility(t *testing.T) {
	t.Parallel()
	f := newDSFixture(t)
	ctx := context.Background()
	f.dataset(t, f.a, f.member2A, "a-team", store.AccessTeam)
	f.dataset(t, f.a, f.ownerA, "a-owner-private", store.AccessPrivate)
	f.dataset(t, f.a, f.memberA, "a-member-private", store.AccessPrivate)
	f.dataset(t, nil, nil, "pub-public", store.AccessPublic)
	f.dataset(t, nil, nil, "pub-private", store.AccessPrivate)
	approved := f.dataset(t, f.b, f.ownerB, "b-approved", store.AccessPrivate)
	pending := f.dataset(t, f.b, f.ownerB, "b-pending", store.AccessTeam)
	rejected := f.dataset(t, f.b, f.ownerB, "b-rejected", store.AccessTeam)
	f.share(t, approved, f.a, store.ShareApproved)
	f.share(t, pending, f.a, store.SharePending)
	f.share(t, rejected, f.a, store.ShareRejected)

	member := store.DatasetScope{TenantID: f.a.ID, UserID: f.memberA.ID}
	member2 := store.DatasetScope{TenantID: f.a.ID, UserID: f.member2A.ID}
	owner := store.DatasetScope{TenantID: f.a.ID, UserID: f.ownerA.ID, Owner: true}
	ownerB := store.DatasetScope{TenantID: f.b.ID, UserID: f.ownerB.ID, Owner: true}
	list := func(s store.DatasetScope, tab string) map[string]bool {
		t.Helper()
		l, total, err := f.st.ListDatasets(ctx, s, store.DatasetFilter{Tab: tab}, store.Page{Page: 1, PageSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(l) {
			t.Fatalf("total %d for %d rows", total, len(l))
		}
		return names(l)
	}
	want := func(got map[string]bool, names ...string) {
		t.Helper()
		if len(got) != len(names) {
			t.Fatalf("got %v, want %v", got, names)
		}
		for _, n := range names {
			if !got[n] {
				t.Fatalf("got %v, want %v", got, names)
			}
		}
	}
	want(list(member, store.DatasetTabMine), "a-team", "a-member-private")
	want(list(member2, store.DatasetTabMine), "a-team")
	want(list(owner, store.DatasetTabMine), "a-team", "a-owner-private", "a-member-private")
	want(list(member, store.DatasetTabPublic), "pub-public")
	want(list(member, store.DatasetTabShared), "b-approved")
	want(list(ownerB, store.DatasetTabMine), "b-approved", "b-pending", "b-rejected")
	want(list(ownerB, store.DatasetTabShared))
	want(list(store.DatasetScope{Admin: true}, store.DatasetTabPlatform), "pub-public", "pub-private")
	want(list(store.DatasetScope{Admin: true}, store.DatasetTabPending), "b-pending")

	d, err := f.st.GetDataset(ctx, member, approved)
	if err != nil || !d.Shared {
		t.Fatalf("approved share: %+v %v", d, err)
	}
	for _, id := range []string{pending, rejected} {
		if _, err := f.st.GetDataset(ctx, member, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a pending or rejected share is visible: %v", err)
		}
	}
	// filters and sort
	l, _, err := f.st.ListDatasets(ctx, owner, store.DatasetFilter{Tab: store.DatasetTabMine, Q: "PRIVATE"},
		store.Page{Page: 1, PageSize: 10, SortBy: "name", Order: "desc"})
	if err != nil || len(l) != 2 || l[0].Name != "a-owner-private" {
		t.Fatalf("q and sort: %+v %v", l, err)
	}
}

func TestDatasetFolderListing(t *testing.T) {
	t.Parallel()
	f := newDSFixture(t)
	ctx := context.Background()
	id := f.dataset(t, f.a, f.ownerA, "files", store.AccessTeam)
	f.file(t, id, "a.txt", 1, "")
	f.file(t, id, "dir/b.txt", 10, "")
	f.file(t, id, "dir/sub/c.txt", 100, "")
	f.file(t, id, "dir/sub/d.txt", 1000, "")
	f.file(t, id, "dir0/e.txt", 5, "") // '0' sorts right after '/': not under dir
	f.file(t, id, "dirx.txt", 7, "")
	ls := func(dir, q string, p store.Page) ([]store.DatasetEntry, int) {
		t.Helper()
		if p.Page == 0 {
			p = store.Page{Page: 1, PageSize: 50}
		}
		l, total, err := f.st.ListDatasetFiles(ctx, id, store.FileQuery{Dir: dir, Q: q}, p)
		if err != nil {
			t.Fatal(err)
		}
		return l, total
	}
	root, total := ls("", "", store.Page{})
	got := ""
	for _, e := range root {
		got += fmt.Sprintf("%s:%v:%d:%d ", e.Path, e.Dir, e.Size, e.FileCount)
	}
	if want := "dir:true:1110:3 dir0:true:5:1 a.txt:false:1:1 dirx.txt:false:7:1 "; got != want || total != 4 {
		t.Fatalf("root: %q (%d), want %q", got, total, want)
	}
	sub, _ := ls("dir", "", store.Page{})
	if len(sub) != 2 || sub[0].Path != "dir/sub" || !sub[0].Dir || sub[0].Size != 1100 || sub[1].Path != "dir/b.txt" || sub[1].Name != "b.txt" {
		t.Fatalf("dir: %+v", sub)
	}
	// sorted by size descending, folders first; paged
	page, total := ls("", "", store.Page{Page: 2, PageSize: 2, SortBy: "size", Order: "desc"})
	if total != 4 || len(page) != 2 || page[0].Path != "dirx.txt" || page[1].Path != "a.txt" {
		t.Fatalf("page 2 by size: %+v (%d)", page, total)
	}
	found, total := ls("", "c.t", store.Page{})
	if total != 1 || found[0].Path != "dir/sub/c.txt" || found[0].Name != "c.txt" {
		t.Fatalf("search: %+v", found)
	}
	if l, total := ls("nothing", "", store.Page{}); len(l) != 0 || total != 0 {
		t.Fatalf("an empty folder: %+v", l)
	}
}

func TestDatasetRenameAndDelete(t *testing.T) {
	t.Parallel()
	f := newDSFixture(t)
	ctx := context.Background()
	id := f.dataset(t, f.a, f.ownerA, "files", store.AccessTeam)
	other := f.dataset(t, f.a, f.ownerA, "other", store.AccessTeam)
	shared := f.file(t, id, "dir/a.txt", 10, "")
	f.file(t, other, "copy.txt", 10, shared) // the same blob in another dataset
	own := f.file(t, id, "dir/sub/b.txt", 20, "")
	f.file(t, id, "top.txt", 5, "")

	// collisions: an existing file, an existing folder, a file where a folder would go
	for _, to := range []string{"top.txt", "dir", "top.txt/x"} {
		if _, err := f.st.RenameDatasetPath(ctx, id, "dir/sub", to, 1024); !errors.Is(err, store.ErrRenameCollision) {
			t.Fatalf("rename to %s: %v", to, err)
		}
	}
	if _, err := f.st.RenameDatasetPath(ctx, id, "nope", "x", 1024); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rename of nothing: %v", err)
	}
	if _, err := f.st.RenameDatasetPath(ctx, id, "dir", "a-longer-name", 20); !errors.Is(err, store.ErrRenameTooLong) {
		t.Fatalf("too long: %v", err)
	}
	n, err := f.st.RenameDatasetPath(ctx, id, "dir", "new/place", 1024)
	if err != nil || n != 2 {
		t.Fatalf("rename folder: %d %v", n, err)
	}
	if _, err := f.st.GetDatasetFile(ctx, id, "new/place/sub/b.txt"); err != nil {
		t.Fatalf("moved file: %v", err)
	}
	if n, err := f.st.RenameDatasetPath(ctx, id, "top.txt", "new/top.txt", 1024); err != nil || n != 1 {
		t.Fatalf("rename file: %d %v", n, err)
	}

	// delete the folder: its files go, the dataset is counted again, the
	// blob only it used is orphaned, the one another dataset uses is not
	if _, err := f.st.DeleteDatasetFiles(ctx, id, "new/pl"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a prefix that is no folder: %v", err)
	}
	n, err = f.st.DeleteDatasetFiles(ctx, id, "new/place")
	if err != nil || n != 2 {
		t.Fatalf("delete folder: %d %v", n, err)
	}
	d, _ := f.st.GetDataset(ctx, store.DatasetScope{Admin: true}, id)
	if d.FileCount != 1 || d.SizeBytes != 5 {
		t.Fatalf("after delete: %d files, %d bytes", d.FileCount, d.SizeBytes)
	}
	orphaned := func(blob string) bool {
		var o bool
		if err := f.st.Pool.QueryRow(ctx, `SELECT orphaned_at IS NOT NULL FROM dataset_blobs WHERE id = $1`, blob).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if !orphaned(own) || orphaned(shared) {
		t.Fatalf("orphaned: own %v, shared %v", orphaned(own), orphaned(shared))
	}
	orphans, err := f.st.OrphanBlobs(ctx, d.CreatedAt.AddDate(0, 0, -1), 10)
	if err != nil || len(orphans) != 1 || orphans[0].ID != own {
		t.Fatalf("orphans: %+v %v", orphans, err)
	}
	if gone, err := f.st.DeleteOrphanBlob(ctx, shared); err != nil || gone {
		t.Fatalf("a referenced blob was removed: %v %v", gone, err)
	}
	// deleting the dataset orphans the last of its blobs; the purge removes the row
	if err := f.st.DeleteDataset(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetDataset(ctx, store.DatasetScope{Admin: true}, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted dataset reads: %v", err)
	}
	if ok, err := f.st.PurgeDataset(ctx, id); err != nil || !ok {
		t.Fatalf("purge: %v %v", ok, err)
	}
}

func TestDatasetCleanupCandidates(t *testing.T) {
	t.Parallel()
	f := newDSFixture(t)
	ctx := context.Background()
	failed := f.dataset(t, f.a, f.ownerA, "failed", store.AccessTeam)
	fresh := f.dataset(t, f.a, f.ownerA, "failed-now", store.AccessTeam)
	blob := f.file(t, failed, "x", 10, "")
	f.file(t, fresh, "y", 10, "")
	if _, err := f.st.Pool.Exec(ctx, `UPDATE datasets SET status = 'failed', updated_at = now() - CASE WHEN id = $1 THEN interval '2 days' ELSE interval '0' END
		WHERE id IN ($1, $2)`, failed, fresh); err != nil {
		t.Fatal(err)
	}
	gone := f.dataset(t, f.a, f.ownerA, "deleted", store.AccessTeam)
	if err := f.st.DeleteDataset(ctx, gone); err != nil {
		t.Fatal(err)
	}
	d, err := f.st.GetDataset(ctx, store.DatasetScope{Admin: true}, failed)
	if err != nil {
		t.Fatal(err)
	}
	deleted, fails, err := f.st.DatasetIDsToClean(ctx, d.CreatedAt.Add(-12*time.Hour), 10)
	if err != nil || len(deleted) != 1 || deleted[0] != gone || len(fails) != 1 || fails[0] != failed {
		t.Fatalf("to clean: %v %v %v", deleted, fails, err)
	}
	if err := f.st.ClearFailedDataset(ctx, failed); err != nil {
		t.Fatal(err)
	}
	var files int
	var orphaned bool
	if err := f.st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM dataset_files WHERE dataset_id = $1),
		(SELECT orphaned_at IS NOT NULL FROM dataset_blobs WHERE id = $2)`, failed, blob).Scan(&files, &orphaned); err != nil || files != 0 || !orphaned {
		t.Fatalf("cleared: %d files, orphaned %v, %v", files, orphaned, err)
	}
}
