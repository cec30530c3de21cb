package store

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
)

// Notification channels of the alerts, for the WebSocket hubs of every replica:
//
//   - alert_events, payload "<alertID>:<event>" (opened, acknowledged,
//     resolved, ignored): an alert was opened or changed state.
//   - alert_rules, empty payload: the rules changed (replicas drop their cache).
//   - allocation_changes, payload "<machineID>": a lease of the machine was
//     created or changed status (a trigger on allocations sends it), so the
//     customers' sockets on that machine re-check their access.
const (
	ChannelAlertEvents       = "alert_events"
	ChannelAlertRules        = "alert_rules"
	ChannelAllocationChanges = "allocation_changes"
)

// Alert events in ChannelAlertEvents payloads.
const (
	AlertOpened       = "opened"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
	AlertIgnored      = "ignored"
)

// Alert resolutions: how a resolved alert got resolved.
const (
	ResolutionAuto    = "auto"
	ResolutionManual  = "manual"
	ResolutionIgnored = "ignored"
)

// AlertRule is the configuration of one alert type.
type AlertRule struct {
	Type            string    `json:"type" enum:"gpu_temperature,disk_usage,memory_usage,offline,lease_cleanup"`
	Level           string    `json:"level" enum:"critical,warning,info"`
	Threshold       *float64  `json:"threshold" doc:"Opens at value >= threshold: °C for gpu_temperature, % for disk_usage and memory_usage; null for offline and lease_cleanup"`
	ClearMargin     float64   `json:"clearMargin" doc:"An open alert clears automatically once the value is below threshold - clearMargin (hysteresis); unused for offline and lease_cleanup"`
	DurationSeconds int       `json:"durationSeconds" doc:"How long the condition must hold before the alert opens (offline: how long the machine has sent nothing; lease_cleanup: how long the end-of-lease cleanup may run unconfirmed)"`
	Enabled         bool      `json:"enabled"`
	UpdatedAt       time.Time `json:"updatedAt"`
	UpdatedBy       string    `json:"updatedBy"`
}

// Rule is the rule for the evaluation.
func (r AlertRule) Rule() eval.Rule {
	out := eval.Rule{Type: eval.Type(r.Type), Level: eval.Level(r.Level), ClearMargin: r.ClearMargin,
		Duration: time.Duration(r.DurationSeconds) * time.Second, Enabled: r.Enabled}
	if r.Threshold != nil {
		out.Threshold = *r.Threshold
	}
	return out
}

// AlertRules lists the rules in the order of the rules form.
func (q *Queries) AlertRules(ctx context.Context) ([]AlertRule, error) {
	rows, err := q.db.Query(ctx, `SELECT type, level, threshold, clear_margin, duration_s, enabled, updated_at, updated_by_name FROM alert_rules
		ORDER BY array_position(ARRAY['gpu_temperature', 'disk_usage', 'memory_usage', 'offline', 'lease_cleanup'], type), type`)
	return collect(rows, err, func(row pgx.Row) (*AlertRule, error) {
		var r AlertRule
		var th *float32
		var margin float32
		if err := row.Scan(&r.Type, &r.Level, &th, &margin, &r.DurationSeconds, &r.Enabled, &r.UpdatedAt, &r.UpdatedBy); err != nil {
			return nil, err
		}
		r.Threshold, r.ClearMargin = f64(th), round(float64(margin))
		return &r, nil
	})
}

// UpdateAlertRule stores one rule (its type names it) and tells the replicas.
// The types without a threshold (offline, lease_cleanup) keep it NULL
// whatever r says.
func (q *Queries) UpdateAlertRule(ctx context.Context, r AlertRule, byName string) error {
	tag, err := q.db.Exec(ctx, `UPDATE alert_rules SET level = $2, threshold = CASE WHEN type IN ('offline', 'lease_cleanup') THEN NULL ELSE $3::real END,
		clear_margin = $4, duration_s = $5, enabled = $6, updated_at = now(), updated_by_name = $7 WHERE type = $1`,
		r.Type, r.Level, r.Threshold, r.ClearMargin, r.DurationSeconds, r.Enabled, byName)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	_, err = q.db.Exec(ctx, `SELECT pg_notify('`+ChannelAlertRules+`', '')`)
	return err
}

