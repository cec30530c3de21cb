package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// alertsHandler is the alert management (requirements 2.1.5.2) and the
// dashboard's alert centre (2.1.1).
type alertsHandler struct {
	s   *Server
	hub *hub
}

type ListAlertsInput struct {
	ListParams
	Level      string    `query:"level" enum:"critical,warning,info,"`
	Type       string    `query:"type" enum:"gpu_temperature,disk_usage,memory_usage,offline,lease_cleanup,"`
	Status     string    `query:"status" enum:"active,acknowledged,resolved,open," doc:"open = active + acknowledged (未处理); resolved = 已处理"`
	Resolution string    `query:"resolution" enum:"auto,manual,ignored," doc:"How resolved alerts were resolved"`
	MachineID  string    `query:"machineId"`
	Region     string    `query:"region" doc:"Region name or code"`
	Keyword    string    `query:"keyword" maxLength:"100" doc:"Machine name or alert text"`
	From       time.Time `query:"from" doc:"Opened at or after (RFC 3339)"`
	To         time.Time `query:"to" doc:"Opened before (RFC 3339)"`
}

type ActiveAlertsInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"200" default:"20"`
}

// ActiveAlerts is the alert centre: the open alerts, most severe and newest first.
type ActiveAlerts struct {
	List   []store.Alert         `json:"list"`
	Counts store.OpenAlertCounts `json:"counts" doc:"Every open alert, by level (list holds at most limit)"`
}

type AlertIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type AlertActionInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *AlertActionBody
}

type AlertActionBody struct {
	Note string `json:"note,omitempty" maxLength:"500" doc:"Kept on the alert and in the audit log"`
}

func (in *AlertActionInput) note() string {
	if in.Body == nil {
		return ""
	}
	return strings.TrimSpace(in.Body.Note)
}

// AlertRuleInput is one line of the rules form.
type AlertRuleInput struct {
	Type            string   `json:"type" enum:"gpu_temperature,disk_usage,memory_usage,offline,lease_cleanup"`
	Level           string   `json:"level" enum:"critical,warning,info"`
	Threshold       *float64 `json:"threshold,omitempty" doc:"°C for gpu_temperature (30-130), % for disk_usage and memory_usage (1-100); ignored for offline and lease_cleanup (they stay null)"`
	ClearMargin     *float64 `json:"clearMargin,omitempty" doc:"Hysteresis (0-50, below the threshold); unchanged when absent; ignored for offline and lease_cleanup"`
	DurationSeconds int      `json:"durationSeconds" minimum:"0" maximum:"86400" doc:"How long the condition must hold (offline: how long the machine has been silent; lease_cleanup: raise after the end-of-lease cleanup has run this long unconfirmed)"`
	Enabled         bool     `json:"enabled"`
}

type UpdateAlertRulesInput struct {
	Body struct {
		Rules []AlertRuleInput `json:"rules" minItems:"1" maxItems:"5" doc:"The rules to change; types not listed stay as they are"`
	}
}

func (h *alertsHandler) register(api huma.API) {
	const tag = "alerts"
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts", "list-alerts", tag,
		"Alerts (告警列表); sortBy createdAt|startedAt|resolvedAt|level|type|status|machineName|region (default createdAt desc)", roleAdmin,
		http.StatusBadRequest, http.StatusUnprocessableEntity), h.list)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/active", "list-active-alerts", tag,
		"The alert centre: open alerts (active and acknowledged), most severe first, then newest, with counts by level", roleAdmin,
		http.StatusUnprocessableEntity), h.active)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/rules", "get-alert-rules", tag,
		"The alert rules: GPU temperature, disk usage, memory usage, offline, lease cleanup overdue", roleAdmin), h.getRules)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/rules", "update-alert-rules", tag,
		"Change alert rules (audited); returns every rule", roleAdmin, http.StatusUnprocessableEntity), h.updateRules)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/{id}", "get-alert", tag, "An alert", roleAdmin, http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/acknowledge", "acknowledge-alert", tag,
		"Acknowledge an active alert (seen, being handled; it stays open until resolved)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.acknowledge)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/resolve", "resolve-alert", tag,
		"Mark an open alert handled (标记已处理): resolved by hand; it opens again if the condition still holds for the rule's duration", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.resolve)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/ignore", "ignore-alert", tag,
		"Ignore an open alert (忽略): resolved as ignored; the same condition opens no new alert until it has cleared", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity), h.ignore)
}

func (h *alertsHandler) list(ctx context.Context, in *ListAlertsInput) (*Resp[Page[store.Alert]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.AlertFilter{Level: pick(in.Level, f, "level"), Type: pick(in.Type, f, "type"), Status: pick(in.Status, f, "status"),
		Resolution: pick(in.Resolution, f, "resolution"), MachineID: pick(in.MachineID, f, "machineId"), Region: pick(in.Region, f, "region"),
		Keyword: pick(in.Keyword, f, "keyword")}
	if !in.From.IsZero() {
		filter.From = &in.From
	}
	if !in.To.IsZero() {
		filter.To = &in.To
	}
	if err := validUUIDs(map[string]string{"machineId": filter.MachineID}); err != nil {
		return nil, err
	}
	for key, dst := range map[string]**time.Time{"from": &filter.From, "to": &filter.To} {
		if *dst != nil || f[key] == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f[key])
		if err != nil {
			return nil, apperr.Invalidf("%s must be an RFC 3339 time", key).AtField("query.filters")
		}
		*dst = &t
	}
	if filter.Region != "" {
		filter.Region = (&monitoringHandler{h.s}).regionName(filter.Region)
	}
	list, total, err := h.s.Store.ListAlerts(ctx, filter, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *alertsHandler) active(ctx context.Context, in *ActiveAlertsInput) (*Resp[ActiveAlerts], error) {
	limit := in.Limit
	if limit < 1 {
		limit = 20
	}
	list, counts, err := h.s.Store.ActiveAlerts(ctx, limit)
	if err != nil {
		return nil, err
	}
	return ok(ctx, ActiveAlerts{List: list, Counts: counts})
}

func (h *alertsHandler) get(ctx context.Context, in *AlertIDInput) (*Resp[store.Alert], error) {
	a, err := h.s.Store.GetAlert(ctx, in.ID)
	if err != nil {
		return nil, alertNotFound(err)
	}
	return ok(ctx, *a)
}

func alertNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("告警不存在 / alert not found")
	}
	return err
}

func (h *alertsHandler) getRules(ctx context.Context, _ *struct{}) (*Resp[[]store.AlertRule], error) {
	rules, err := h.s.Store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, rules)
}

func (h *alertsHandler) updateRules(ctx context.Context, in *UpdateAlertRulesInput) (*Resp[[]store.AlertRule], error) {
	before, err := h.s.Store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	current := map[string]store.AlertRule{}
	for _, r := range before {
		current[r.Type] = r
	}
	seen := map[string]bool{}
	changed := make([]store.AlertRule, 0, len(in.Body.Rules))
	for i, ri := range in.Body.Rules {
		at := fmt.Sprintf("body.rules[%d].", i)
		if seen[ri.Type] {
			return nil, apperr.Newf(apperr.Unprocessable, "规则 %s 重复 / rule %s is listed twice", ri.Type, ri.Type).AtField(at + "type")
		}
		seen[ri.Type] = true
		r := current[ri.Type]
		r.Type, r.Level, r.DurationSeconds, r.Enabled = ri.Type, ri.Level, ri.DurationSeconds, ri.Enabled
		if !eval.Type(ri.Type).HasThreshold() {
			// offline, lease_cleanup: only a duration; a threshold or margin sent is ignored
			r.Threshold = nil
		} else {
			if ri.ClearMargin != nil {
				r.ClearMargin = *ri.ClearMargin
			}
			if ri.Threshold == nil {
				return nil, apperr.Newf(apperr.Unprocessable, "请填写阈值 / threshold is required").AtField(at + "threshold")
			}
			r.Threshold = ri.Threshold
		}
		if field, msg := r.Rule().Validate(); field != "" {
			return nil, apperr.Newf(apperr.Unprocessable, "%s", msg).AtField(at + field)
		}
		changed = append(changed, r)
	}
	p := principal(ctx)
	err = h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		for _, r := range changed {
			if err := store.UpdateAlertRule(ctx, tx, r, p.Username); err != nil {
				return err
			}
		}
		b, a := []map[string]any{}, []map[string]any{}
		for _, r := range changed {
			b, a = append(b, ruleDetail(current[r.Type])), append(a, ruleDetail(r))
		}
		return h.s.audit(ctx, tx, auditEntry{Action: "alert.rules_update", TargetType: "alert_rules", TargetID: strings.Join(typesOf(changed), ","),
			Success: true, Detail: map[string]any{"before": b, "after": a}})
	})
	if err != nil {
		return nil, err
	}
	h.hub.rules.invalidate()
	rules, err := h.s.Store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, rules)
}

func ruleDetail(r store.AlertRule) map[string]any {
	return map[string]any{"type": r.Type, "level": r.Level, "threshold": r.Threshold, "clearMargin": r.ClearMargin,
		"durationSeconds": r.DurationSeconds, "enabled": r.Enabled}
}

func typesOf(rules []store.AlertRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.Type
	}
	return out
}

func (h *alertsHandler) acknowledge(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return h.transition(ctx, in.ID, "alert.acknowledge", in.note(), func(tx pgx.Tx, a *store.Alert, p *Principal) error {
		switch a.Status {
		case "acknowledged":
			return apperr.Conflictf("告警已由 %s 确认 / the alert was already acknowledged by %s", a.AcknowledgedBy, a.AcknowledgedBy)
		case "resolved":
			return apperr.Conflictf("告警已处理 / the alert is already resolved")
		}
		return store.AcknowledgeAlert(ctx, tx, a.ID, p.UserID, p.Username, in.note())
	})
}

func (h *alertsHandler) resolve(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return h.transition(ctx, in.ID, "alert.resolve", in.note(), func(tx pgx.Tx, a *store.Alert, p *Principal) error {
		if a.Status == "resolved" {
			return apperr.Conflictf("告警已处理 / the alert is already resolved")
		}
		return store.ResolveAlert(ctx, tx, a, store.ResolutionManual, p.UserID, p.Username, in.note())
	})
}

func (h *alertsHandler) ignore(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return h.transition(ctx, in.ID, "alert.ignore", in.note(), func(tx pgx.Tx, a *store.Alert, p *Principal) error {
		if a.Status == "resolved" {
			return apperr.Conflictf("告警已处理 / the alert is already resolved")
		}
		return store.ResolveAlert(ctx, tx, a, store.ResolutionIgnored, p.UserID, p.Username, in.note())
	})
}

// transition changes one alert under its row lock and audits it in the same transaction.
func (h *alertsHandler) transition(ctx context.Context, id, action, note string, change func(pgx.Tx, *store.Alert, *Principal) error) (*Resp[store.Alert], error) {
	p := principal(ctx)
	err := h.s.Store.InTx(ctx, func(tx pgx.Tx) error {
		a, err := store.LockAlert(ctx, tx, id)
		if err != nil {
			return alertNotFound(err)
		}
		if err := change(tx, a, p); err != nil {
			return err
		}
		after, err := store.LockAlert(ctx, tx, id)
		if err != nil {
			return err
		}
		return h.s.audit(ctx, tx, auditEntry{Action: action, TargetType: "alert", TargetID: id, Success: true,
			Detail: map[string]any{"machine": a.MachineName, "machineId": a.MachineID, "type": a.Type, "level": a.Level, "message": a.Message,
				"before": a.Status, "after": after.Status, "resolution": after.Resolution, "note": note}})
	})
	if err != nil {
		return nil, err
	}
	a, err := h.s.Store.GetAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a)
}

// ---- evaluation ----------------------------------------------------------

// ingested is one ingest's observations of one machine.
type ingested struct {
	machine string
	obs     []eval.Observation
}

// alertEvaluator runs the rules on what the agents send, off the ingest
// path: the ingest hook only queues (and drops when the queue is full, the
// next sample evaluates again), one goroutine evaluates in batches.
type alertEvaluator struct {
	h       *hub
	in      chan ingested
	starts  chan struct{} // bounds the workflow starts in flight
	dropped atomic.Int64
	logged  atomic.Int64 // unix seconds of the last drop warning
}

// onIngest is the ingest hook (see Server.OnIngest).
func (e *alertEvaluator) onIngest(_ context.Context, machineID string, samples []agentproto.Sample) {
	obs := eval.Observe(samples)
	if len(obs) == 0 {
		return
	}
	// as the ingest stores them: no time, or more than a minute ahead, is now
	now := e.h.s.now().UTC()
	for i := range obs {
		if obs[i].At.IsZero() || obs[i].At.After(now.Add(time.Minute)) {
			obs[i].At = now
		}
	}
	select {
	case e.in <- ingested{machine: machineID, obs: obs}:
	default:
		n := e.dropped.Add(1)
		if now := time.Now().Unix(); e.logged.Swap(now) != now {
			slog.Warn("alert evaluation is behind: samples skipped", "skipped", n)
		}
	}
}

const evaluateBatch = 256

func (e *alertEvaluator) run() {
	for {
		var batch []ingested
		select {
		case <-e.h.ctx.Done():
			return
		case x := <-e.in:
			batch = append(batch, x)
		}
	more:
		for len(batch) < evaluateBatch {
			select {
			case x := <-e.in:
				batch = append(batch, x)
			default:
				break more
			}
		}
		if err := e.evaluate(batch); err != nil {
			if e.h.stopOnClosedStore(err) {
				return
			}
			slog.Error("unable to evaluate alert rules", "machines", len(batch), "err", err)
		}
	}
}

func (e *alertEvaluator) params() eval.Params {
	return eval.Params{MaxGap: max(3*e.h.every, 15*time.Second)}
}

func (e *alertEvaluator) evaluate(batch []ingested) error {
	ctx, cancel := context.WithTimeout(e.h.ctx, 30*time.Second)
	defer cancel()
	rules, err := e.h.rules.get(ctx)
	if err != nil {
		return err
	}
	byMachine := map[string][]eval.Observation{}
	for _, x := range batch {
		byMachine[x.machine] = append(byMachine[x.machine], x.obs...)
	}
	ids := make([]string, 0, len(byMachine))
	for id := range byMachine {
		ids = append(ids, id)
	}
	states, err := e.h.s.Store.AlertStates(ctx, ids)
	if err != nil {
		return err
	}
	acts := map[string]eval.Actions{}
	for id, obs := range byMachine {
		sort.SliceStable(obs, func(i, j int) bool { return obs[i].At.Before(obs[j].At) })
		if a := eval.Evaluate(rules, *states[id], obs, e.params()); !a.Empty() {
			acts[id] = a
		}
	}
	if len(acts) == 0 {
		return nil
	}
	changes, err := e.h.s.Store.ApplyAlertActions(ctx, acts)
	if err != nil {
		return err
	}
	e.opened(changes)
	return nil
}

// sweepOffline opens offline alerts for machines silent for the rule's
// duration (and marked offline by the detector), and resolves those of
// machines that are back. Every replica runs it; the unique index keeps one alert.
func (e *alertEvaluator) sweepOffline(ctx context.Context) error {
	rules, err := e.h.rules.get(ctx)
	if err != nil {
		return err
	}
	if _, err := e.h.s.Store.ResolveBackOnline(ctx); err != nil {
		return err
	}
	rule, ok := rules[eval.TypeOffline]
	if !ok || !rule.Enabled {
		return nil
	}
	now := e.h.s.now()
	cands, err := e.h.s.Store.OfflineCandidates(ctx, now.Add(-rule.Duration))
	if err != nil {
		return err
	}
	due := cands[:0]
	for _, c := range cands {
		if eval.OfflineDue(rule, c.LastSeenAt, now) {
			due = append(due, c)
		}
	}
	opened, err := e.h.s.Store.OpenOfflineAlerts(ctx, rule, due)
	if err != nil {
		return err
	}
	e.opened(opened)
	return nil
}

// opened starts the notification of each new critical alert, without waiting.
func (e *alertEvaluator) opened(changes []store.AlertChange) {
	for _, c := range changes {
		if c.Event == store.AlertOpened && c.Level == string(eval.LevelCritical) {
			go e.notify(c.ID)
		}
	}
}

// retryNotifications starts the notifications of the last day's critical
// alerts whose start failed (Temporal was unreachable).
func (e *alertEvaluator) retryNotifications(ctx context.Context) error {
	if e.h.s.Temporal == nil {
		return nil
	}
	now := e.h.s.now()
	ids, err := e.h.s.Store.AlertsAwaitingNotify(ctx, now.Add(-24*time.Hour), now.Add(-30*time.Second), 20)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e.notify(id)
	}
	return nil
}

// notify starts the AlertNotify workflow of the alert (once: its ID is the
// alert's) and records it; a failure is logged and retried by the sweep.
func (e *alertEvaluator) notify(alertID string) {
	s := e.h.s
	if s.Temporal == nil {
		return
	}
	select {
	case e.starts <- struct{}{}:
		defer func() { <-e.starts }()
	case <-e.h.ctx.Done():
		return
	}
	ctx, cancel := context.WithTimeout(e.h.ctx, 10*time.Second)
	defer cancel()
	consoleURL := ""
	if base := strings.TrimRight(s.Config.PublicURL, "/"); base != "" {
		consoleURL = base + "/admin/monitoring/alerts"
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.AlertNotifyWorkflowID(alertID),
		TaskQueue: s.Config.TemporalTaskQueue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
		workflows.AlertNotify, workflows.AlertNotifyInput{AlertID: alertID, ConsoleURL: consoleURL})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		slog.Warn("unable to start the alert notification; retried later", "alert", alertID, "err", err)
		return
	}
	if err := s.Store.MarkAlertNotifyStarted(ctx, alertID); err != nil && !e.h.stopOnClosedStore(err) {
		slog.Warn("unable to record the alert notification", "alert", alertID, "err", err)
	}
}

// rulesCache keeps the rules for a few seconds; a change (here or on another
// replica, through alert_rules) drops it at once.
type rulesCache struct {
	s     *Server
	mu    sync.Mutex
	rules eval.Rules
	at    time.Time
}

const rulesTTL = 30 * time.Second

func (c *rulesCache) get(ctx context.Context) (eval.Rules, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rules != nil && time.Since(c.at) < rulesTTL {
		return c.rules, nil
	}
	list, err := c.s.Store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	rules := make([]eval.Rule, len(list))
	for i, r := range list {
		rules[i] = r.Rule()
	}
	c.rules, c.at = eval.RulesOf(rules), time.Now()
	return c.rules, nil
}

func (c *rulesCache) invalidate() {
	c.mu.Lock()
	c.rules = nil
	c.mu.Unlock()
}
