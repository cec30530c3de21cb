package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/store"
)

// full is n rounds 5 s apart from start with the host's data disk at pct %.
func full(start time.Time, n int, pct float64) []agentproto.Sample {
	out := make([]agentproto.Sample, n)
	for i := range out {
		out[i] = round(start.Add(time.Duration(i)*5*time.Second), 2, 10)
		out[i].Host.Disks = append(out[i].Host.Disks, agentproto.DiskSample{Mount: "/data", UsedGiB: pct * 10, TotalGiB: 1000})
	}
	return out
}

func alertPage(t *testing.T, s *session, query string) api.Page[store.Alert] {
	t.Helper()
	var p api.Page[store.Alert]
	s.must(200, "GET", "/api/admin/alerts?"+query, nil).decode(t, &p)
	return p
}

// waitAlerts polls the alert list until it has want items.
func waitAlerts(t *testing.T, s *session, query string, want int) []store.Alert {
	t.Helper()
	var p api.Page[store.Alert]
	waitFor(t, "alerts "+query, func() bool {
		p = alertPage(t, s, query)
		return p.Total == want
	})
	return p.List
}

func TestAlertsFromIngest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	hotAgent := addAgent(t, e, admin, "al-hot", "北京")
	diskAgent := addAgent(t, e, admin, "al-disk", "上海")
	start := time.Now().UTC().Truncate(time.Second).Add(-30 * time.Minute)

	// GPU 5 at 92 °C for a minute: one critical alert
	hotAgent.post(t, hot(start, 13, 5, 92)...)
	list := waitAlerts(t, admin, "status=open", 1)
	al := list[0]
	if al.Type != "gpu_temperature" || al.GPUIndex == nil || *al.GPUIndex != 5 || al.Level != "critical" || al.Status != "active" ||
		al.MachineName != "al-hot" || al.Region != "北京" || *al.Value != 92 || al.Handled || !al.StartedAt.Equal(start) {
		t.Fatalf("alert %+v", al)
	}
	var active api.ActiveAlerts
	admin.must(200, "GET", "/api/admin/alerts/active", nil).decode(t, &active)
	if active.Counts.Total != 1 || active.Counts.Critical != 1 || len(active.List) != 1 || active.List[0].ID != al.ID {
		t.Fatalf("active %+v", active)
	}
	// still hot, then between threshold - margin and threshold: no second alert, not resolved
	hotAgent.post(t, hot(start.Add(65*time.Second), 6, 5, 95)...)
	hotAgent.post(t, hot(start.Add(95*time.Second), 6, 5, 82)...)
	var rt api.Page[store.RealtimeMachine]
	admin.must(200, "GET", "/api/admin/monitoring/realtime?onlyAlerts=true", nil).decode(t, &rt)
	if rt.Total != 1 || rt.List[0].ID != hotAgent.machineID || rt.List[0].OpenAlerts != 1 {
		t.Fatalf("only machines with alerts: %+v", rt)
	}
	if p := alertPage(t, admin, ""); p.Total != 1 || p.List[0].Status != "active" {
		t.Fatalf("after 95 and 82 °C: %+v", p)
	}

	var got store.Alert
	admin.must(200, "PUT", "/api/admin/alerts/"+al.ID+"/acknowledge", map[string]any{"note": "on it"}).decode(t, &got)
	if got.Status != "acknowledged" || got.AcknowledgedBy != "admin1" || got.AcknowledgedAt == nil || got.Note != "on it" || got.Handled {
		t.Fatalf("acknowledged %+v", got)
	}
	admin.must(409, "PUT", "/api/admin/alerts/"+al.ID+"/acknowledge", nil)
	// cooled below 80 °C: resolved by itself
	hotAgent.post(t, hot(start.Add(125*time.Second), 2, 5, 70)...)
	waitFor(t, "the automatic resolution", func() bool {
		admin.must(200, "GET", "/api/admin/alerts/"+al.ID, nil).decode(t, &got)
		return got.Status == "resolved"
	})
	if got.Resolution != "auto" || !got.Handled || got.ResolvedBy != "" || got.ResolvedValue == nil || *got.ResolvedValue != 70 {
		t.Fatalf("resolved %+v", got)
	}
	admin.must(409, "PUT", "/api/admin/alerts/"+al.ID+"/resolve", nil)
	admin.must(409, "PUT", "/api/admin/alerts/"+al.ID+"/ignore", nil)

	// a full disk for 5 minutes: a warning; ignored, it stays quiet while the disk stays full
	diskAgent.post(t, full(start, 61, 96)...)
	disk := waitAlerts(t, admin, "type=disk_usage", 1)[0]
	if disk.Level != "warning" || disk.GPUIndex != nil || !strings.Contains(disk.Message, "/data") || disk.Region != "上海" {
		t.Fatalf("disk alert %+v", disk)
	}
	admin.must(200, "PUT", "/api/admin/alerts/"+disk.ID+"/ignore", map[string]any{"note": "archive disk"}).decode(t, &got)
	if got.Status != "resolved" || got.Resolution != "ignored" || got.ResolvedBy != "admin1" || !got.Handled {
		t.Fatalf("ignored %+v", got)
	}
	diskAgent.post(t, full(start.Add(305*time.Second), 61, 97)...)
	// a third alert, handled by hand, so the filters below have something to tell apart
	hotAgent.post(t, hot(start.Add(200*time.Second), 13, 1, 99)...)
	third := waitAlerts(t, admin, "status=open", 1)[0]
	admin.must(200, "PUT", "/api/admin/alerts/"+third.ID+"/resolve", nil).decode(t, &got)
	if got.Status != "resolved" || got.Resolution != "manual" {
		t.Fatalf("resolved by hand %+v", got)
	}
	if p := alertPage(t, admin, "type=disk_usage"); p.Total != 1 {
		t.Fatalf("the ignored disk opened again: %+v", p.List)
	}

	from := url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339))
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	for q, want := range map[string]int{
		"": 3, "level=critical": 2, "level=warning": 1, "type=gpu_temperature": 2, "status=resolved": 3, "status=open": 0,
		"resolution=auto": 1, "resolution=ignored": 1, "resolution=manual": 1, "machineId=" + diskAgent.machineID: 1,
		"region=上海": 1, "keyword=al-hot": 2, "keyword=/data": 1, "from=" + from: 3, "from=" + future: 0, "to=" + from: 0,
		"filters=" + url.QueryEscape(`{"level":"warning","status":"resolved"}`): 1,
	} {
		if p := alertPage(t, admin, q); p.Total != want || len(p.List) != want {
			t.Errorf("%s: %d alerts (%d listed), want %d", q, p.Total, len(p.List), want)
		}
	}
	p := alertPage(t, admin, "pageSize=1&page=2&sortBy=level&order=asc")
	if p.Total != 3 || len(p.List) != 1 || p.List[0].Level != "critical" {
		t.Fatalf("page 2 by level %+v", p)
	}
	if p := alertPage(t, admin, "sortBy=level&order=desc"); p.List[0].Level != "warning" {
		t.Fatalf("by level desc %+v", p.List)
	}
	admin.must(400, "GET", "/api/admin/alerts?machineId=nope", nil)
	admin.must(400, "GET", "/api/admin/alerts?level=fatal", nil)
	admin.must(404, "GET", "/api/admin/alerts/00000000-0000-0000-0000-000000000000", nil)
	admin.must(404, "PUT", "/api/admin/alerts/00000000-0000-0000-0000-000000000000/resolve", nil)
	e.login("owner-a").must(403, "GET", "/api/admin/alerts", nil)
	e.login("owner-a").must(403, "PUT", "/api/admin/alerts/"+disk.ID+"/resolve", nil)

	// audited
	var logs api.Page[store.AuditLog]
	admin.must(200, "GET", "/api/admin/audit-logs?action=alert.", nil).decode(t, &logs)
	actions := map[string]int{}
	for _, l := range logs.List {
		actions[l.Action]++
	}
	if actions["alert.acknowledge"] != 1 || actions["alert.ignore"] != 1 || actions["alert.resolve"] != 1 || len(actions) != 3 {
		t.Fatalf("audit %v", actions)
	}
}

func TestAlertRulesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	var rules []store.AlertRule
	admin.must(200, "GET", "/api/admin/alerts/rules", nil).decode(t, &rules)
	if len(rules) != 5 || rules[0].Type != "gpu_temperature" || *rules[0].Threshold != 85 || rules[0].DurationSeconds != 60 || rules[0].Level != "critical" ||
		rules[1].Type != "disk_usage" || *rules[1].Threshold != 90 || rules[2].Type != "memory_usage" || *rules[2].Threshold != 95 ||
		rules[3].Type != "offline" || rules[3].Threshold != nil || rules[3].DurationSeconds != 30 || !rules[3].Enabled ||
		rules[4].Type != "lease_cleanup" || rules[4].Threshold != nil || rules[4].DurationSeconds != 1800 || rules[4].Level != "warning" || !rules[4].Enabled {
		t.Fatalf("default rules %+v", rules)
	}
	for _, body := range []map[string]any{
		{"rules": []map[string]any{{"type": "gpu_temperature", "level": "critical", "threshold": 200, "durationSeconds": 60, "enabled": true}}},
		{"rules": []map[string]any{{"type": "disk_usage", "level": "warning", "durationSeconds": 60, "enabled": true}}},
		{"rules": []map[string]any{{"type": "disk_usage", "level": "warning", "threshold": 90, "clearMargin": 95, "durationSeconds": 60, "enabled": true}}},
		{"rules": []map[string]any{{"type": "memory_usage", "level": "warning", "threshold": 90, "durationSeconds": 1, "enabled": true},
			{"type": "memory_usage", "level": "info", "threshold": 90, "durationSeconds": 1, "enabled": true}}},
		{"rules": []map[string]any{{"type": "cpu", "level": "warning", "threshold": 90, "durationSeconds": 1, "enabled": true}}},
		{"rules": []map[string]any{{"type": "offline", "level": "critical", "durationSeconds": 100000, "enabled": true}}},
		{"rules": []map[string]any{{"type": "lease_cleanup", "level": "warning", "durationSeconds": 86401, "enabled": true}}},
		{"rules": []map[string]any{{"type": "lease_cleanup", "level": "fatal", "durationSeconds": 600, "enabled": true}}},
	} {
		admin.must(400, "PUT", "/api/admin/alerts/rules", body)
	}
	admin.must(200, "PUT", "/api/admin/alerts/rules", map[string]any{"rules": []map[string]any{
		{"type": "gpu_temperature", "level": "warning", "threshold": 80, "clearMargin": 3, "durationSeconds": 0, "enabled": true},
		{"type": "offline", "level": "info", "durationSeconds": 120, "enabled": false},
	}}).decode(t, &rules)
	if rules[0].Level != "warning" || *rules[0].Threshold != 80 || rules[0].ClearMargin != 3 || rules[0].DurationSeconds != 0 || rules[0].UpdatedBy != "admin1" ||
		rules[3].Enabled || rules[3].DurationSeconds != 120 || rules[3].Level != "info" || *rules[1].Threshold != 90 {
		t.Fatalf("updated rules %+v", rules)
	}
	var logs api.Page[store.AuditLog]
	admin.must(200, "GET", "/api/admin/audit-logs?action=alert.rules_update", nil).decode(t, &logs)
	if logs.Total != 1 || logs.List[0].TargetID != "gpu_temperature,offline" || logs.List[0].Detail["before"] == nil {
		t.Fatalf("audit %+v", logs.List)
	}
	// the new rule applies at once: one sample at 81 °C is an alert
	a := addAgent(t, e, admin, "rule-1", "北京")
	a.post(t, hot(time.Now().UTC().Add(-time.Minute), 1, 0, 81)...)
	al := waitAlerts(t, admin, "status=active", 1)[0]
	if al.Level != "warning" || *al.Threshold != 80 {
		t.Fatalf("alert %+v", al)
	}
	e.login("owner-a").must(403, "GET", "/api/admin/alerts/rules", nil)
	e.login("owner-a").must(403, "PUT", "/api/admin/alerts/rules", map[string]any{"rules": []map[string]any{
		{"type": "offline", "level": "info", "durationSeconds": 120, "enabled": false}}})

	// lease_cleanup has a duration ("raise after") and, like offline, no
	// threshold: one sent is ignored and the rule keeps null
	admin.must(200, "PUT", "/api/admin/alerts/rules", map[string]any{"rules": []map[string]any{
		{"type": "lease_cleanup", "level": "critical", "threshold": 50, "clearMargin": 7, "durationSeconds": 7200, "enabled": true},
		{"type": "offline", "level": "info", "threshold": 50, "clearMargin": 7, "durationSeconds": 90, "enabled": true},
	}}).decode(t, &rules)
	if len(rules) != 5 || rules[4].Type != "lease_cleanup" || rules[4].Threshold != nil || rules[4].ClearMargin != 0 || rules[4].DurationSeconds != 7200 ||
		rules[4].Level != "critical" || rules[4].UpdatedBy != "admin1" || rules[3].Threshold != nil || rules[3].ClearMargin != 0 || rules[3].DurationSeconds != 90 {
		t.Fatalf("lease cleanup rule %+v", rules)
	}
	// all five at once
	all := []map[string]any{}
	for _, r := range rules {
		all = append(all, map[string]any{"type": r.Type, "level": r.Level, "threshold": r.Threshold, "durationSeconds": r.DurationSeconds, "enabled": r.Enabled})
	}
	admin.must(200, "PUT", "/api/admin/alerts/rules", map[string]any{"rules": all}).decode(t, &rules)
	if len(rules) != 5 || rules[4].DurationSeconds != 7200 {
		t.Fatalf("rules after a full save %+v", rules)
	}
	admin.must(200, "GET", "/api/admin/audit-logs?action=alert.rules_update", nil).decode(t, &logs)
	if logs.Total != 3 || logs.List[0].TargetID != "gpu_temperature,disk_usage,memory_usage,offline,lease_cleanup" ||
		logs.List[1].TargetID != "lease_cleanup,offline" {
		t.Fatalf("audit %+v", logs.List)
	}
}