// Alert is one alert with its machine.
type Alert struct {
	ID                 string         `json:"id" format:"uuid"`
	MachineID          string         `json:"machineId" format:"uuid"`
	MachineName        string         `json:"machineName"`
	Region             string         `json:"region"`
	GPUIndex           *int           `json:"gpuIndex" doc:"The GPU for gpu_temperature; null for machine-level alerts"`
	Type               string         `json:"type" enum:"gpu_temperature,disk_usage,memory_usage,offline,lease_cleanup" doc:"lease_cleanup: the end-of-lease cleanup of the machine's former lease outlasted the rule's duration; resolved when the cleanup ends (auto) or the machine is marked reinstalled (manual)"`
	Level              string         `json:"level" enum:"critical,warning,info"`
	Status             string         `json:"status" enum:"active,acknowledged,resolved"`
	Resolution         string         `json:"resolution" enum:"auto,manual,ignored," doc:"How a resolved alert was resolved: auto (the condition cleared), manual (marked handled), ignored; empty while open"`
	Handled            bool           `json:"handled" doc:"已处理: resolved in any way; 未处理 (false) is active or acknowledged"`
	Code               string         `json:"code" doc:"The text's code (alerting.gpuTemperature …), which the console translates with params; empty for old texts it could not read"`
	Params             map[string]any `json:"params" doc:"The figures of the text (gpu, value, threshold, seconds, mount, minutes, steps)"`
	Message            string         `json:"message" doc:"告警内容, in English"`
	Value              *float64       `json:"value" doc:"The value that opened it"`
	Threshold          *float64       `json:"threshold"`
	DurationSeconds    int            `json:"durationSeconds"`
	StartedAt          time.Time      `json:"startedAt" doc:"Since when the condition held (offline: when the machine was last heard from; lease_cleanup: when the lease ended)"`
	CreatedAt          time.Time      `json:"createdAt" doc:"When the alert opened (发生时间)"`
	UpdatedAt          time.Time      `json:"updatedAt"`
	AcknowledgedAt     *time.Time     `json:"acknowledgedAt"`
	AcknowledgedBy     string         `json:"acknowledgedBy"`
	ResolvedAt         *time.Time     `json:"resolvedAt"`
	ResolvedBy         string         `json:"resolvedBy" doc:"Who resolved or ignored it; empty when resolved automatically"`
	ResolvedValue      *float64       `json:"resolvedValue" doc:"The value that cleared it (automatic resolution)"`
	Note               string         `json:"note"`
	NotificationQueued bool           `json:"notificationQueued" doc:"The mail/webhook notification was handed to its workflow (critical alerts)"`
}

const alertSelect = `SELECT a.id, a.machine_id, m.name, m.region, a.gpu_index, a.type, a.level, a.status, coalesce(a.resolution, ''), a.code, a.params,
	a.message, a.value, a.threshold, a.duration_s, a.started_at, a.created_at, a.updated_at, a.acknowledged_at, a.acknowledged_by_name,
	a.resolved_at, a.resolved_by_name, a.resolved_value, a.note, a.notify_started_at IS NOT NULL
	FROM alerts a JOIN machines m ON m.id = a.machine_id`

