package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store/storetest"
	"github.com/remotegpu/remotegpu/worker"
)

// The storage schedules are created (again without error on the next
// start), and the sample runs once at creation so that the trend has a point.
func TestEnsureStorageSchedules(t *testing.T) {
	c, _ := dialTemporal(t)
	st, _ := storetest.New(t)
	ctx := context.Background()
	queue := fmt.Sprintf("test-storage-schedules-%d", time.Now().UnixNano())
	prefix := queue + "-"
	w := worker.New(c, queue, worker.Deps{Store: st})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	t.Cleanup(func() {
		for _, id := range []string{worker.ScheduleStorageSample, worker.ScheduleDatasetCleanup} {
			_ = c.ScheduleClient().GetHandle(context.Background(), prefix+id).Delete(context.Background())
		}
	})
	if _, err := st.Pool.Exec(ctx, `INSERT INTO dataset_blobs (md5, size, object_key, verified) VALUES ('x', 1234, 'public/blobs/x', true)`); err != nil {
		t.Fatal(err)
	}
	cfg := config.Datasets{Capacity: 5 << 40}
	if err := worker.EnsureStorageSchedules(ctx, c, queue, cfg, prefix); err != nil {
		t.Fatal(err)
	}
	if err := worker.EnsureStorageSchedules(ctx, c, queue, cfg, prefix); err != nil {
		t.Fatalf("second start: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var capacity, used, datasets int64
		err := st.Pool.QueryRow(ctx, `SELECT capacity_bytes, used_bytes, datasets_bytes FROM storage_samples ORDER BY at DESC LIMIT 1`).
			Scan(&capacity, &used, &datasets)
		if err == nil {
			if capacity != 5<<40 || used != 1234 || datasets != 1234 {
				t.Fatalf("sample: capacity %d, used %d, datasets %d", capacity, used, datasets)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no storage sample after the schedule's creation: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
