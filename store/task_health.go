package store

import (
	"context"
	"time"
)

// Service health states (ServiceHealth.State).
const (
	ServiceUp      = "up"
	ServiceDown    = "down"
	ServiceUnknown = "unknown"
)

// ServiceHealthStale: a probe older than this says nothing any more (the
// agent probes every 10 s and heartbeats at most every 20 s).
const ServiceHealthStale = 2 * time.Minute

// ServiceHealth is the health of a task's service, as the agent last probed
// it while the current attempt's container ran.
type ServiceHealth struct {
	State      string     `json:"state" enum:"up,down,unknown" doc:"unknown: the task does not run, or no recent probe"`
	CheckedAt  *time.Time `json:"checkedAt" doc:"The latest probe, null before the first"`
	HTTPStatus *int       `json:"httpStatus" doc:"The status the service answered the latest probe with, when up"`
}

// serviceProbe is the current attempt's latest probe, as stored.
type serviceProbe struct {
	up     *bool
	status *int
	at     *time.Time
}

func (p serviceProbe) health(taskStatus string, now time.Time) *ServiceHealth {
	h := &ServiceHealth{State: ServiceUnknown, CheckedAt: p.at}
	if p.up == nil || p.at == nil {
		return h
	}
	if *p.up {
		h.HTTPStatus = p.status
	}
	if taskStatus == "running" && now.Sub(*p.at) < ServiceHealthStale {
		h.State = ServiceDown
		if *p.up {
			h.State = ServiceUp
		}
	}
	return h
}

// SetTaskServiceHealth records a probe of the attempt's service reported by
// the agent of machineID, while the attempt has not finished; a probe older
// than the stored one is ignored. False when nothing was recorded.
func (q *Queries) SetTaskServiceHealth(ctx context.Context, taskID string, attempt int, machineID string, up bool, httpStatus int, at time.Time) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE task_attempts SET service_up = $4, service_http_status = nullif($5, 0), service_checked_at = least($6, now())
		WHERE task_id = $1::uuid AND attempt = $2 AND machine_id = $3::uuid AND finished_at IS NULL
		AND (service_checked_at IS NULL OR service_checked_at <= least($6, now()))`, taskID, attempt, machineID, up, httpStatus, at)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
