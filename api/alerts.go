package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
)

// alertsHandler is the alert management (requirements 2.1.5.2) and the
// dashboard's alert centre (2.1.1), over internal/alerting.
type alertsHandler struct {
	alerts     *alerting.Service
	regionName func(string) string
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
type ActiveAlerts = alerting.ActiveAlerts

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

func (in *AlertActionInput) transition() alerting.TransitionInput {
	t := alerting.TransitionInput{ID: in.ID}
	if in.Body != nil {
		t.Note = in.Body.Note
	}
	return t
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
		http.StatusBadRequest), h.list)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/active", "list-active-alerts", tag,
		"The alert centre: open alerts (active and acknowledged), most severe first, then newest, with counts by level. "+
			"Not paged: it is the dashboard's short list (the first limit alerts) with the counts of all of them; "+
			"every open alert, paged, is list-alerts with status=open", roleAdmin,
		http.StatusBadRequest), h.active)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/rules", "get-alert-rules", tag,
		"The alert rules: GPU temperature, disk usage, memory usage, offline, lease cleanup overdue", roleAdmin), h.getRules)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/rules", "update-alert-rules", tag,
		"Change alert rules (audited); returns every rule", roleAdmin, http.StatusBadRequest), h.updateRules)
	huma.Register(api, operation(http.MethodGet, "/api/admin/alerts/{id}", "get-alert", tag, "An alert", roleAdmin, http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/acknowledge", "acknowledge-alert", tag,
		"Acknowledge an active alert (seen, being handled; it stays open until resolved)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.acknowledge)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/resolve", "resolve-alert", tag,
		"Mark an open alert handled (标记已处理): resolved by hand; it opens again if the condition still holds for the rule's duration", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.resolve)
	huma.Register(api, operation(http.MethodPut, "/api/admin/alerts/{id}/ignore", "ignore-alert", tag,
		"Ignore an open alert (忽略): resolved as ignored; the same condition opens no new alert until it has cleared", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest), h.ignore)
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
			return nil, apperr.New(apperr.Invalid, apperr.CodeInvalidTime, "{name} must be an RFC 3339 time", apperr.P{"name": key}).
				AtField("query.filters")
		}
		*dst = &t
	}
	if filter.Region != "" {
		filter.Region = h.regionName(filter.Region)
	}
	list, total, err := h.alerts.List(ctx, alerting.ListInput{Filter: filter, Page: in.ListParams.store()})
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *alertsHandler) active(ctx context.Context, in *ActiveAlertsInput) (*Resp[ActiveAlerts], error) {
	out, err := h.alerts.Active(ctx, alerting.ActiveInput{Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *alertsHandler) get(ctx context.Context, in *AlertIDInput) (*Resp[store.Alert], error) {
	a, err := h.alerts.Get(ctx, alerting.GetInput{ID: in.ID})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a)
}

func (h *alertsHandler) getRules(ctx context.Context, _ *struct{}) (*Resp[[]store.AlertRule], error) {
	rules, err := h.alerts.Rules(ctx, alerting.RulesInput{})
	if err != nil {
		return nil, err
	}
	return ok(ctx, rules)
}

func (h *alertsHandler) updateRules(ctx context.Context, in *UpdateAlertRulesInput) (*Resp[[]store.AlertRule], error) {
	changes := make([]alerting.RuleChange, len(in.Body.Rules))
	for i, r := range in.Body.Rules {
		changes[i] = alerting.RuleChange{Type: r.Type, Level: r.Level, Threshold: r.Threshold, ClearMargin: r.ClearMargin,
			DurationSeconds: r.DurationSeconds, Enabled: r.Enabled}
	}
	rules, err := h.alerts.UpdateRules(ctx, alerting.UpdateRulesInput{Rules: changes})
	if err != nil {
		return nil, err
	}
	return ok(ctx, rules)
}

func (h *alertsHandler) acknowledge(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return alertAnswer(ctx)(h.alerts.Acknowledge(ctx, in.transition()))
}

func (h *alertsHandler) resolve(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return alertAnswer(ctx)(h.alerts.Resolve(ctx, in.transition()))
}

func (h *alertsHandler) ignore(ctx context.Context, in *AlertActionInput) (*Resp[store.Alert], error) {
	return alertAnswer(ctx)(h.alerts.Ignore(ctx, in.transition()))
}

// alertAnswer turns a transition's result into the answer.
func alertAnswer(ctx context.Context) func(*store.Alert, error) (*Resp[store.Alert], error) {
	return func(a *store.Alert, err error) (*Resp[store.Alert], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, *a)
	}
}
