package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

func TestStorageQuotas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	d := e.datasets(t)
	fx := e.fx
	a := d.create(fx.tenantA.ID, fx.memberA.ID, "a", "team")
	d.file(a, "x", make([]byte, 3000))
	d.create(fx.tenantB.ID, fx.ownerB.ID, "b", "team")
	if _, err := e.st.Pool.Exec(context.Background(), `UPDATE datasets SET status = 'uploading', reserved_bytes = 700 WHERE name = 'b'`); err != nil {
		t.Fatal(err)
	}
	admin, owner := e.login("admin1"), e.login("owner-a")

	var p struct {
		List  []api.TenantQuota `json:"list"`
		Total int               `json:"total"`
	}
	admin.must(200, "GET", "/api/admin/storage/quotas?sortBy=usedBytes&order=desc", nil).decode(t, &p)
	if p.Total != 2 || p.List[0].TenantID != fx.tenantA.ID || p.List[0].UsedBytes != 3000 || p.List[0].QuotaBytes != 100<<30 || p.List[0].CustomQuota ||
		p.List[1].ReservedBytes != 700 {
		t.Fatalf("quotas: %+v", p)
	}
	admin.must(200, "GET", "/api/admin/storage/quotas?q=tenant-b", nil).decode(t, &p)
	if p.Total != 1 || p.List[0].Code != "tenant-b" {
		t.Fatalf("search: %+v", p)
	}

	// a quota below the use is allowed (new uploads are refused)
	var use store.StorageUse
	admin.must(200, "PUT", "/api/admin/storage/quotas/"+fx.tenantA.ID, map[string]any{"quotaBytes": 1000}).decode(t, &use)
	if use.QuotaBytes != 1000 || !use.CustomQuota || use.UsedBytes != 3000 || use.Free() >= 0 {
		t.Fatalf("set: %+v", use)
	}
	owner.must(200, "GET", "/api/customer/storage/quota", nil).decode(t, &use)
	if use.QuotaBytes != 1000 || !use.CustomQuota {
		t.Fatalf("the customer's view: %+v", use)
	}
	var detail api.CustomerDetail // the admin's customer page shows it too
	admin.must(200, "GET", "/api/admin/customers/"+fx.tenantA.ID, nil).decode(t, &detail)
	if detail.Storage.QuotaBytes != 1000 || detail.Storage.UsedBytes != 3000 {
		t.Fatalf("the customer page's storage: %+v", detail.Storage)
	}
	if dsAuditCount(t, e, "storage.quota", fx.tenantA.ID) != 1 {
		t.Fatal("the quota change is not audited")
	}
	if r := admin.do("PUT", "/api/admin/storage/quotas/"+fx.tenantA.ID, map[string]any{"quotaBytes": -1}); r.Status != 400 {
		t.Fatalf("a negative quota: %d", r.Status)
	}
	admin.must(404, "PUT", "/api/admin/storage/quotas/"+fx.memberA.ID, map[string]any{"quotaBytes": 1})
	admin.must(200, "PUT", "/api/admin/storage/quotas/"+fx.tenantA.ID, map[string]any{"quotaBytes": nil}).decode(t, &use)
	if use.QuotaBytes != 100<<30 || use.CustomQuota {
		t.Fatalf("back to the default: %+v", use)
	}
}

