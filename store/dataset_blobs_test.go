package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func datasetTenant(t *testing.T, st *store.Store, code string) string {
	t.Helper()
	tn := &store.Tenant{Name: code, Company: "Company " + code, Code: code, Email: code + "@example.test", Status: "active"}
	if err := st.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func newDataset(t *testing.T, st *store.Store, tenant string) string {
	t.Helper()
	id, err := st.CreateDataset(context.Background(), store.NewDataset{TenantID: tenant, Name: "d", Type: "other", Access: "team", Source: "upload"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Two reservations that together pass the quota: exactly one is taken.
func TestReserveStorageLocksTheTenant(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	tenant := datasetTenant(t, st, "quota")
	const quota = 1000
	ids := []string{newDataset(t, st, tenant), newDataset(t, st, tenant), newDataset(t, st, tenant), newDataset(t, st, tenant)}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.InTx(ctx, func(tx pgx.Tx) error {
				_, err := store.New(tx).ReserveStorage(ctx, id, tenant, 400, quota)
				return err
			})
		}()
	}
	wg.Wait()
	taken := 0
	for _, err := range errs {
		switch {
		case err == nil:
			taken++
		case !errors.Is(err, store.ErrQuotaExceeded):
			t.Fatal(err)
		}
	}
	u, _ := st.TenantStorage(ctx, tenant, quota, false)
	if taken != 2 || u.ReservedBytes != 800 || u.Free() != 200 {
		t.Fatalf("%d reservations taken, use %+v", taken, u)
	}
	// a public dataset has no quota
	pub := newDataset(t, st, "")
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := store.New(tx).ReserveStorage(ctx, pub, "", 1<<50, quota)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func addBlob(t *testing.T, st *store.Store, tenant, dataset, path, md5 string, size int64) string {
	t.Helper()
	id := uuid.NewString()
	ctx := context.Background()
	if err := st.InsertDatasetBlob(ctx, store.DatasetBlob{ID: id, TenantID: tenant, MD5: md5, Size: size, ObjectKey: "k/" + id}); err != nil {
		t.Fatal(err)
	}
	if err := st.IngestPutFile(ctx, dataset, path, id, size, md5); err != nil {
		t.Fatal(err)
	}
	return id
}

// Instant upload finds the company's and the platform's verified blobs,
// never another company's; the ingest's end verifies and merges equal blobs.
func TestInstantBlobAndVerifiedIngest(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	a, b := datasetTenant(t, st, "ta"), datasetTenant(t, st, "tb")
	const sum = "0123456789abcdef0123456789abcdef"
	da := newDataset(t, st, a)
	first := addBlob(t, st, a, da, "x.bin", sum, 10)
	second := addBlob(t, st, a, da, "copy/x.bin", sum, 10) // the same content twice
	if _, err := st.InstantBlob(ctx, a, sum, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unverified blob was offered: %v", err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE datasets SET status = 'processing', reserved_bytes = 20 WHERE id = $1`, da); err != nil {
		t.Fatal(err)
	}
	var dups []string
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		dups, err = store.New(tx).VerifiedIngest(ctx, da)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, _ := st.IngestDataset(ctx, da)
	kept := first
	if len(dups) == 1 && dups[0] == "k/"+first {
		kept = second
	}
	if len(dups) != 1 || (dups[0] != "k/"+second && dups[0] != "k/"+first) || d.Status != "available" || d.FileCount != 2 || d.SizeBytes != 20 || d.ReservedBytes != 0 {
		t.Fatalf("verified: dups %v, dataset %+v", dups, d)
	}
	got, err := st.InstantBlob(ctx, a, sum, 10)
	if err != nil || got.ID != kept {
		t.Fatalf("instant for the owner: %+v %v", got, err)
	}
	if _, err := st.InstantBlob(ctx, b, sum, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another company found the blob: %v", err)
	}
	if _, err := st.InstantBlob(ctx, "", sum, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the platform found a company's blob: %v", err)
	}
	// a public blob serves every company
	pub := newDataset(t, st, "")
	addBlob(t, st, "", pub, "p.bin", sum, 10)
	_, _ = st.Pool.Exec(ctx, `UPDATE datasets SET status = 'processing' WHERE id = $1`, pub)
	if err := st.InTx(ctx, func(tx pgx.Tx) error { _, err := store.New(tx).VerifiedIngest(ctx, pub); return err }); err != nil {
		t.Fatal(err)
	}
	// … once a dataset customers see (access public) holds it
	if _, err := st.InstantBlob(ctx, b, sum, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("B found the platform's blob of a dataset kept to admins: %v", err)
	}
	_, _ = st.Pool.Exec(ctx, `UPDATE datasets SET access = 'public' WHERE id = $1`, pub)
	if got, err := st.InstantBlob(ctx, b, sum, 10); err != nil || got.TenantID != "" {
		t.Fatalf("public blob for B: %+v %v", got, err)
	}
	if u, _ := st.TenantStorage(ctx, a, 1<<30, false); u.UsedBytes != 10 {
		t.Fatalf("A's use counts the merged blob once: %+v", u)
	}
}

// A failed ingest drops the dataset's files and unverified blobs and
// releases its reservation; verified blobs stay.
func TestFailedIngest(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	a := datasetTenant(t, st, "tf")
	d := newDataset(t, st, a)
	addBlob(t, st, a, d, "a", "00000000000000000000000000000001", 5)
	if _, err := st.Pool.Exec(ctx, `UPDATE datasets SET status = 'processing', reserved_bytes = 5 WHERE id = $1`, d); err != nil {
		t.Fatal(err)
	}
	u := store.DatasetUpload{ID: uuid.NewString(), DatasetID: d, TenantID: a, Path: "b", Size: 1, MD5: "x", ChunkSize: 5, ObjectKey: "up/b"}
	if err := st.CreateDatasetUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var open []store.DatasetUpload
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		keys, open, err = store.New(tx).FailedIngest(ctx, d, "uploads.reason.internal", map[string]any{"x": 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.IngestDataset(ctx, d)
	if len(keys) != 1 || len(open) != 1 || got.Status != "failed" || got.StatusReason != "uploads.reason.internal" || got.ReservedBytes != 0 {
		t.Fatalf("failed: keys %v open %v dataset %+v", keys, open, got)
	}
	var n int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM dataset_blobs`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}
