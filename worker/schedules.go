package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// registerMonitoring registers the monitoring's housekeeping workflows and activities.
func registerMonitoring(w worker.Worker, d Deps) {
	w.RegisterWorkflow(workflows.OfflineDetection)
	w.RegisterWorkflow(workflows.MetricsRollup)
	w.RegisterWorkflow(workflows.MetricsMaintenance)
	w.RegisterActivity(&activities.Metrics{Store: d.Store})
}

// IDs of the monitoring schedules: fixed, so every worker start finds the same ones.
const (
	ScheduleOfflineDetection   = "monitoring-offline-detection"
	ScheduleRollup1m           = "monitoring-rollup-1m"
	ScheduleRollup1h           = "monitoring-rollup-1h"
	ScheduleMetricsMaintenance = "monitoring-maintenance"
	ScheduleReconcile          = "reconcile"
	ScheduleAlertSweep         = "alerting-sweep"
	// ScheduleDatasetUploadsCleanup aborts abandoned dataset uploads (docs/datasets.md).
	ScheduleDatasetUploadsCleanup = "dataset-uploads-cleanup"
)

// ReconcileGrace leaves rows younger than this to the request that is
// starting their workflow.
const ReconcileGrace = time.Minute

// OfflineDetectionEvery is how often silent machines are looked for; a
// machine is offline 3 intervals after its last sample, plus up to this.
const OfflineDetectionEvery = 10 * time.Second

type monitoringSchedule struct {
	id        string
	every     time.Duration
	offset    time.Duration
	workflow  any
	arg       any
	timeout   time.Duration
	immediate bool // run once at creation (partitions for today)
}

func monitoringSchedules(m config.Monitoring) []monitoringSchedule {
	m = m.WithDefaults()
	return []monitoringSchedule{
		{id: ScheduleOfflineDetection, every: OfflineDetectionEvery, workflow: workflows.OfflineDetection,
			arg: workflows.OfflineDetectionInput{OfflineAfter: 3 * m.SampleInterval}, timeout: time.Minute},
		// a few seconds past the minute, so the minute's last samples are in
		{id: ScheduleRollup1m, every: time.Minute, offset: store.RollupSettle + 5*time.Second, workflow: workflows.MetricsRollup,
			arg: workflows.MetricsRollupInput{Level: store.Level1m}, timeout: 30 * time.Minute},
		{id: ScheduleRollup1h, every: time.Hour, offset: 2 * time.Minute, workflow: workflows.MetricsRollup,
			arg: workflows.MetricsRollupInput{Level: store.Level1h}, timeout: 30 * time.Minute},
		{id: ScheduleMetricsMaintenance, every: time.Hour, offset: 7 * time.Minute, workflow: workflows.MetricsMaintenance, immediate: true,
			arg:     workflows.MetricsMaintenanceInput{RetentionRaw: m.RetentionRaw, Retention1m: m.Retention1m, Retention1h: m.Retention1h},
			timeout: time.Hour},
		// halfway between two offline detections, which turn the machines offline it alerts on
		{id: ScheduleAlertSweep, every: workflows.AlertSweepEvery, offset: 5 * time.Second, workflow: workflows.AlertSweep,
			arg: workflows.AlertSweepInput{}, timeout: time.Minute},
		{id: ScheduleReconcile, every: workflows.ReconcileEvery, offset: 30 * time.Second, workflow: workflows.Reconcile,
			arg: activities.ReconcileInput{Grace: ReconcileGrace}, timeout: 10 * time.Minute},
		{id: ScheduleDatasetUploadsCleanup, every: time.Hour, offset: 17 * time.Minute, workflow: workflows.DatasetUploadsCleanup,
			arg: workflows.DatasetUploadsCleanupInput{}, timeout: time.Hour},
	}
}

// EnsureSchedules creates the monitoring schedules (offline detection and
// the alert sweep every 10 s, roll-ups every minute and hour, partitions and
// retention hourly, the reconciler every minute) on
// the task queue, or brings existing ones to the current configuration.
// Safe to call from every worker start; idPrefix is empty in production
// (tests use their own).
func EnsureSchedules(ctx context.Context, c client.Client, taskQueue string, m config.Monitoring, idPrefix string) error {
	if err := ensureSchedules(ctx, c, taskQueue, monitoringSchedules(m), idPrefix); err != nil {
		return err
	}
	slog.Info("monitoring schedules ready", "taskQueue", taskQueue)
	return nil
}

// registerStorage registers the storage sample and the dataset cleanup.
func registerStorage(w worker.Worker, d Deps) {
	w.RegisterWorkflow(workflows.StorageSample)
	w.RegisterWorkflow(workflows.DatasetCleanup)
	w.RegisterActivity(&activities.Storage{Store: d.Store, Objects: d.Objects})
}

// IDs of the storage schedules.
const (
	ScheduleStorageSample  = "storage-sample"
	ScheduleDatasetCleanup = "datasets-cleanup"
)

func storageSchedules(d config.Datasets) []monitoringSchedule {
	d = d.WithDefaults()
	return []monitoringSchedule{
		{id: ScheduleStorageSample, every: time.Hour, offset: 3 * time.Minute, workflow: workflows.StorageSample, immediate: true,
			arg: activities.StorageSampleInput{CapacityBytes: d.Capacity}, timeout: 10 * time.Minute},
		{id: ScheduleDatasetCleanup, every: time.Hour, offset: 11 * time.Minute, workflow: workflows.DatasetCleanup,
			arg: workflows.DatasetCleanupInput{}, timeout: workflows.DatasetCleanupTimeout},
	}
}

// EnsureStorageSchedules creates the storage schedules (a storage sample
// hourly and once now, the dataset cleanup hourly), or brings existing ones
// to the current configuration; like EnsureSchedules.
func EnsureStorageSchedules(ctx context.Context, c client.Client, taskQueue string, d config.Datasets, idPrefix string) error {
	return ensureSchedules(ctx, c, taskQueue, storageSchedules(d), idPrefix)
}

func ensureSchedules(ctx context.Context, c client.Client, taskQueue string, list []monitoringSchedule, idPrefix string) error {
	sc := c.ScheduleClient()
	for _, s := range list {
		id := idPrefix + s.id
		spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: s.every, Offset: s.offset}}}
		action := &client.ScheduleWorkflowAction{ID: id, Workflow: s.workflow, Args: []any{s.arg}, TaskQueue: taskQueue,
			WorkflowExecutionTimeout: s.timeout}
		_, err := sc.Create(ctx, client.ScheduleOptions{ID: id, Spec: spec, Action: action,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute, TriggerImmediately: s.immediate,
			Note: "RemoteGPU monitoring (created by the worker)"})
		if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				sched := in.Description.Schedule
				sched.Spec, sched.Action = &spec, action
				if sched.Policy == nil {
					sched.Policy = &client.SchedulePolicies{}
				}
				sched.Policy.Overlap, sched.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, time.Minute
				return &client.ScheduleUpdate{Schedule: &sched}, nil
			}})
		}
		if err != nil {
			return fmt.Errorf("unable to create schedule %s: %w", id, err)
		}
	}
	return nil
}