// The offline sweep (the worker's AlertSweep schedule runs it every 10 s,
// here called as its activity is) opens an offline alert for a machine the
// offline detector turned offline; its next sample resolves it.
func TestOfflineAlert(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "off-1", "北京")
	a.post(t, round(time.Now().UTC().Add(-time.Minute), 8, 10))
	ctx := context.Background()
	// silent for a minute, then the offline detector runs
	if _, err := e.st.Pool.Exec(ctx, `UPDATE machines SET last_seen_at = now() - interval '1 minute' WHERE id = $1`, a.machineID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.MarkStaleOffline(ctx, time.Now().Add(-15*time.Second)); err != nil {
		t.Fatal(err)
	}
	sweep := alerting.New(e.st, nil, "", "", 0, nil)
	if res, err := sweep.SweepOffline(ctx, activities.SweepOfflineAlertsInput{}); err != nil || res.Opened != 1 {
		t.Fatalf("sweep %+v %v", res, err)
	}
	al := waitAlerts(t, admin, "type=offline&status=open", 1)[0]
	if al.Level != "critical" || al.MachineID != a.machineID || al.GPUIndex != nil || al.DurationSeconds != 30 || al.Code != "alerting.offline" ||
		al.Params["seconds"] != float64(30) || al.Message != "machine offline: no data for 30 s or more" {
		t.Fatalf("offline alert %+v", al)
	}
	admin.must(200, "PUT", "/api/admin/alerts/"+al.ID+"/acknowledge", nil)
	// the agent is back: resolved automatically
	a.post(t, round(time.Now().UTC(), 8, 10))
	waitAlerts(t, admin, "type=offline&status=resolved&resolution=auto", 1)
	if p := alertPage(t, admin, "status=open"); p.Total != 0 {
		t.Fatalf("open after the agent came back: %+v", p.List)
	}
}

