package worker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
	"github.com/remotegpu/remotegpu/worker"
	"github.com/remotegpu/remotegpu/workflows"
)

// The monitoring schedules are created once, brought to the current
// configuration on the next start, and run on the worker: the maintenance
// one at once, making today's partitions.
func TestEnsureSchedules(t *testing.T) {
	c, copts := dialTemporal(t)
	st, _ := storetest.New(t)
	ctx := context.Background()
	queue := fmt.Sprintf("test-schedules-%d", time.Now().UnixNano())
	prefix := queue + "-"
	w := worker.New(c, queue, worker.Deps{Store: st})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ids := []string{worker.ScheduleOfflineDetection, worker.ScheduleRollup1m, worker.ScheduleRollup1h, worker.ScheduleMetricsMaintenance,
		worker.ScheduleAlertSweep, worker.ScheduleReconcile}
	t.Cleanup(func() {
		for _, id := range ids {
			_ = c.ScheduleClient().GetHandle(context.Background(), prefix+id).Delete(context.Background())
		}
	})

	if err := worker.EnsureSchedules(ctx, c, queue, config.Monitoring{}, prefix); err != nil {
		t.Fatal(err)
	}
	// a restart with another sample interval: no error, and the new threshold
	if err := worker.EnsureSchedules(ctx, c, queue, config.Monitoring{SampleInterval: 10 * time.Second}, prefix); err != nil {
		t.Fatalf("second start: %v", err)
	}
	desc, err := c.ScheduleClient().GetHandle(ctx, prefix+worker.ScheduleOfflineDetection).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != worker.OfflineDetectionEvery {
		t.Fatalf("intervals %+v", iv)
	}
	action := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	var in workflows.OfflineDetectionInput
	arg := action.Args[0].(*commonpb.Payload)
	if string(arg.Metadata[converter.MetadataEncoding]) != payloadcodec.Encoding {
		t.Fatalf("the schedule's argument is not encrypted: %s", arg.Metadata)
	}
	if err := copts.DataConverter.FromPayload(arg, &in); err != nil {
		t.Fatal(err)
	}
	if in.OfflineAfter != 30*time.Second || action.TaskQueue != queue {
		t.Fatalf("action %+v, input %+v", action, in)
	}

	// the maintenance schedule ran once on creation: today's partitions exist
	name, _, _ := store.PartitionBounds("gpu_samples", time.Now())
	deadline := time.Now().Add(30 * time.Second)
	for {
		var exists bool
		if err := st.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created by the maintenance schedule", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dialTemporal is a client of the test stack's Temporal (payloads sealed
// with a key of its own), closed with the test, and its options.
func dialTemporal(t *testing.T) (client.Client, client.Options) {
	t.Helper()
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		t.Fatal("TEMPORAL_ADDRESS is not set: run the tests with `make test` (or `bin/remotegpu testenv -- go test ./...`)")
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	copts, err := payloadcodec.ClientOptions(config.Config{TemporalAddress: addr, TemporalNamespace: "default", TemporalPayloadKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c, copts
}
