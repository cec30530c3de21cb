package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func TestAlertRulesSeeded(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	rules, err := st.AlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := eval.DefaultRules()
	if len(rules) != len(want) {
		t.Fatalf("%d rules", len(rules))
	}
	for i, r := range rules {
		if got := r.Rule(); got != want[i] {
			t.Errorf("rule %d: %+v, want %+v", i, got, want[i])
		}
	}
	th := 80.0
	r := rules[0]
	r.Threshold, r.DurationSeconds, r.Enabled = &th, 0, false
	if err := st.UpdateAlertRule(ctx, r, "admin1"); err != nil {
		t.Fatal(err)
	}
	rules, _ = st.AlertRules(ctx)
	if *rules[0].Threshold != 80 || rules[0].DurationSeconds != 0 || rules[0].Enabled || rules[0].UpdatedBy != "admin1" {
		t.Fatalf("updated rule %+v", rules[0])
	}
	// offline never gets a threshold
	off := rules[3]
	off.Threshold = &th
	if err := st.UpdateAlertRule(ctx, off, "admin1"); err != nil {
		t.Fatal(err)
	}
	if rules, _ = st.AlertRules(ctx); rules[3].Threshold != nil {
		t.Fatalf("offline rule %+v", rules[3])
	}
	// lease_cleanup: last in the form, a duration ("raise after") and no threshold, like offline
	lc := rules[4]
	if lc.Type != "lease_cleanup" || lc.Threshold != nil || lc.DurationSeconds != 1800 || lc.Level != "warning" || !lc.Enabled {
		t.Fatalf("lease cleanup rule %+v", lc)
	}
	lc.Threshold, lc.DurationSeconds, lc.Level = &th, 3600, "critical"
	if err := st.UpdateAlertRule(ctx, lc, "admin2"); err != nil {
		t.Fatal(err)
	}
	rules, _ = st.AlertRules(ctx)
	if r := rules[4]; r.Threshold != nil || r.DurationSeconds != 3600 || r.Level != "critical" || r.UpdatedBy != "admin2" {
		t.Fatalf("updated lease cleanup rule %+v", r)
	}
	if r := rules[4].Rule(); r.Type != eval.TypeLeaseCleanup || r.Duration != time.Hour {
		t.Fatalf("lease cleanup rule for the evaluation %+v", r)
	}
}

// A lease_cleanup alert is listed and filtered like the others; ignoring it
// leaves no suppressed condition behind (the workflow raises it once per
// cleanup, the samples never do).
func TestLeaseCleanupAlert(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	m := mkMachine(t, st, "lc-1", "北京", "online")
	other := mkMachine(t, st, "lc-2", "北京", "online")
	var tenant, alloc string
	if err := st.Pool.QueryRow(ctx, `INSERT INTO tenants (name, company, code) VALUES ('T', 'Lease Cleanup Co', 'lcco') RETURNING id`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool.QueryRow(ctx, `INSERT INTO allocations (tenant_id, machine_id, status, months, ended_at) VALUES ($1, $2, 'reclaimed', 1, now())
		RETURNING id`, tenant, m).Scan(&alloc); err != nil {
		t.Fatal(err)
	}
	if err := st.BeginLeaseCleanup(ctx, alloc, m); err != nil {
		t.Fatal(err)
	}
	// the platform's maintenance says what it is, for the console (no "end maintenance" button)
	recs, _, err := st.ListMaintenance(ctx, store.MaintenanceFilter{MachineID: m, OpenOnly: true}, store.Page{})
	if err != nil || len(recs) != 1 || recs[0].Kind != "lease_cleanup" || recs[0].Reason != store.MaintenanceReasonLeaseCleanup {
		t.Fatalf("maintenance %+v %v", recs, err)
	}
	since := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	text := eval.LeaseCleanupMessage(30*time.Minute, []string{"rotate_password"})
	opened, err := st.OpenCleanupAlert(ctx, store.CleanupAlert{MachineID: m, AllocationID: alloc, Level: "warning",
		Code: text.Code, Params: text.Params, Message: text.English(), Since: since, After: 30 * time.Minute})
	if err != nil || !opened {
		t.Fatalf("opened %v %v", opened, err)
	}
	// a sampled alert on another machine, which the type filter leaves out
	rule := eval.Rule{Type: eval.TypeMemory, Level: eval.LevelWarning, Threshold: 90, ClearMargin: 5, Enabled: true}
	mem := eval.Observation{Key: eval.Key{Type: eval.TypeMemory, GPU: eval.NoGPU}, At: since, Value: 99}
	if ch, err := st.ApplyAlertActions(ctx, map[string]eval.Actions{other: eval.Evaluate(eval.RulesOf([]eval.Rule{rule}),
		eval.State{}, []eval.Observation{mem}, eval.Params{})}); err != nil || len(ch) != 1 {
		t.Fatalf("memory alert %+v %v", ch, err)
	}
	list, total, err := st.ListAlerts(ctx, store.AlertFilter{Type: "lease_cleanup"}, store.Page{})
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("by type: %d %+v %v", total, list, err)
	}
	al := list[0]
	if al.MachineID != m || al.Type != "lease_cleanup" || al.Status != "active" || al.Level != "warning" || al.GPUIndex != nil ||
		al.Threshold != nil || al.Value != nil || al.DurationSeconds != 1800 || !al.StartedAt.Equal(since) ||
		al.Code != eval.CodeLeaseCleanupStuck || al.Params["steps"] != "rotate_password" || al.Message != text.English() {
		t.Fatalf("lease cleanup alert %+v", al)
	}
	if _, total, _ := st.ListAlerts(ctx, store.AlertFilter{}, store.Page{}); total != 2 {
		t.Fatalf("all alerts: %d", total)
	}
	if _, c, _ := st.ActiveAlerts(ctx, 10); c.Total != 2 || c.Warning != 2 {
		t.Fatalf("counts %+v", c)
	}
	// the sample evaluation of the machine does not touch it
	states, err := st.AlertStates(ctx, []string{m})
	if err != nil {
		t.Fatal(err)
	}
	if a := eval.Evaluate(eval.RulesOf(eval.DefaultRules()), *states[m], []eval.Observation{
		{Key: eval.Key{Type: eval.TypeOffline, GPU: eval.NoGPU}, At: time.Now()}}, eval.Params{}); !a.Empty() {
		t.Fatalf("evaluation actions %+v", a)
	}
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		return store.New(tx).ResolveAlert(ctx, &al, store.ResolutionIgnored, "", "admin1", "known")
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, `SELECT count(*) FROM alert_states WHERE machine_id = $1`, m); n != 0 {
		t.Fatalf("%d alert states after ignoring a lease cleanup alert", n)
	}
	al2, _ := st.GetAlert(ctx, al.ID)
	if al2.Status != "resolved" || al2.Resolution != "ignored" {
		t.Fatalf("ignored %+v", al2)
	}
}

