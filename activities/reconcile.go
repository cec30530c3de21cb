package activities

import "time"

// ReconcileActivity is the name of the reconciler's activity. It lives in
// internal/reconcile, which starts workflows and so cannot be imported by
// the workflows package; the workflow calls it by this name.
const ReconcileActivity = "ReconcileWorkflows"

type ReconcileInput struct {
	// Grace leaves rows younger than this alone: their request may still
	// be starting their workflow.
	Grace time.Duration
}

// ReconcileResult counts what the reconciler repaired.
type ReconcileResult struct {
	AllocationsStarted int // live leases that had no running workflow
	AllocationsClosed  int // pending leases whose workflow failed: the machine is free again
	CleanupsStarted    int // machines waiting for a cleanup that was not running
	KeySyncsSignalled  int // leases whose machine holds an old version of the tenant's keys
	TasksStarted       int // live tasks that had no running workflow
	RemovalsStarted    int // deleted tasks whose host cleanup was not running
}
