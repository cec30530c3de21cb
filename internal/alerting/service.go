// Package alerting is the monitoring alerts (requirements 2.1.5.2): the
// rules (cached, changed with an audit record), the evaluation of what the
// agents send (internal/alerting/eval holds the pure rules of it), the
// transitions an admin makes (acknowledge, resolve, ignore; audited), the
// offline sweep and the notices of critical alerts (the AlertNotify
// workflow). The sweep and the retry of notices that could not be started
// run as the worker's AlertSweep schedule (Register); the evaluation runs in
// the api process between Start and Close.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/puddle/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Temporal is the part of the Temporal client the service uses.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// Service is the alerting of one process.
type Service struct {
	Store *store.Store
	// Temporal starts the notices; nil: none are started.
	Temporal  Temporal
	TaskQueue string
	// PublicURL is the console's address, for the link in the notices (optional).
	PublicURL string
	// SampleInterval is the agents' interval: a pending condition whose
	// samples stop for 3 intervals (at least 15 s) starts its count again.
	SampleInterval time.Duration
	Now            func() time.Time

	rules rulesCache

	in      chan ingested
	notices chan string
	dropped atomic.Int64
	logged  atomic.Int64 // unix seconds of the last drop warning
	cancel  context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
}

// New builds the service; Start runs the evaluation (the api does, the worker need not).
func New(st *store.Store, temporal Temporal, taskQueue, publicURL string, sampleInterval time.Duration, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{Store: st, Temporal: temporal, TaskQueue: taskQueue, PublicURL: publicURL, SampleInterval: sampleInterval, Now: now,
		rules: rulesCache{st: st}, in: make(chan ingested, 1024), notices: make(chan string, 1024)}
}

// ---- errors -----------------------------------------------------------------

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "alerting.notFound", "alert not found")
	}
	return err
}

func alreadyResolved() error {
	return apperr.New(apperr.Conflict, "alerting.alreadyResolved", "the alert is already resolved")
}

// ---- reading ----------------------------------------------------------------

type ListInput struct {
	Filter store.AlertFilter
	Page   store.Page
}

// List is a page of alerts.
func (s *Service) List(ctx context.Context, in ListInput) ([]store.Alert, int, error) {
	return s.Store.ListAlerts(ctx, in.Filter, in.Page)
}

type ActiveInput struct {
	Limit int // 1-200; 20 when 0
}

// ActiveAlerts is the alert centre: the open alerts, most severe and newest first.
type ActiveAlerts struct {
	List   []store.Alert         `json:"list"`
	Counts store.OpenAlertCounts `json:"counts" doc:"Every open alert, by level (list holds at most limit)"`
}

func (s *Service) Active(ctx context.Context, in ActiveInput) (ActiveAlerts, error) {
	limit := in.Limit
	if limit < 1 {
		limit = 20
	}
	list, counts, err := s.Store.ActiveAlerts(ctx, limit)
	return ActiveAlerts{List: list, Counts: counts}, err
}

type GetInput struct {
	ID string
}

func (s *Service) Get(ctx context.Context, in GetInput) (*store.Alert, error) {
	a, err := s.Store.GetAlert(ctx, in.ID)
	return a, notFound(err)
}

type RulesInput struct{}

// Rules are every rule, in the order of the rules form.
func (s *Service) Rules(ctx context.Context, _ RulesInput) ([]store.AlertRule, error) {
	return s.Store.AlertRules(ctx)
}

// ---- rules ------------------------------------------------------------------

// RuleChange is one line of the rules form.
type RuleChange struct {
	Type            string
	Level           string
	Threshold       *float64 // required for the types with a threshold; ignored for the others
	ClearMargin     *float64 // unchanged when nil
	DurationSeconds int
	Enabled         bool
}

type UpdateRulesInput struct {
	Rules []RuleChange // types not listed stay as they are
}