func TestApplyAlertActions(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	m := mkMachine(t, st, "al-1", "北京", "online")
	rule := eval.Rule{Type: eval.TypeGPUTemp, Level: eval.LevelCritical, Threshold: 85, ClearMargin: 5, Duration: 10 * time.Second, Enabled: true}
	rules := eval.RulesOf([]eval.Rule{rule})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	obs := func(start int, vals ...float64) []eval.Observation {
		out := make([]eval.Observation, len(vals))
		for i, v := range vals {
			out[i] = eval.Observation{Key: eval.Key{Type: eval.TypeGPUTemp, GPU: 3}, At: t0.Add(time.Duration(start+5*i) * time.Second), Value: v}
		}
		return out
	}
	step := func(o []eval.Observation) []store.AlertChange {
		t.Helper()
		states, err := st.AlertStates(ctx, []string{m})
		if err != nil {
			t.Fatal(err)
		}
		a := eval.Evaluate(rules, *states[m], o, eval.Params{MaxGap: 15 * time.Second})
		changes, err := st.ApplyAlertActions(ctx, map[string]eval.Actions{m: a})
		if err != nil {
			t.Fatal(err)
		}
		return changes
	}
	// pending, stored between requests
	if ch := step(obs(0, 90)); len(ch) != 0 {
		t.Fatalf("changes %+v", ch)
	}
	states, _ := st.AlertStates(ctx, []string{m})
	if p, ok := states[m].Pending[eval.Key{Type: eval.TypeGPUTemp, GPU: 3}]; !ok || !p.Since.Equal(t0) || p.Value != 90 {
		t.Fatalf("pending %+v", states[m].Pending)
	}
	ch := step(obs(5, 91, 92))
	if len(ch) != 1 || ch[0].Event != store.AlertOpened || ch[0].Level != "critical" {
		t.Fatalf("changes %+v", ch)
	}
	al, err := st.GetAlert(ctx, ch[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if al.Status != "active" || *al.GPUIndex != 3 || *al.Value != 92 || *al.Threshold != 85 || !al.StartedAt.Equal(t0) || al.MachineName != "al-1" ||
		al.Handled || al.DurationSeconds != 10 {
		t.Fatalf("alert %+v", al)
	}
	// a second replica opening the same alert is ignored by the unique index
	dup := eval.Actions{Open: []eval.NewAlert{{Key: eval.Key{Type: eval.TypeGPUTemp, GPU: 3}, Level: eval.LevelCritical,
		StartedAt: t0, OpenedAt: t0, Message: eval.Text{Code: "dup"}}}}
	if ch, err := st.ApplyAlertActions(ctx, map[string]eval.Actions{m: dup}); err != nil || len(ch) != 0 {
		t.Fatalf("duplicate: %+v %v", ch, err)
	}
	if _, c, _ := st.ActiveAlerts(ctx, 10); c.Total != 1 || c.Critical != 1 {
		t.Fatalf("counts %+v", c)
	}
	// cooling below threshold - margin resolves it
	ch = step(obs(20, 82, 79))
	if len(ch) != 1 || ch[0].Event != store.AlertResolved || ch[0].ID != al.ID {
		t.Fatalf("changes %+v", ch)
	}
	al, _ = st.GetAlert(ctx, al.ID)
	if al.Status != "resolved" || al.Resolution != "auto" || *al.ResolvedValue != 79 || !al.Handled || al.ResolvedAt == nil {
		t.Fatalf("resolved alert %+v", al)
	}

	// ignoring suppresses the condition until it clears
	ch = step(obs(40, 95, 95, 95))
	if len(ch) != 1 {
		t.Fatalf("changes %+v", ch)
	}
	al, _ = st.GetAlert(ctx, ch[0].ID)
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		return store.New(tx).ResolveAlert(ctx, al, store.ResolutionIgnored, "", "admin1", "known")
	}); err != nil {
		t.Fatal(err)
	}
	if ch := step(obs(55, 96, 96, 96, 96)); len(ch) != 0 {
		t.Fatalf("an ignored condition opened again: %+v", ch)
	}
	if ch := step(obs(75, 70, 95, 95, 95)); len(ch) != 1 || ch[0].Event != store.AlertOpened {
		t.Fatalf("after clearing: %+v", ch)
	}
	list, total, err := st.ListAlerts(ctx, store.AlertFilter{Resolution: "ignored"}, store.Page{})
	if err != nil || total != 1 || list[0].Note != "known" || list[0].ResolvedBy != "admin1" {
		t.Fatalf("ignored: %d %+v %v", total, list, err)
	}
}