func scanAlert(row pgx.Row) (*Alert, error) {
	var a Alert
	var gpu int16
	var value, threshold, resolvedValue *float32
	err := row.Scan(&a.ID, &a.MachineID, &a.MachineName, &a.Region, &gpu, &a.Type, &a.Level, &a.Status, &a.Resolution, &a.Code, &a.Params, &a.Message,
		&value, &threshold, &a.DurationSeconds, &a.StartedAt, &a.CreatedAt, &a.UpdatedAt, &a.AcknowledgedAt, &a.AcknowledgedBy,
		&a.ResolvedAt, &a.ResolvedBy, &resolvedValue, &a.Note, &a.NotificationQueued)
	if err != nil {
		return nil, notFound(err)
	}
	if gpu >= 0 {
		g := int(gpu)
		a.GPUIndex = &g
	}
	a.Value, a.Threshold, a.ResolvedValue = f64(value), f64(threshold), f64(resolvedValue)
	a.Handled = a.Status == "resolved"
	return &a, nil
}

func scanAlerts(rows pgx.Rows, err error) ([]Alert, error) {
	return collect(rows, err, scanAlert)
}

// AlertFilter narrows the alert list; empty fields do not filter.
type AlertFilter struct {
	Level      string
	Type       string
	Status     string // active, acknowledged, resolved, or open (active + acknowledged)
	Resolution string
	MachineID  string
	Region     string
	Keyword    string // machine name or message
	From, To   *time.Time
}

// alertSorts are the list's sortBy keys.
var alertSorts = map[string]string{"createdAt": "a.created_at", "startedAt": "a.started_at", "resolvedAt": "a.resolved_at",
	"level": "array_position(ARRAY['critical', 'warning', 'info'], a.level)", "type": "a.type", "status": "a.status", "machineName": "m.name",
	"region": "m.region"}

func (q *Queries) ListAlerts(ctx context.Context, f AlertFilter, p Page) ([]Alert, int, error) {
	var w where
	if f.Level != "" {
		w.add("a.level = %s", f.Level)
	}
	if f.Type != "" {
		w.add("a.type = %s", f.Type)
	}
	switch f.Status {
	case "":
	case "open":
		w.raw("a.status <> 'resolved'")
	default:
		w.add("a.status = %s", f.Status)
	}
	if f.Resolution != "" {
		w.add("a.resolution = %s", f.Resolution)
	}
	if f.MachineID != "" {
		w.add("a.machine_id = %s", f.MachineID)
	}
	if f.Region != "" {
		w.add("m.region = %s", f.Region)
	}
	if f.Keyword != "" {
		pat := likePattern(f.Keyword)
		w.add("(m.name ILIKE %s OR a.message ILIKE %s)", pat, pat)
	}
	if f.From != nil {
		w.add("a.created_at >= %s", *f.From)
	}
	if f.To != nil {
		w.add("a.created_at < %s", *f.To)
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM alerts a JOIN machines m ON m.id = a.machine_id"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if p.SortBy == "" {
		p.SortBy, p.Order = "createdAt", "desc"
	}
	list, err := scanAlerts(q.db.Query(ctx, alertSelect+w.sql()+p.orderBy(alertSorts, "a.created_at DESC, a.id")+p.limitOffset(), w.args...))
	return list, total, err
}

// OpenAlertCounts are the open alerts by level.
type OpenAlertCounts struct {
	Total    int `json:"total"`
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
	Info     int `json:"info"`
}

// ActiveAlerts lists the open alerts (active and acknowledged), the most
// severe first and the newest first within a level, up to limit, with the
// counts of all open ones.
func (q *Queries) ActiveAlerts(ctx context.Context, limit int) ([]Alert, OpenAlertCounts, error) {
	c, err := q.CountOpenAlerts(ctx)
	if err != nil {
		return nil, c, err
	}
	list, err := scanAlerts(q.db.Query(ctx, alertSelect+` WHERE a.status <> 'resolved' AND m.deleted_at IS NULL
		ORDER BY array_position(ARRAY['critical', 'warning', 'info'], a.level), a.created_at DESC, a.id LIMIT $1`, limit))
	return list, c, err
}