func TestStorageOverviewAndDistribution(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	d := e.datasets(t)
	fx := e.fx
	ctx := context.Background()
	a := d.create(fx.tenantA.ID, fx.memberA.ID, "a", "team")
	d.file(a, "one", make([]byte, 4000))
	b := d.create(fx.tenantB.ID, fx.ownerB.ID, "b", "team")
	d.file(b, "two", make([]byte, 1000))
	pub := d.create("", "", "pub", "public")
	d.file(pub, "three", make([]byte, 500))
	now := time.Now().UTC().Truncate(time.Hour)
	for i, at := range []time.Time{now.AddDate(0, 0, -20), now.Add(-2 * time.Hour), now.Add(-time.Hour)} {
		if err := e.st.RecordStorageSample(ctx, store.StorageSample{At: at, CapacityBytes: 10 << 40, UsedBytes: int64(1000 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	// a mount in a region
	m := &store.Machine{Name: "m-st", Region: "上海", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "m.example", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := e.st.CreateMachine(ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO dataset_mounts (tenant_id, dataset_id, machine_id, path, status) VALUES ($1, $2, $3, '/data/a', 'mounted')`,
		fx.tenantA.ID, a, m.ID); err != nil {
		t.Fatal(err)
	}
	admin := e.login("admin1")

	var o api.StorageOverview
	admin.must(200, "GET", "/api/admin/storage/overview", nil).decode(t, &o)
	if o.CapacitySource != "config" || o.CapacityBytes != 10<<40 || o.DatasetsBytes != 5500 || o.UsedBytes < 5500 || len(o.Trend) != 2 ||
		o.FreeBytes != o.CapacityBytes-o.UsedBytes || o.UsageRate <= 0 {
		t.Fatalf("overview 7d: %+v", o)
	}
	admin.must(200, "GET", "/api/admin/storage/overview?range=30d", nil).decode(t, &o)
	if len(o.Trend) != 3 || o.Trend[0].UsedBytes != 1000 {
		t.Fatalf("overview 30d: %+v", o.Trend)
	}
	if r := admin.do("GET", "/api/admin/storage/overview?range=1y", nil); r.Status != 400 {
		t.Fatalf("a bad range: %d", r.Status)
	}

	var dist api.StorageDistribution
	admin.must(200, "GET", "/api/admin/storage/distribution", nil).decode(t, &dist)
	if len(dist.ByCustomer) != 2 || dist.ByCustomer[0].ID != fx.tenantA.ID || dist.ByCustomer[0].Bytes != 4000 || dist.ByCustomer[1].Bytes != 1000 ||
		dist.OtherBytes != 0 || dist.PlatformByte != 500 {
		t.Fatalf("by customer: %+v", dist)
	}
	kinds := map[string]bool{}
	for _, k := range dist.ByKind {
		kinds[k.Kind] = k.Available
		if k.Kind == "datasets" && k.Bytes != 5500 || (k.Kind == "images" || k.Kind == "models") && (k.Available || k.Bytes != 0) {
			t.Fatalf("by kind: %+v", dist.ByKind)
		}
	}
	if !kinds["datasets"] || !kinds["taskOutputs"] || len(kinds) != 4 {
		t.Fatalf("kinds: %+v", dist.ByKind)
	}
	if len(dist.ByRegion) != 1 || dist.ByRegion[0].Name != "上海" || dist.ByRegion[0].Bytes != 4000 {
		t.Fatalf("by region: %+v", dist.ByRegion)
	}
}

func TestStorageCleanupSuggestions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	d := e.datasets(t)
	fx := e.fx
	ctx := context.Background()
	old := d.create(fx.tenantA.ID, fx.memberA.ID, "old", "team")
	d.file(old, "f", []byte("same content"))
	recent := d.create(fx.tenantB.ID, fx.ownerB.ID, "recent", "team")
	d.file(recent, "g", []byte("same content")) // duplicate content across owners
	failed := d.create(fx.tenantA.ID, fx.memberA.ID, "failed", "team")
	d.file(failed, "h", make([]byte, 300))
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.st.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE datasets SET created_at = now() - interval '100 days' WHERE id = $1`, old)
	exec(`UPDATE datasets SET status = 'failed', reserved_bytes = 50 WHERE id = $1`, failed)
	// an upload untouched for two days, with two confirmed parts
	var up string
	if err := e.st.Pool.QueryRow(ctx, `INSERT INTO dataset_uploads (dataset_id, tenant_id, path, size, md5, chunk_size, object_key, updated_at)
		VALUES ($1, $2, 'big.bin', 100000, 'm', 5242880, 'uploads/x', now() - interval '2 days') RETURNING id`, recent, fx.tenantB.ID).Scan(&up); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO dataset_upload_parts (upload_id, part_number, size, md5, etag) VALUES ($1, 1, 600, 'a', 'e'), ($1, 2, 400, 'b', 'e')`, up)
	admin := e.login("admin1")

	var s api.StorageSuggestions
	admin.must(200, "GET", "/api/admin/storage/cleanup-suggestions", nil).decode(t, &s)
	if s.Days != 90 || s.UnusedCount != 1 || s.Unused[0].DatasetID != old || s.Unused[0].Bytes != 12 || s.UnusedBytes != 12 {
		t.Fatalf("unused: %+v", s)
	}
	if s.DuplicateCount != 1 || s.Duplicates[0].Blobs != 2 || s.Duplicates[0].Owners != 2 || s.DuplicateBytes != 12 {
		t.Fatalf("duplicates: %+v", s.Duplicates)
	}
	if s.AbandonedCount != 1 || s.Abandoned[0].UploadID != up || s.AbandonedBytes != 1000 {
		t.Fatalf("abandoned: %+v", s.Abandoned)
	}
	if s.FailedCount != 1 || s.Failed[0].DatasetID != failed || s.FailedBytes != 350 {
		t.Fatalf("failed: %+v", s.Failed)
	}
	if s.TotalBytes != 12+12+1000+350 {
		t.Fatalf("total %d", s.TotalBytes)
	}
	admin.must(200, "GET", "/api/admin/storage/cleanup-suggestions?days=200", nil).decode(t, &s)
	if s.UnusedCount != 0 {
		t.Fatalf("unused for 200 days: %+v", s.Unused)
	}
}