// TestAlertNotifications runs the AlertNotify workflow on the Temporal dev
// server: the admins get a mail, the webhook a POST.
func TestAlertNotifications(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var hooks []activities.AlertWebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p activities.AlertWebhookPayload
		if err := json.Unmarshal(b, &p); err == nil {
			mu.Lock()
			hooks = append(hooks, p)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()
	e := newEnv(t, options{temporal: true, webhook: hook.URL})
	admin := e.login("admin1")
	a := addAgent(t, e, admin, "notify-1", "北京")
	since := time.Now()
	a.post(t, hot(time.Now().UTC().Add(-2*time.Minute), 13, 7, 97)...)
	al := waitAlerts(t, admin, "status=active", 1)[0]
	msg, err := e.sink.WaitFor(context.Background(), "admin1@example.test", since)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Subject, "notify-1") || !strings.Contains(msg.Text, "GPU 7") {
		t.Fatalf("mail %q\n%s", msg.Subject, msg.Text)
	}
	waitFor(t, "the webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) == 1
	})
	if h := hooks[0]; h.Event != "alert.opened" || h.Alert.ID != al.ID || h.Alert.MachineName != "notify-1" {
		t.Fatalf("webhook %+v", h)
	}
	var got store.Alert
	waitFor(t, "the notification recorded", func() bool {
		admin.must(200, "GET", "/api/admin/alerts/"+al.ID, nil).decode(t, &got)
		return got.NotificationQueued
	})
	// warnings notify nobody
	b := addAgent(t, e, admin, "notify-2", "北京")
	b.post(t, full(time.Now().UTC().Add(-10*time.Minute), 61, 99)...)
	waitAlerts(t, admin, "status=active", 2)
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks", len(hooks))
	}
}

