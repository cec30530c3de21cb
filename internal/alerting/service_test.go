package alerting_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
	"github.com/remotegpu/remotegpu/workflows"
)

// fakeTemporal records the notices started.
type fakeTemporal struct {
	mu      sync.Mutex
	started []string
	ch      chan string
}

func newFake() *fakeTemporal { return &fakeTemporal{ch: make(chan string, 100)} }

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	in := args[0].(workflows.AlertNotifyInput)
	if o.ID != workflows.AlertNotifyWorkflowID(in.AlertID) {
		panic("workflow ID " + o.ID)
	}
	f.mu.Lock()
	f.started = append(f.started, in.AlertID)
	f.mu.Unlock()
	f.ch <- in.AlertID
	return nil, nil
}

func machine(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	m := &store.Machine{Name: name, Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: name + ".test", SSHPort: 22,
		SSHUser: "root", SSHPasswordEnc: []byte{1}, Status: "online"}
	if err := st.CreateMachine(context.Background(), m, ""); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// asAdmin is a context with a platform admin as the caller.
func asAdmin(t *testing.T, st *store.Store) context.Context {
	t.Helper()
	hash, _ := auth.HashPassword("Passw0rd-Test")
	u := &store.User{Username: "ops", Name: "运维", Email: "ops@example.test", Role: "admin", AuthSource: "local", PasswordHash: hash}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return caller.WithPrincipal(context.Background(), &caller.Principal{UserID: u.ID, Username: u.Username, Role: "admin"})
}

func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	de, ok := apperr.As(err)
	if !ok || de.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return de
}