// UpdateRules changes the rules listed (audited, with before and after) and
// returns every rule; every replica drops its cache.
func (s *Service) UpdateRules(ctx context.Context, in UpdateRulesInput) ([]store.AlertRule, error) {
	before, err := s.Store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	current := map[string]store.AlertRule{}
	for _, r := range before {
		current[r.Type] = r
	}
	seen := map[string]bool{}
	changed := make([]store.AlertRule, 0, len(in.Rules))
	for i, ri := range in.Rules {
		at := fmt.Sprintf("body.rules[%d].", i)
		if seen[ri.Type] {
			return nil, apperr.New(apperr.Invalid, "alerting.ruleListedTwice", "rule {type} is listed twice", apperr.P{"type": ri.Type}).
				AtField(at + "type")
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
				return nil, apperr.New(apperr.Invalid, "alerting.thresholdRequired", "threshold is required").AtField(at + "threshold")
			}
			r.Threshold = ri.Threshold
		}
		if field, err := r.Rule().Validate(); err != nil {
			return nil, err.AtField(at + field)
		}
		changed = append(changed, r)
	}
	by := caller.From(ctx).Username
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		for _, r := range changed {
			if err := store.New(tx).UpdateAlertRule(ctx, r, by); err != nil {
				return err
			}
		}
		b, a := []map[string]any{}, []map[string]any{}
		types := make([]string, len(changed))
		for i, r := range changed {
			b, a = append(b, ruleDetail(current[r.Type])), append(a, ruleDetail(r))
			types[i] = r.Type
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "alert.rules_update", TargetType: "alert_rules", TargetID: strings.Join(types, ","),
			Success: true, Detail: map[string]any{"before": b, "after": a}})
	})
	if err != nil {
		return nil, err
	}
	s.InvalidateRules()
	return s.Store.AlertRules(ctx)
}

func ruleDetail(r store.AlertRule) map[string]any {
	return map[string]any{"type": r.Type, "level": r.Level, "threshold": r.Threshold, "clearMargin": r.ClearMargin,
		"durationSeconds": r.DurationSeconds, "enabled": r.Enabled}
}

// InvalidateRules drops the cached rules (a change here, or on another
// replica: the live hub calls it on store.ChannelAlertRules).
func (s *Service) InvalidateRules() { s.rules.invalidate() }

// ---- transitions ------------------------------------------------------------

type TransitionInput struct {
	ID   string
	Note string // kept on the alert and in the audit log
}

// Acknowledge marks an active alert seen, being handled; it stays open until resolved.
func (s *Service) Acknowledge(ctx context.Context, in TransitionInput) (*store.Alert, error) {
	return s.transition(ctx, in, "alert.acknowledge", func(tx pgx.Tx, a *store.Alert, p *caller.Principal, note string) error {
		switch a.Status {
		case "acknowledged":
			return apperr.New(apperr.Conflict, "alerting.alreadyAcknowledged", "the alert was already acknowledged by {by}", apperr.P{"by": a.AcknowledgedBy})
		case "resolved":
			return alreadyResolved()
		}
		return store.New(tx).AcknowledgeAlert(ctx, a.ID, p.UserID, p.Username, note)
	})
}

// Resolve marks an open alert handled; it opens again if the condition
// still holds for the rule's duration.
func (s *Service) Resolve(ctx context.Context, in TransitionInput) (*store.Alert, error) {
	return s.transition(ctx, in, "alert.resolve", func(tx pgx.Tx, a *store.Alert, p *caller.Principal, note string) error {
		if a.Status == "resolved" {
			return alreadyResolved()
		}
		return store.New(tx).ResolveAlert(ctx, a, store.ResolutionManual, p.UserID, p.Username, note)
	})
}

// Ignore resolves an open alert as ignored: the same condition opens no new
// alert until it has cleared.
func (s *Service) Ignore(ctx context.Context, in TransitionInput) (*store.Alert, error) {
	return s.transition(ctx, in, "alert.ignore", func(tx pgx.Tx, a *store.Alert, p *caller.Principal, note string) error {
		if a.Status == "resolved" {
			return alreadyResolved()
		}
		return store.New(tx).ResolveAlert(ctx, a, store.ResolutionIgnored, p.UserID, p.Username, note)
	})
}

// transition changes one alert under its row lock and audits it in the same transaction.
func (s *Service) transition(ctx context.Context, in TransitionInput, action string, change func(tx pgx.Tx, a *store.Alert, p *caller.Principal, note string) error) (*store.Alert, error) {
	p := caller.From(ctx)
	note := strings.TrimSpace(in.Note)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		a, err := store.New(tx).LockAlert(ctx, in.ID)
		if err != nil {
			return notFound(err)
		}
		if err := change(tx, a, p, note); err != nil {
			return err
		}
		after, err := store.New(tx).LockAlert(ctx, in.ID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "alert", TargetID: in.ID, Success: true,
			Detail: map[string]any{"machine": a.MachineName, "machineId": a.MachineID, "type": a.Type, "level": a.Level, "message": a.Message,
				"code": a.Code, "params": a.Params, "before": a.Status, "after": after.Status, "resolution": after.Resolution, "note": note}})
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, GetInput{ID: in.ID})
}

