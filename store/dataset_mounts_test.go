package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// The agent reads a mount's files only for the mount's machine, while the
// mount's tenant holds it and the mount is mounting or mounted; the end of
// the lease marks the tenant's mounts on that machine unmounted, no other.
func TestDatasetMountRules(t *testing.T) {
	st, _ := storetest.New(t)
	ctx := context.Background()
	ta, tb := newTenant(t, st, "mta"), newTenant(t, st, "mtb")
	m1 := leasedMachine(t, st, ta, "mt-1", 2)
	m2 := leasedMachine(t, st, tb, "mt-2", 2)
	ds, err := st.CreateDataset(ctx, store.NewDataset{TenantID: ta, Name: "d", Type: "other", Access: "team", Source: "upload", Status: store.DatasetAvailable})
	if err != nil {
		t.Fatal(err)
	}
	var blob string
	if err := st.Pool.QueryRow(ctx, `INSERT INTO dataset_blobs (tenant_id, md5, size, object_key) VALUES ($1, 'abc', 3, 'k1') RETURNING id`, ta).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5) VALUES ($1, 'a/b.txt', $2, 3, 'abc')`, ds, blob); err != nil {
		t.Fatal(err)
	}
	mount, err := st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: ta, DatasetID: ds, MachineID: m1, Path: "/data/d"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/data/d", "/data/d/x", "/data"} {
		if _, err := st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: ta, DatasetID: ds, MachineID: m1, Path: p}); !errors.Is(err, store.ErrMountPathInUse) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: ta, DatasetID: ds, MachineID: m1, Path: "/data/dd"}); err != nil {
		t.Errorf("a sibling path: %v", err)
	}
	if _, files, err := st.AgentMountManifest(ctx, m1, mount); err != nil || len(files) != 1 || files[0].Path != "a/b.txt" {
		t.Fatalf("manifest %+v, %v", files, err)
	}
	if key, size, err := st.AgentMountFile(ctx, m1, mount, "a/b.txt"); err != nil || key != "k1" || size != 3 {
		t.Fatalf("file %s %d, %v", key, size, err)
	}
	if _, _, err := st.AgentMountManifest(ctx, m2, mount); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another machine's agent: %v", err)
	}
	if _, _, err := st.AgentMountFile(ctx, m1, mount, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a file not in the dataset: %v", err)
	}
	if ms, err := st.TaskMounts(ctx, ta, m1, []string{mount}); err != nil || len(ms) != 0 {
		t.Fatalf("a mount still mounting is bound: %+v, %v", ms, err)
	}
	if ok, err := st.SetDatasetMountStatus(ctx, mount, store.MountMounted, "", nil, store.MountMounting); !ok || err != nil {
		t.Fatalf("mounted: %v %v", ok, err)
	}
	if ms, err := st.TaskMounts(ctx, ta, m1, []string{mount}); err != nil || len(ms) != 1 || ms[0].Path != "/data/d" {
		t.Fatalf("task mounts %+v, %v", ms, err)
	}
	if ms, _ := st.TaskMounts(ctx, tb, m1, []string{mount}); len(ms) != 0 {
		t.Fatal("another tenant binds the mount")
	}
	// the dataset narrowed to its uploader (team → private): the mount's
	// files and its binding stop at once
	if _, err := st.Pool.Exec(ctx, `UPDATE datasets SET access = 'private' WHERE id = $1`, ds); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AgentMountManifest(ctx, m1, mount); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a dataset no longer readable: manifest %v", err)
	}
	if ms, _ := st.TaskMounts(ctx, ta, m1, []string{mount}); len(ms) != 0 {
		t.Fatal("a dataset no longer readable is bound")
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE datasets SET access = 'team' WHERE id = $1`, ds); err != nil {
		t.Fatal(err)
	}
	// B's mount of its own on its machine stays when A's lease ends
	dsB, _ := st.CreateDataset(ctx, store.NewDataset{TenantID: tb, Name: "b", Type: "other", Access: "team", Source: "upload", Status: store.DatasetAvailable})
	mountB, err := st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: tb, DatasetID: dsB, MachineID: m2, Path: "/data/d"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetDatasetMount(ctx, ta, mount)
	n, err := st.UnmountLeaseMounts(ctx, allocationOf(t, st, m1))
	if err != nil || n != 2 {
		t.Fatalf("unmounted %d, %v (allocation %s)", n, err, got.AllocationID)
	}
	if m, _ := st.GetDatasetMount(ctx, ta, mount); m.Status != store.MountUnmounted || m.StatusReason != "mounts.reason.leaseEnded" {
		t.Fatalf("after the lease %+v", m)
	}
	if m, _ := st.GetDatasetMount(ctx, "", mountB); m.Status != store.MountMounting {
		t.Fatalf("another tenant's mount %+v", m)
	}
	if _, err := st.GetDatasetMount(ctx, tb, mount); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant reads the mount: %v", err)
	}
	if _, _, err := st.AgentMountManifest(ctx, m1, mount); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unmounted mount's manifest: %v", err)
	}
	list, total, err := st.ListDatasetMounts(ctx, store.MountFilter{TenantID: ta, Status: store.MountUnmounted}, store.Page{})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("list %d %d, %v", total, len(list), err)
	}
}

func allocationOf(t *testing.T, st *store.Store, machineID string) string {
	t.Helper()
	var id string
	if err := st.Pool.QueryRow(context.Background(), `SELECT live_allocation_id FROM machines WHERE id = $1`, machineID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