func TestOfflineAlerts(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	silent := mkMachine(t, st, "off-1", "北京", "online")
	recent := mkMachine(t, st, "off-2", "北京", "online")
	never := mkMachine(t, st, "off-3", "北京", "offline") // no agent ever: no alert
	now := time.Now()
	if _, err := st.Pool.Exec(ctx, `UPDATE machines SET last_seen_at = $2 WHERE id = $1`, silent, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE machines SET last_seen_at = $2 WHERE id = $1`, recent, now.Add(-20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MarkStaleOffline(ctx, now.Add(-15*time.Second)); err != nil {
		t.Fatal(err)
	}
	rule := eval.DefaultRules()[3]
	cands, err := st.OfflineCandidates(ctx, now.Add(-rule.Duration))
	if err != nil || len(cands) != 1 || cands[0].MachineID != silent {
		t.Fatalf("candidates %+v %v (never: %s)", cands, err, never)
	}
	ch, err := st.OpenOfflineAlerts(ctx, rule, cands)
	if err != nil || len(ch) != 1 || ch[0].MachineID != silent || ch[0].Level != "critical" {
		t.Fatalf("opened %+v %v", ch, err)
	}
	// once only
	if ch, err := st.OpenOfflineAlerts(ctx, rule, cands); err != nil || len(ch) != 0 {
		t.Fatalf("again %+v %v", ch, err)
	}
	if cands, _ := st.OfflineCandidates(ctx, now.Add(-rule.Duration)); len(cands) != 0 {
		t.Fatalf("candidates with an open alert %+v", cands)
	}
	// back online: resolved
	if _, err := st.Pool.Exec(ctx, `UPDATE machines SET status = 'online' WHERE id = $1`, silent); err != nil {
		t.Fatal(err)
	}
	ch, err = st.ResolveBackOnline(ctx)
	if err != nil || len(ch) != 1 || ch[0].Event != store.AlertResolved || ch[0].Type != "offline" {
		t.Fatalf("resolved %+v %v", ch, err)
	}
	// "only machines with alerts" of the real-time list
	if _, err := st.OpenOfflineAlerts(ctx, rule, []store.OfflineCandidate{{MachineID: recent, LastSeenAt: now}}); err != nil {
		t.Fatal(err)
	}
	list, total, err := st.Realtime(ctx, store.RealtimeFilter{OnlyAlerts: true}, store.Page{PageSize: 10})
	if err != nil || total != 1 || list[0].ID != recent || list[0].OpenAlerts != 1 {
		t.Fatalf("only with alerts: %d %+v %v", total, list, err)
	}
}