// ---- evaluation -------------------------------------------------------------

// ingested is one ingest's observations of one machine.
type ingested struct {
	machine string
	obs     []eval.Observation
}

// Start runs the evaluation of what the agents send and the start of the
// notices of the alerts it opens, until Close (or until the store is closed).
func (s *Service) Start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.evaluateLoop() }()
	go func() { defer s.wg.Done(); s.noticeLoop() }()
}

// Close stops the evaluation and waits for it.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

type IngestedInput struct {
	MachineID string
	Samples   []agentproto.Sample
}

// Ingested queues the samples of a machine for the evaluation, off the
// ingest path: a full queue drops them (the next samples evaluate again).
// It is the monitoring's ingest hook.
func (s *Service) Ingested(_ context.Context, in IngestedInput) {
	obs := eval.Observe(in.Samples)
	if len(obs) == 0 {
		return
	}
	// as the ingest stores them: no time, or more than a minute ahead, is now
	now := s.Now().UTC()
	for i := range obs {
		if obs[i].At.IsZero() || obs[i].At.After(now.Add(time.Minute)) {
			obs[i].At = now
		}
	}
	select {
	case s.in <- ingested{machine: in.MachineID, obs: obs}:
	default:
		n := s.dropped.Add(1)
		if now := time.Now().Unix(); s.logged.Swap(now) != now {
			slog.Warn("alert evaluation is behind: samples skipped", "skipped", n)
		}
	}
}

const evaluateBatch = 256

func (s *Service) evaluateLoop() {
	for {
		var batch []ingested
		select {
		case <-s.ctx.Done():
			return
		case x := <-s.in:
			batch = append(batch, x)
		}
	more:
		for len(batch) < evaluateBatch {
			select {
			case x := <-s.in:
				batch = append(batch, x)
			default:
				break more
			}
		}
		if err := s.evaluate(batch); err != nil {
			if errors.Is(err, puddle.ErrClosedPool) {
				return // the process (or test) closed the store
			}
			slog.Error("unable to evaluate alert rules", "machines", len(batch), "err", err)
		}
	}
}

func (s *Service) params() eval.Params {
	return eval.Params{MaxGap: max(3*s.SampleInterval, 15*time.Second)}
}

func (s *Service) evaluate(batch []ingested) error {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	rules, err := s.rules.get(ctx)
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
	states, err := s.Store.AlertStates(ctx, ids)
	if err != nil {
		return err
	}
	acts := map[string]eval.Actions{}
	for id, obs := range byMachine {
		sort.SliceStable(obs, func(i, j int) bool { return obs[i].At.Before(obs[j].At) })
		if a := eval.Evaluate(rules, *states[id], obs, s.params()); !a.Empty() {
			acts[id] = a
		}
	}
	if len(acts) == 0 {
		return nil
	}
	changes, err := s.Store.ApplyAlertActions(ctx, acts)
	if err != nil {
		return err
	}
	for _, id := range criticalOpened(changes) {
		select {
		case s.notices <- id:
		default: // the sweep schedule starts it
		}
	}
	return nil
}

func criticalOpened(changes []store.AlertChange) []string {
	var ids []string
	for _, c := range changes {
		// an alert stored already resolved (a backlog) is not worth a mail:
		// it also keeps a host that sends made-up samples from mailing the admins
		if c.Event == store.AlertOpened && c.Level == string(eval.LevelCritical) && !c.Resolved {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// noticeLoop starts the notices of the alerts the evaluation opened; one
// that fails is started by the next AlertSweep.
func (s *Service) noticeLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case id := <-s.notices:
			if _, err := s.notify(s.ctx, []string{id}); err != nil && !errors.Is(err, puddle.ErrClosedPool) && s.ctx.Err() == nil {
				slog.Warn("unable to start the alert notification; the sweep retries it", "alert", id, "err", err)
			}
		}
	}
}