func TestUpdateRules(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := asAdmin(t, st)
	s := alerting.New(st, nil, "", "", 5*time.Second, nil)
	th := 80.0
	cases := []struct {
		name  string
		rules []alerting.RuleChange
		code  string
		field string
	}{
		{"listed twice", []alerting.RuleChange{{Type: "offline", Level: "critical", DurationSeconds: 30}, {Type: "offline", Level: "info"}},
			"alerting.ruleListedTwice", "body.rules[1].type"},
		{"no threshold", []alerting.RuleChange{{Type: "gpu_temperature", Level: "critical", DurationSeconds: 30}}, "alerting.thresholdRequired",
			"body.rules[0].threshold"},
		{"threshold out of range", []alerting.RuleChange{{Type: "disk_usage", Level: "warning", Threshold: ptr(150.0)}}, "alerting.thresholdRange",
			"body.rules[0].threshold"},
		{"duration out of range", []alerting.RuleChange{{Type: "offline", Level: "warning", DurationSeconds: 90000}}, "alerting.durationRange",
			"body.rules[0].durationSeconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.UpdateRules(ctx, alerting.UpdateRulesInput{Rules: c.rules})
			de := wantCode(t, err, c.code)
			if len(de.Fields) != 1 || de.Fields[0].Location != c.field {
				t.Fatalf("fields %+v", de.Fields)
			}
		})
	}
	rules, err := s.UpdateRules(ctx, alerting.UpdateRulesInput{Rules: []alerting.RuleChange{
		{Type: "gpu_temperature", Level: "warning", Threshold: &th, DurationSeconds: 10, Enabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Type != "gpu_temperature" || *rules[0].Threshold != 80 || rules[0].UpdatedBy != "ops" || len(rules) != 5 {
		t.Fatalf("rules %+v", rules)
	}
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE action = 'alert.rules_update' AND actor_name = 'ops'
		AND target_id = 'gpu_temperature'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit records %d %v", n, err)
	}
}

func ptr[T any](v T) *T { return &v }

func openAlert(t *testing.T, st *store.Store, machineID string) string {
	t.Helper()
	rule := eval.Rule{Type: eval.TypeGPUTemp, Level: eval.LevelCritical, Threshold: 85, Duration: time.Minute}
	th, v := 85.0, 93.5
	ch, err := st.ApplyAlertActions(context.Background(), map[string]eval.Actions{machineID: {Open: []eval.NewAlert{{
		Key: eval.Key{Type: eval.TypeGPUTemp, GPU: 1}, Level: eval.LevelCritical, Threshold: &th, Value: &v, Duration: time.Minute,
		StartedAt: time.Now().Add(-time.Minute), OpenedAt: time.Now(), Message: eval.Message(rule, eval.Key{Type: eval.TypeGPUTemp, GPU: 1}, v, "")}}}})
	if err != nil || len(ch) != 1 {
		t.Fatalf("%+v %v", ch, err)
	}
	return ch[0].ID
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := asAdmin(t, st)
	s := alerting.New(st, nil, "", "", 5*time.Second, nil)
	id := openAlert(t, st, machine(t, st, "tr-1"))

	a, err := s.Acknowledge(ctx, alerting.TransitionInput{ID: id, Note: "  looking  "})
	if err != nil || a.Status != "acknowledged" || a.AcknowledgedBy != "ops" || a.Note != "looking" {
		t.Fatalf("acknowledged %+v %v", a, err)
	}
	if a.Code != eval.CodeGPUTemperature || a.Params["gpu"] != float64(1) || a.Message != "GPU 1 temperature 93.5 °C ≥ 85 °C for 60 s" {
		t.Fatalf("text %q %v %q", a.Code, a.Params, a.Message)
	}
	_, err = s.Acknowledge(ctx, alerting.TransitionInput{ID: id})
	if de := wantCode(t, err, "alerting.alreadyAcknowledged"); de.Kind != apperr.Conflict || de.Params["by"] != "ops" ||
		de.Message != "the alert was already acknowledged by ops" {
		t.Fatalf("%+v", de)
	}
	if a, err = s.Ignore(ctx, alerting.TransitionInput{ID: id}); err != nil || a.Resolution != store.ResolutionIgnored {
		t.Fatalf("ignored %+v %v", a, err)
	}
	_, err = s.Resolve(ctx, alerting.TransitionInput{ID: id})
	wantCode(t, err, "alerting.alreadyResolved")
	_, err = s.Get(ctx, alerting.GetInput{ID: "00000000-0000-0000-0000-000000000000"})
	wantCode(t, err, "alerting.notFound")
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE target_id = $1 AND action IN ('alert.acknowledge', 'alert.ignore')`,
		id).Scan(&n); err != nil || n != 2 {
		t.Fatalf("audit records %d %v", n, err)
	}
}

// What the agents send is evaluated off the ingest path; a critical alert
// it opens gets its notice started at once.
func TestEvaluationStartsNotice(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	m := machine(t, st, "ev-1")
	fake := newFake()
	s := alerting.New(st, fake, "q", "https://console.test/", 5*time.Second, nil)
	s.Start(context.Background())
	defer s.Close()
	start := time.Now().UTC().Add(-5 * time.Minute)
	samples := make([]agentproto.Sample, 13)
	for i := range samples {
		samples[i] = agentproto.Sample{At: start.Add(time.Duration(i) * 5 * time.Second), GPUs: []agentproto.GPUSample{{Index: 5, TempC: 92}}}
	}
	s.Ingested(context.Background(), alerting.IngestedInput{MachineID: m, Samples: samples})
	var id string
	select {
	case id = <-fake.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no notice started")
	}
	a, err := st.GetAlert(context.Background(), id)
	if err != nil || a.MachineID != m || *a.GPUIndex != 5 || a.Code != eval.CodeGPUTemperature {
		t.Fatalf("alert %+v %v", a, err)
	}
	// recorded right after the start: the sweep starts nothing more
	deadline := time.Now().Add(10 * time.Second)
	for !a.NotificationQueued && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		a, _ = st.GetAlert(context.Background(), id)
	}
	res, err := s.NotifyPending(context.Background(), activities.NotifyAlertsInput{})
	if err != nil || res.Started != 0 {
		t.Fatalf("pending %+v %v", res, err)
	}
}

// The sweep opens the offline alert of a machine the detector turned
// offline, and its notice is started by the same run.
func TestSweepOffline(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	m := machine(t, st, "off-1")
	if _, err := st.Pool.Exec(ctx, `UPDATE machines SET status = 'offline', last_seen_at = now() - interval '1 minute' WHERE id = $1`, m); err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	s := alerting.New(st, fake, "q", "", 5*time.Second, nil)
	res, err := s.SweepOffline(ctx, activities.SweepOfflineAlertsInput{})
	if err != nil || res.Opened != 1 {
		t.Fatalf("sweep %+v %v", res, err)
	}
	if res, err := s.SweepOffline(ctx, activities.SweepOfflineAlertsInput{}); err != nil || res.Opened != 0 {
		t.Fatalf("second sweep %+v %v", res, err)
	}
	n, err := s.NotifyPending(ctx, activities.NotifyAlertsInput{})
	if err != nil || n.Started != 1 {
		t.Fatalf("notices %+v %v", n, err)
	}
	if n, err := s.NotifyPending(ctx, activities.NotifyAlertsInput{}); err != nil || n.Started != 0 {
		t.Fatalf("notices again %+v %v", n, err)
	}
	list, _, err := st.ListAlerts(ctx, store.AlertFilter{Type: "offline"}, store.Page{})
	if err != nil || len(list) != 1 || list[0].Code != eval.CodeOffline || list[0].Message != "machine offline: no data for 30 s or more" ||
		!list[0].NotificationQueued || fake.started[0] != list[0].ID {
		t.Fatalf("alerts %+v %v", list, err)
	}
	// back online: resolved by the next sweep
	if _, err := st.Pool.Exec(ctx, `UPDATE machines SET status = 'online' WHERE id = $1`, m); err != nil {
		t.Fatal(err)
	}
	if res, err := s.SweepOffline(ctx, activities.SweepOfflineAlertsInput{}); err != nil || res.Resolved != 1 {
		t.Fatalf("sweep after return %+v %v", res, err)
	}
}