// CountOpenAlerts counts the open alerts by level.
func (q *Queries) CountOpenAlerts(ctx context.Context) (OpenAlertCounts, error) {
	var c OpenAlertCounts
	err := q.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE a.level = 'critical'), count(*) FILTER (WHERE a.level = 'warning'),
		count(*) FILTER (WHERE a.level = 'info') FROM alerts a JOIN machines m ON m.id = a.machine_id
		WHERE a.status <> 'resolved' AND m.deleted_at IS NULL`).Scan(&c.Total, &c.Critical, &c.Warning, &c.Info)
	return c, err
}

func (q *Queries) GetAlert(ctx context.Context, id string) (*Alert, error) {
	return scanAlert(q.db.QueryRow(ctx, alertSelect+" WHERE a.id = $1", id))
}

// AlertsByID returns the alerts that exist among ids, newest first.
func (q *Queries) AlertsByID(ctx context.Context, ids []string) ([]Alert, error) {
	return scanAlerts(q.db.Query(ctx, alertSelect+" WHERE a.id = ANY($1::uuid[]) ORDER BY a.created_at DESC, a.id", ids))
}

// LockAlert reads an alert and locks it for the transaction's change.
func (q *Queries) LockAlert(ctx context.Context, id string) (*Alert, error) {
	return scanAlert(q.db.QueryRow(ctx, alertSelect+" WHERE a.id = $1 FOR UPDATE OF a", id))
}

// AcknowledgeAlert moves an active alert to acknowledged.
func (q *Queries) AcknowledgeAlert(ctx context.Context, id, byID, byName, note string) error {
	_, err := q.db.Exec(ctx, `UPDATE alerts SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2, acknowledged_by_name = $3,
		note = CASE WHEN $4 = '' THEN note ELSE $4 END, updated_at = now() WHERE id = $1 AND status = 'active'`, id, nullable(byID), byName, note)
	if err != nil {
		return err
	}
	return q.notifyAlertEvents(ctx, []string{id + ":" + AlertAcknowledged})
}

// ResolveAlert resolves an open alert by hand: resolution manual (marked
// handled) or ignored. Ignoring also suppresses the condition: the evaluation
// opens no new alert for it until it has cleared.
func (q *Queries) ResolveAlert(ctx context.Context, a *Alert, resolution, byID, byName, note string) error {
	_, err := q.db.Exec(ctx, `UPDATE alerts SET status = 'resolved', resolution = $2, resolved_at = now(), resolved_by = $3, resolved_by_name = $4,
		note = CASE WHEN $5 = '' THEN note ELSE $5 END, updated_at = now() WHERE id = $1 AND status <> 'resolved'`,
		a.ID, resolution, nullable(byID), byName, note)
	if err != nil {
		return err
	}
	event := AlertResolved
	if resolution == ResolutionIgnored {
		event = AlertIgnored
	}
	// ignoring suppresses a sampled condition until it clears; a lease
	// cleanup alert is raised once per cleanup by its workflow: nothing to suppress
	if resolution == ResolutionIgnored && eval.Type(a.Type).Sampled() {
		gpu := eval.NoGPU
		if a.GPUIndex != nil {
			gpu = *a.GPUIndex
		}
		var v float32
		if a.Value != nil {
			v = float32(*a.Value)
		}
		if _, err := q.db.Exec(ctx, `INSERT INTO alert_states (machine_id, type, gpu_index, since, last_at, value, suppressed)
			VALUES ($1, $2, $3, now(), now(), $4, true)
			ON CONFLICT (machine_id, type, gpu_index) DO UPDATE SET suppressed = true`, a.MachineID, a.Type, gpu, v); err != nil {
			return err
		}
	}
	return q.notifyAlertEvents(ctx, []string{a.ID + ":" + event})
}

func (q *Queries) notifyAlertEvents(ctx context.Context, events []string) error {
	if len(events) == 0 {
		return nil
	}
	_, err := q.db.Exec(ctx, `SELECT pg_notify('`+ChannelAlertEvents+`', x) FROM unnest($1::text[]) AS x`, events)
	return err
}

// AlertStates loads what the evaluation needs of each machine: the pending
// (and suppressed) conditions and the open alerts. Every machine asked for
// has a state, empty when nothing is stored.
func (q *Queries) AlertStates(ctx context.Context, machineIDs []string) (map[string]*eval.State, error) {
	out := make(map[string]*eval.State, len(machineIDs))
	for _, id := range machineIDs {
		out[id] = &eval.State{Pending: map[eval.Key]eval.Pending{}, Open: map[eval.Key]eval.OpenAlert{}}
	}
	rows, err := q.db.Query(ctx, `SELECT machine_id::text, type, gpu_index, since, last_at, value, suppressed, NULL FROM alert_states
			WHERE machine_id = ANY($1::uuid[])
		UNION ALL
		SELECT machine_id::text, type, gpu_index, NULL, NULL, NULL, NULL, id::text FROM alerts
			WHERE machine_id = ANY($1::uuid[]) AND status <> 'resolved'`, machineIDs)
	type stateRow struct {
		machine, typ string
		gpu          int16
		since, last  *time.Time
		value        *float32
		suppressed   *bool
		alertID      *string
	}
	list, err := collect(rows, err, func(r pgx.Row) (*stateRow, error) {
		var x stateRow
		return &x, r.Scan(&x.machine, &x.typ, &x.gpu, &x.since, &x.last, &x.value, &x.suppressed, &x.alertID)
	})
	if err != nil {
		return nil, err
	}
	for _, x := range list {
		st := out[x.machine]
		if st == nil {
			continue
		}
		k := eval.Key{Type: eval.Type(x.typ), GPU: int(x.gpu)}
		if x.alertID != nil {
			st.Open[k] = eval.OpenAlert{Key: k, ID: *x.alertID}
			continue
		}
		st.Pending[k] = eval.Pending{Key: k, Since: x.since.UTC(), LastAt: x.last.UTC(), Value: float64(*x.value), Suppressed: *x.suppressed}
	}
	return out, nil
}

// AlertChange is an alert the evaluation opened or resolved.
type AlertChange struct {
	ID        string
	MachineID string
	Type      string
	Level     string
	Event     string // AlertOpened or AlertResolved
	// Resolved: opened already resolved (a backlog that crossed and cleared the threshold)
	Resolved bool
}

// ApplyAlertActions stores the evaluation's actions of several machines in
// one transaction and announces the alerts opened and resolved. An alert to
// open whose key already has an open one (another replica was quicker) is
// skipped; resolving one that is resolved already does nothing.
func (q *Queries) ApplyAlertActions(ctx context.Context, acts map[string]eval.Actions) ([]AlertChange, error) {
	var changes []AlertChange
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		changes = changes[:0]
		b := &pgx.Batch{}
		machines := make([]string, 0, len(acts))
		for m := range acts {
			machines = append(machines, m)
		}
		sort.Strings(machines) // one lock order for every replica
		for _, machine := range machines {
			a := acts[machine]
			for _, r := range a.Resolve {
				b.Queue(`UPDATE alerts SET status = 'resolved', resolution = 'auto', resolved_at = $2, resolved_value = $3, updated_at = now()
					WHERE id = $1 AND status <> 'resolved' RETURNING level`, r.ID, r.At, r.Value).QueryRow(func(row pgx.Row) error {
					var level string
					if err := row.Scan(&level); errors.Is(err, pgx.ErrNoRows) {
						return nil
					} else if err != nil {
						return err
					}
					changes = append(changes, AlertChange{ID: r.ID, MachineID: machine, Type: string(r.Key.Type), Level: level, Event: AlertResolved})
					return nil
				})
			}
			for _, n := range a.Open {
				status, resolution := "active", (*string)(nil)
				if n.ResolvedAt != nil {
					auto := ResolutionAuto
					status, resolution = "resolved", &auto
				}
				b.Queue(`INSERT INTO alerts (machine_id, gpu_index, type, level, status, resolution, code, params, message, value, threshold, duration_s,
						started_at, resolved_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::jsonb, '{}'), $9, $10, $11, $12, $13, $14)
					ON CONFLICT (machine_id, type, gpu_index) WHERE status <> 'resolved' DO NOTHING RETURNING id::text`,
					machine, n.Key.GPU, n.Key.Type, n.Level, status, resolution, n.Message.Code, n.Message.Params, n.Message.English(), n.Value,
					n.Threshold, int(n.Duration/time.Second), n.StartedAt, n.ResolvedAt).QueryRow(func(row pgx.Row) error {
					var id string
					if err := row.Scan(&id); errors.Is(err, pgx.ErrNoRows) {
						return nil
					} else if err != nil {
						return err
					}
					changes = append(changes, AlertChange{ID: id, MachineID: machine, Type: string(n.Key.Type), Level: string(n.Level), Event: AlertOpened,
						Resolved: n.ResolvedAt != nil})
					if n.ResolvedAt != nil {
						changes = append(changes, AlertChange{ID: id, MachineID: machine, Type: string(n.Key.Type), Level: string(n.Level), Event: AlertResolved})
					}
					return nil
				})
			}
			for _, p := range a.SetPending {
				b.Queue(`INSERT INTO alert_states (machine_id, type, gpu_index, since, last_at, value, suppressed) VALUES ($1, $2, $3, $4, $5, $6, $7)
					ON CONFLICT (machine_id, type, gpu_index) DO UPDATE SET since = EXCLUDED.since, last_at = EXCLUDED.last_at, value = EXCLUDED.value,
						suppressed = EXCLUDED.suppressed`, machine, p.Key.Type, p.Key.GPU, p.Since, p.LastAt, p.Value, p.Suppressed)
			}
			for _, k := range a.ClearPending {
				b.Queue(`DELETE FROM alert_states WHERE machine_id = $1 AND type = $2 AND gpu_index = $3`, machine, k.Type, k.GPU)
			}
		}
		if b.Len() == 0 {
			return nil
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return New(tx).notifyAlertEvents(ctx, changeEvents(changes))
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

func changeEvents(changes []AlertChange) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.ID + ":" + c.Event
	}
	return out
}

// OfflineCandidate is an offline machine without an open (or ignored) offline alert.
type OfflineCandidate struct {
	MachineID  string
	LastSeenAt time.Time
}

// OfflineCandidates lists the machines that the offline detector turned
// offline (their agent reported before) and that were last seen before
// cutoff, without an open offline alert and not ignored.
func (q *Queries) OfflineCandidates(ctx context.Context, cutoff time.Time) ([]OfflineCandidate, error) {
	rows, err := q.db.Query(ctx, `SELECT m.id::text, m.last_seen_at FROM machines m
		WHERE m.deleted_at IS NULL AND m.status = 'offline' AND m.last_seen_at IS NOT NULL AND m.last_seen_at <= $1
		  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.machine_id = m.id AND a.type = 'offline' AND a.status <> 'resolved')
		  AND NOT EXISTS (SELECT 1 FROM alert_states s WHERE s.machine_id = m.id AND s.type = 'offline' AND s.suppressed)
		ORDER BY m.id LIMIT 5000`, cutoff)
	return collect(rows, err, func(r pgx.Row) (*OfflineCandidate, error) {
		var c OfflineCandidate
		return &c, r.Scan(&c.MachineID, &c.LastSeenAt)
	})
}

// OpenOfflineAlerts opens an offline alert for each machine (once: a
// concurrent replica's is kept), provided it is still offline.
func (q *Queries) OpenOfflineAlerts(ctx context.Context, rule eval.Rule, machines []OfflineCandidate) ([]AlertChange, error) {
	if len(machines) == 0 {
		return nil, nil
	}
	ids := make([]string, len(machines))
	seen := make([]time.Time, len(machines))
	for i, m := range machines {
		ids[i], seen[i] = m.MachineID, m.LastSeenAt
	}
	var changes []AlertChange
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		text := eval.OfflineMessage(rule)
		rows, err := tx.Query(ctx, `INSERT INTO alerts (machine_id, gpu_index, type, level, code, params, message, duration_s, started_at)
			SELECT x.id, -1, 'offline', $3, $4, coalesce($5::jsonb, '{}'), $6, $7, x.seen FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, seen)
			JOIN machines m ON m.id = x.id AND m.status = 'offline' AND m.deleted_at IS NULL
			ON CONFLICT (machine_id, type, gpu_index) WHERE status <> 'resolved' DO NOTHING RETURNING id::text, machine_id::text`,
			ids, seen, rule.Level, text.Code, text.Params, text.English(), int(rule.Duration/time.Second))
		if changes, err = collect(rows, err, func(r pgx.Row) (*AlertChange, error) {
			c := AlertChange{Type: string(eval.TypeOffline), Level: string(rule.Level), Event: AlertOpened}
			return &c, r.Scan(&c.ID, &c.MachineID)
		}); err != nil {
			return err
		}
		return New(tx).notifyAlertEvents(ctx, changeEvents(changes))
	})
	return changes, err
}

// ResolveBackOnline resolves the open offline alerts of machines that are
// no longer offline (back online or in maintenance) and every open alert of
// deleted machines, and forgets their ignored offline conditions.
func (q *Queries) ResolveBackOnline(ctx context.Context) ([]AlertChange, error) {
	var changes []AlertChange
	err := q.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE alerts a SET status = 'resolved', resolution = 'auto', resolved_at = now(), updated_at = now()
			FROM machines m WHERE m.id = a.machine_id AND a.status <> 'resolved'
			  AND ((a.type = 'offline' AND m.status <> 'offline') OR m.deleted_at IS NOT NULL)
			RETURNING a.id::text, a.machine_id::text, a.type, a.level`)
		if changes, err = collect(rows, err, func(r pgx.Row) (*AlertChange, error) {
			c := AlertChange{Event: AlertResolved}
			return &c, r.Scan(&c.ID, &c.MachineID, &c.Type, &c.Level)
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM alert_states s USING machines m WHERE m.id = s.machine_id AND s.type = 'offline'
			AND (m.status <> 'offline' OR m.deleted_at IS NOT NULL)`); err != nil {
			return err
		}
		return New(tx).notifyAlertEvents(ctx, changeEvents(changes))
	})
	return changes, err
}

// MarkAlertNotifyStarted records that the alert's notification workflow was started.
func (q *Queries) MarkAlertNotifyStarted(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE alerts SET notify_started_at = coalesce(notify_started_at, now()) WHERE id = $1`, id)
	return err
}

// AlertsAwaitingNotify lists critical alerts created in [from, to) whose
// notification workflow has not been started (its start failed), oldest first.
func (q *Queries) AlertsAwaitingNotify(ctx context.Context, from, to time.Time, limit int) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT id::text FROM alerts WHERE notify_started_at IS NULL AND level = 'critical' AND status <> 'resolved'
		AND created_at >= $1 AND created_at < $2 ORDER BY created_at LIMIT $3`, from, to, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AdminRecipients lists the active platform admins that have an address.
func (q *Queries) AdminRecipients(ctx context.Context) ([]User, error) {
	rows, err := q.db.Query(ctx, "SELECT "+userColumns+` FROM users u WHERE u.role = 'admin' AND u.status = 'active' AND u.email <> ''
		ORDER BY u.created_at`)
	return collect(rows, err, scanUser)
}