// ---- the sweep (activities of the AlertSweep workflow) ------------------------

// Register adds the sweep's activities to a worker.
func (s *Service) Register(reg interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}) {
	reg.RegisterActivityWithOptions(s.SweepOffline, activity.RegisterOptions{Name: activities.SweepOfflineAlertsActivity})
	reg.RegisterActivityWithOptions(s.NotifyPending, activity.RegisterOptions{Name: activities.NotifyAlertsActivity})
}

// SweepOffline opens offline alerts for machines silent for the rule's
// duration (and marked offline by the offline detector), and resolves those
// of machines that are back or deleted. The unique index keeps one alert
// per machine whoever runs it.
func (s *Service) SweepOffline(ctx context.Context, _ activities.SweepOfflineAlertsInput) (activities.SweepOfflineAlertsResult, error) {
	var res activities.SweepOfflineAlertsResult
	rules, err := s.rules.get(ctx)
	if err != nil {
		return res, fmt.Errorf("unable to load the alert rules: %w", err)
	}
	resolved, err := s.Store.ResolveBackOnline(ctx)
	if err != nil {
		return res, fmt.Errorf("unable to resolve the offline alerts of machines back: %w", err)
	}
	res.Resolved = len(resolved)
	rule, ok := rules[eval.TypeOffline]
	if !ok || !rule.Enabled {
		return res, nil
	}
	now := s.Now()
	cands, err := s.Store.OfflineCandidates(ctx, now.Add(-rule.Duration))
	if err != nil {
		return res, fmt.Errorf("unable to list offline machines: %w", err)
	}
	due := cands[:0]
	for _, c := range cands {
		if eval.OfflineDue(rule, c.LastSeenAt, now) {
			due = append(due, c)
		}
	}
	opened, err := s.Store.OpenOfflineAlerts(ctx, rule, due)
	if err != nil {
		return res, fmt.Errorf("unable to open offline alerts: %w", err)
	}
	res.Opened = len(opened)
	return res, nil
}

// NotifyPending starts the notices of the last day's critical alerts that
// have none yet (opened by the sweep, or whose start failed).
func (s *Service) NotifyPending(ctx context.Context, in activities.NotifyAlertsInput) (activities.NotifyAlertsResult, error) {
	var res activities.NotifyAlertsResult
	if s.Temporal == nil {
		return res, nil
	}
	now := s.Now()
	limit := in.Limit
	if limit <= 0 {
		limit = 50
	}
	// also the alerts the api has just opened: its start may race this one,
	// and the alert's workflow ID lets only one of the two through
	ids, err := s.Store.AlertsAwaitingNotify(ctx, now.Add(-24*time.Hour), now.Add(time.Minute), limit)
	if err != nil {
		return res, fmt.Errorf("unable to list the alerts awaiting a notice: %w", err)
	}
	res.Started, err = s.notify(ctx, ids)
	return res, err
}

// notify starts the AlertNotify workflow of each alert (once: its ID is the
// alert's) and records it.
func (s *Service) notify(ctx context.Context, ids []string) (int, error) {
	if s.Temporal == nil {
		return 0, nil
	}
	consoleURL := ""
	if base := strings.TrimRight(s.PublicURL, "/"); base != "" {
		consoleURL = base + "/admin/monitoring/alerts"
	}
	started := 0
	var errs []error
	for _, id := range ids {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.Temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{ID: workflows.AlertNotifyWorkflowID(id),
			TaskQueue: s.TaskQueue, WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
			workflows.AlertNotify, workflows.AlertNotifyInput{AlertID: id, ConsoleURL: consoleURL})
		cancel()
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &already) {
			errs = append(errs, fmt.Errorf("unable to start the notice of alert %s: %w", id, err))
			continue
		}
		if err := s.Store.MarkAlertNotifyStarted(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("unable to record the notice of alert %s: %w", id, err))
			continue
		}
		started++
	}
	return started, errors.Join(errs...)
}

// ---- the rules cache --------------------------------------------------------

// rulesCache keeps the rules for a few seconds. In the api a change drops it
// at once (here, or on another replica through live's LISTEN on
// alert_rules); the worker's copy, used by the offline sweep, is at most
// the cache's age old.
type rulesCache struct {
	st    *store.Store
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
	list, err := c.st.AlertRules(ctx)
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
