package store

import (
	"context"
	"time"
)

// FleetStats are the admin home's cards that come from the fleet tables.
type FleetStats struct {
	Machines         int     `json:"machines"`
	Online           int     `json:"online"`
	Offline          int     `json:"offline"`
	Maintenance      int     `json:"maintenance"`
	GPUs             int     `json:"gpus"`
	Allocated        int     `json:"allocated" doc:"Machines in a live allocation"`
	Expiring         int     `json:"expiring" doc:"Allocated machines ending within the notice window"`
	AllocationRate   float64 `json:"allocationRate" doc:"allocated / machines, 0..1"`
	Customers        int     `json:"customers"`
	ActiveCustomers  int     `json:"activeCustomers" doc:"Customers holding at least one machine"`
	PendingCustomers int     `json:"pendingCustomers"`
	AvgGPUUtil       float64 `json:"avgGpuUtil" doc:"Average utilisation of every GPU of the online machines, from their latest samples, %"`
	RunningTasks     int     `json:"runningTasks" required:"false" doc:"Tasks running now, every customer's (运行任务数)"`
	QueuedTasks      int     `json:"queuedTasks" required:"false" doc:"Tasks waiting in their machines' queues"`
}

// FleetStats counts the fleet; allocated and expiring come from the live
// allocation stored on each machine (see machines.go), expiring being the
// machines whose lease ends within the window.
func (q *Queries) FleetStats(ctx context.Context, expiring time.Duration) (*FleetStats, error) {
	var st FleetStats
	err := q.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE m.status = 'online'), count(*) FILTER (WHERE m.status = 'offline'),
		count(*) FILTER (WHERE m.status = 'maintenance'), coalesce(sum(m.gpu_count), 0),
		count(m.live_allocation_id), count(*) FILTER (WHERE m.live_until < now() + $1::interval)
		FROM machines m WHERE m.deleted_at IS NULL`, expiring.String()).
		Scan(&st.Machines, &st.Online, &st.Offline, &st.Maintenance, &st.GPUs, &st.Allocated, &st.Expiring)
	if err != nil {
		return nil, err
	}
	if st.Machines > 0 {
		st.AllocationRate = float64(st.Allocated) / float64(st.Machines)
	}
	err = q.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM allocations a WHERE a.tenant_id = t.id AND a.status = 'active')),
		count(*) FILTER (WHERE t.status = 'pending') FROM tenants t`).Scan(&st.Customers, &st.ActiveCustomers, &st.PendingCustomers)
	if err != nil {
		return nil, err
	}
	tc, err := q.CountTasks(ctx, "")
	if err != nil {
		return nil, err
	}
	st.RunningTasks, st.QueuedTasks = tc.Running, tc.Queued
	avg, err := q.FleetAvgGPUUtil(ctx)
	if avg != nil {
		st.AvgGPUUtil = *avg
	}
	return &st, err
}
