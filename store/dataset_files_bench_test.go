package store_test

import (
	"context"
	"testing"

	"github.com/remotegpu/remotegpu/store"
)

// BenchmarkListDatasetFiles lists one page of a dataset of 20,000 files in
// 200 folders (and 20,000 files of another dataset around it): the root
// (folders from the next path segment), one folder, and a search.
func BenchmarkListDatasetFiles(b *testing.B) {
	f := newDSFixtureTB(b)
	ctx := context.Background()
	id := f.dataset(b, f.a, f.ownerA, "big", store.AccessTeam)
	other := f.dataset(b, f.a, f.ownerA, "other", store.AccessTeam)
	for _, ds := range []string{id, other} {
		if _, err := f.st.Pool.Exec(ctx, `WITH b AS (INSERT INTO dataset_blobs (tenant_id, md5, size, object_key, verified)
				VALUES ($2::uuid, md5($1), 10, 'bench/' || $1, true) RETURNING id)
			INSERT INTO dataset_files (dataset_id, path, blob_id, size, md5)
			SELECT $1::uuid, 'dir' || (i % 200) || '/sub/file' || i || '.jpg', b.id, 10, 'm' FROM generate_series(1, 20000) i, b`, ds, f.a.ID); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.st.Pool.Exec(ctx, `ANALYZE dataset_files`); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    store.FileQuery
	}{{"root", store.FileQuery{}}, {"folder", store.FileQuery{Dir: "dir7/sub"}}, {"search", store.FileQuery{Q: "file1999"}}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				list, total, err := f.st.ListDatasetFiles(ctx, id, c.q, store.Page{Page: 1, PageSize: 50})
				if err != nil || len(list) == 0 || total == 0 {
					b.Fatalf("%d of %d: %v", len(list), total, err)
				}
			}
		})
	}
}