// A lease whose cleanup outlasts the lease_cleanup rule raises an alert of
// that type (the LeaseCleanup workflow), which the list filters by type and
// which marking the machine reinstalled resolves.
func TestLeaseCleanupAlert(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	// raise at once: no agent runs for the machine, so its cleanup never finishes
	admin.must(200, "PUT", "/api/admin/alerts/rules", map[string]any{"rules": []map[string]any{
		{"type": "lease_cleanup", "level": "warning", "durationSeconds": 0, "enabled": true}}})
	m := addMachine(t, admin, "lc-alert-1", "北京", "H100").Machine
	lease := leaseOne(t, admin, e.fx.tenantA.ID, m.ID)
	waitFor(t, "allocation active", func() bool {
		var a store.Allocation
		admin.must(200, "GET", "/api/admin/allocations/"+lease.ID, nil).decode(t, &a)
		return a.Status == "active"
	})
	admin.must(202, "POST", "/api/admin/allocations/"+lease.ID+"/reclaim", map[string]any{"reason": "test"})
	al := waitAlerts(t, admin, "type=lease_cleanup&status=open", 1)[0]
	if al.MachineID != m.ID || al.Level != "warning" || al.Threshold != nil || al.GPUIndex != nil || !strings.Contains(al.Message, "stop_tenant") {
		t.Fatalf("lease cleanup alert %+v", al)
	}
	// the same through filters, and the other types leave it out
	if p := alertPage(t, admin, "filters="+url.QueryEscape(`{"type":"lease_cleanup"}`)); p.Total != 1 || p.List[0].ID != al.ID {
		t.Fatalf("filtered by type %+v", p)
	}
	if p := alertPage(t, admin, "type=offline"); p.Total != 0 {
		t.Fatalf("offline alerts %+v", p.List)
	}
	admin.must(400, "GET", "/api/admin/alerts?type=lease", nil)
	var active api.ActiveAlerts
	admin.must(200, "GET", "/api/admin/alerts/active", nil).decode(t, &active)
	if active.Counts.Warning != 1 || len(active.List) != 1 || active.List[0].Type != "lease_cleanup" {
		t.Fatalf("alert centre %+v", active)
	}
	// the admin marks the machine reinstalled: the cleanup ends, the alert is resolved by hand
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reinstalled", map[string]any{"note": "reimaged"})
	waitAlerts(t, admin, "type=lease_cleanup&status=resolved&resolution=manual", 1)
}
