package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/internal/testdb"
	"github.com/remotegpu/remotegpu/store"
)

func TestAlertRulesSeeded(t *testing.T) {
	t.Parallel()
	st, _ := testdb.New(t)
	ctx := context.Background()
	rules, err := st.AlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := alerting.DefaultRules()
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
	if err := store.UpdateAlertRule(ctx, st.Pool, r, "admin1"); err != nil {
		t.Fatal(err)
	}
	rules, _ = st.AlertRules(ctx)
	if *rules[0].Threshold != 80 || rules[0].DurationSeconds != 0 || rules[0].Enabled || rules[0].UpdatedBy != "admin1" {
		t.Fatalf("updated rule %+v", rules[0])
	}
	// offline never gets a threshold
	off := rules[3]
	off.Threshold = &th
	if err := store.UpdateAlertRule(ctx, st.Pool, off, "admin1"); err != nil {
		t.Fatal(err)
	}
	if rules, _ = st.AlertRules(ctx); rules[3].Threshold != nil {
		t.Fatalf("offline rule %+v", rules[3])
	}
}

func TestApplyAlertActions(t *testing.T) {
	t.Parallel()
	st, _ := testdb.New(t)
	ctx := context.Background()
	m := mkMachine(t, st, "al-1", "北京", "online")
	rule := alerting.Rule{Type: alerting.TypeGPUTemp, Level: alerting.LevelCritical, Threshold: 85, ClearMargin: 5, Duration: 10 * time.Second, Enabled: true}
	rules := alerting.RulesOf([]alerting.Rule{rule})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	obs := func(start int, vals ...float64) []alerting.Observation {
		out := make([]alerting.Observation, len(vals))
		for i, v := range vals {
			out[i] = alerting.Observation{Key: alerting.Key{Type: alerting.TypeGPUTemp, GPU: 3}, At: t0.Add(time.Duration(start+5*i) * time.Second), Value: v}
		}
		return out
	}
	step := func(o []alerting.Observation) []store.AlertChange {
		t.Helper()
		states, err := st.AlertStates(ctx, []string{m})
		if err != nil {
			t.Fatal(err)
		}
		a := alerting.Evaluate(rules, *states[m], o, alerting.Params{MaxGap: 15 * time.Second})
		changes, err := st.ApplyAlertActions(ctx, map[string]alerting.Actions{m: a})
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
	if p, ok := states[m].Pending[alerting.Key{Type: alerting.TypeGPUTemp, GPU: 3}]; !ok || !p.Since.Equal(t0) || p.Value != 90 {
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
	dup := alerting.Actions{Open: []alerting.NewAlert{{Key: alerting.Key{Type: alerting.TypeGPUTemp, GPU: 3}, Level: alerting.LevelCritical,
		StartedAt: t0, OpenedAt: t0, Message: "dup"}}}
	if ch, err := st.ApplyAlertActions(ctx, map[string]alerting.Actions{m: dup}); err != nil || len(ch) != 0 {
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
		return store.ResolveAlert(ctx, tx, al, store.ResolutionIgnored, "", "admin1", "known")
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
	st, _ := testdb.New(t)
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
	rule := alerting.DefaultRules()[3]
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
