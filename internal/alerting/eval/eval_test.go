package eval

import (
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// temps makes one GPU-0 temperature observation every 5 s from second start.
func temps(start int, values ...float64) []Observation {
	out := make([]Observation, len(values))
	for i, v := range values {
		out[i] = Observation{Key: Key{TypeGPUTemp, 0}, At: at(start + 5*i), Value: v}
	}
	return out
}

func empty() State { return State{Pending: map[Key]Pending{}, Open: map[Key]OpenAlert{}} }

var gpu0 = Key{TypeGPUTemp, 0}

// apply stores the actions into the state, the way the store does.
func apply(st State, a Actions, nextID *int) State {
	for _, r := range a.Resolve {
		delete(st.Open, r.Key)
	}
	for _, n := range a.Open {
		if n.ResolvedAt == nil {
			*nextID++
			st.Open[n.Key] = OpenAlert{Key: n.Key, ID: string(rune('a' + *nextID))}
		}
	}
	for _, p := range a.SetPending {
		st.Pending[p.Key] = p
	}
	for _, k := range a.ClearPending {
		delete(st.Pending, k)
	}
	return st
}

func TestEvaluateTemperature(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelCritical, Threshold: 85, ClearMargin: 5, Duration: 60 * time.Second, Enabled: true}
	rules := RulesOf([]Rule{rule})
	p := Params{MaxGap: 15 * time.Second}
	cases := []struct {
		name       string
		batches    [][]Observation // evaluated one after the other, state carried over
		wantOpened int             // alerts opened (still open or not)
		wantOpen   bool            // an alert is open at the end
		wantPend   bool            // a pending condition at the end
	}{
		{"below threshold", [][]Observation{temps(0, 70, 80, 84.9, 84)}, 0, false, false},
		{"holds less than the duration", [][]Observation{temps(0, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97)}, 0, false, true}, // 55 s
		{"holds the duration", [][]Observation{temps(0, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98)}, 1, true, false},       // 60 s
		{"held across requests", [][]Observation{temps(0, 86, 86, 86), temps(15, 86, 86, 86), temps(30, 86, 86, 86), temps(45, 86, 86, 86, 86)}, 1, true, false},
		{"a dip restarts the count", [][]Observation{temps(0, 90, 90, 90, 90, 90, 90, 84, 90, 90, 90, 90, 90, 90, 90, 90)}, 0, false, true},
		{"a gap restarts the count", [][]Observation{temps(0, 90, 90, 90, 90), temps(100, 90, 90, 90, 90, 90)}, 0, false, true},
		{"hysteresis: stays open between threshold-margin and threshold",
			[][]Observation{temps(0, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90), temps(65, 84, 82, 80.5, 83, 84.9)}, 1, true, false},
		{"clears below threshold-margin", [][]Observation{temps(0, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90), temps(65, 84, 79.9)}, 1, false, false},
		{"no storm: flapping at the threshold opens one alert",
			[][]Observation{temps(0, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90), temps(65, 84, 86, 84, 86, 84, 86, 84, 86, 84, 86, 84, 86, 84, 86, 86)}, 1, true, false},
		{"reopens after clearing and holding again",
			[][]Observation{temps(0, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90), temps(65, 70), temps(70, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90)}, 2, true, false},
		{"a late request is ignored", [][]Observation{temps(30, 90, 90), temps(0, 70)}, 0, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, id, opened := empty(), 0, 0
			for _, b := range c.batches {
				a := Evaluate(rules, st, b, p)
				opened += len(a.Open)
				for _, n := range a.Open {
					if _, dup := st.Open[n.Key]; dup {
						t.Fatalf("opened a second alert for %v", n.Key)
					}
				}
				st = apply(st, a, &id)
			}
			if opened != c.wantOpened {
				t.Errorf("opened %d alerts, want %d", opened, c.wantOpened)
			}
			if _, ok := st.Open[gpu0]; ok != c.wantOpen {
				t.Errorf("open at the end: %v, want %v", ok, c.wantOpen)
			}
			if _, ok := st.Pending[gpu0]; ok != c.wantPend {
				t.Errorf("pending at the end: %v, want %v", ok, c.wantPend)
			}
		})
	}
}

func TestEvaluateOpenedAlert(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelCritical, Threshold: 85, ClearMargin: 5, Duration: 10 * time.Second, Enabled: true}
	a := Evaluate(RulesOf([]Rule{rule}), empty(), temps(0, 88, 89, 91.25), Params{})
	if len(a.Open) != 1 {
		t.Fatalf("actions %+v", a)
	}
	n := a.Open[0]
	if n.Level != LevelCritical || *n.Value != 91.25 || *n.Threshold != 85 || !n.StartedAt.Equal(at(0)) || !n.OpenedAt.Equal(at(10)) || n.ResolvedAt != nil {
		t.Fatalf("alert %+v", n)
	}
	if n.Message.Code != CodeGPUTemperature || n.Message.Params["gpu"] != 0 || !strings.Contains(n.Message.English(), "GPU 0 temperature 91.2 °C") {
		t.Fatalf("message %q", n.Message)
	}
	// the pending row it came from is gone, none was stored before: nothing to clear
	if len(a.SetPending) != 0 || len(a.ClearPending) != 0 {
		t.Fatalf("pending actions %+v", a)
	}
}

func TestEvaluateBacklogOpensAndResolves(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelWarning, Threshold: 85, ClearMargin: 5, Duration: 10 * time.Second, Enabled: true}
	a := Evaluate(RulesOf([]Rule{rule}), empty(), temps(0, 90, 90, 90, 70, 70), Params{})
	if len(a.Open) != 1 || a.Open[0].ResolvedAt == nil || !a.Open[0].ResolvedAt.Equal(at(15)) || len(a.Resolve) != 0 {
		t.Fatalf("actions %+v", a)
	}
}

func TestEvaluateResolvesStoredAlert(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelWarning, Threshold: 85, ClearMargin: 5, Duration: 10 * time.Second, Enabled: true}
	st := empty()
	st.Open[gpu0] = OpenAlert{Key: gpu0, ID: "A1"}
	a := Evaluate(RulesOf([]Rule{rule}), st, temps(0, 81, 79), Params{})
	if len(a.Resolve) != 1 || a.Resolve[0].ID != "A1" || a.Resolve[0].Value != 79 || len(a.Open) != 0 {
		t.Fatalf("actions %+v", a)
	}
}

func TestEvaluateDisabledRule(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelWarning, Threshold: 85, ClearMargin: 5, Duration: 0, Enabled: false}
	st := empty()
	st.Pending[gpu0] = Pending{Key: gpu0, Since: at(-5), LastAt: at(-5), Value: 90}
	a := Evaluate(RulesOf([]Rule{rule}), st, temps(0, 99), Params{})
	if len(a.Open) != 0 || len(a.ClearPending) != 1 {
		t.Fatalf("a disabled rule opened or kept pending: %+v", a)
	}
	// an open alert of a disabled rule still clears
	st = empty()
	st.Open[gpu0] = OpenAlert{Key: gpu0, ID: "A1"}
	if a := Evaluate(RulesOf([]Rule{rule}), st, temps(0, 50), Params{}); len(a.Resolve) != 1 {
		t.Fatalf("actions %+v", a)
	}
}

func TestEvaluateSuppressed(t *testing.T) {
	rule := Rule{Type: TypeGPUTemp, Level: LevelWarning, Threshold: 85, ClearMargin: 5, Duration: 0, Enabled: true}
	st := empty()
	st.Pending[gpu0] = Pending{Key: gpu0, Since: at(-5), LastAt: at(-5), Value: 90, Suppressed: true}
	if a := Evaluate(RulesOf([]Rule{rule}), st, temps(0, 95, 88, 82), Params{}); !a.Empty() {
		t.Fatalf("an ignored condition that has not cleared reopened: %+v", a)
	}
	a := Evaluate(RulesOf([]Rule{rule}), st, temps(0, 95, 79, 90), Params{})
	if len(a.ClearPending) != 1 || len(a.Open) != 1 || !a.Open[0].OpenedAt.Equal(at(10)) {
		t.Fatalf("after clearing it opens again: %+v", a)
	}
}

func TestEvaluateOfflineClearsOnSample(t *testing.T) {
	off := Key{TypeOffline, NoGPU}
	st := empty()
	st.Open[off] = OpenAlert{Key: off, ID: "OFF"}
	st.Pending[off] = Pending{Key: off, Suppressed: true}
	obs := Observe([]agentproto.Sample{{At: at(0), Host: agentproto.HostSample{MemUsedMiB: 1, MemTotalMiB: 10}}})
	a := Evaluate(RulesOf(DefaultRules()), st, obs, Params{})
	if len(a.Resolve) != 1 || a.Resolve[0].ID != "OFF" || len(a.ClearPending) != 1 || a.ClearPending[0] != off {
		t.Fatalf("actions %+v", a)
	}
}

func TestEvaluateMachineLevel(t *testing.T) {
	rules := RulesOf(DefaultRules())
	var samples []agentproto.Sample
	for i := 0; i <= 60; i++ { // 300 s
		samples = append(samples, agentproto.Sample{At: at(5 * i),
			GPUs: []agentproto.GPUSample{{Index: 0, TempC: 60}, {Index: 1, TempC: 61}},
			Host: agentproto.HostSample{MemUsedMiB: 96, MemTotalMiB: 100,
				Disks: []agentproto.DiskSample{{Mount: "/", UsedGiB: 10, TotalGiB: 100}, {Mount: "/data", UsedGiB: 95, TotalGiB: 100}}}})
	}
	a := Evaluate(rules, empty(), Observe(samples), Params{MaxGap: 15 * time.Second})
	got := map[Type]NewAlert{}
	for _, n := range a.Open {
		got[n.Key.Type] = n
	}
	if len(a.Open) != 2 || got[TypeMemory].Level != LevelWarning || got[TypeDisk].Key.GPU != NoGPU {
		t.Fatalf("opened %+v", a.Open)
	}
	if got[TypeDisk].Message.Code != CodeDiskUsageOn || !strings.Contains(got[TypeDisk].Message.English(), "disk usage (/data)") || *got[TypeDisk].Value != 95 {
		t.Fatalf("disk alert %+v", got[TypeDisk])
	}
}

func TestObserveOrder(t *testing.T) {
	obs := Observe([]agentproto.Sample{
		{At: at(10), GPUs: []agentproto.GPUSample{{Index: 1, TempC: 50}}},
		{At: at(5), GPUs: []agentproto.GPUSample{{Index: 1, TempC: 40}}},
	})
	if len(obs) != 3 || !obs[0].At.Equal(at(5)) || obs[0].Value != 40 || obs[2].Key.Type != TypeOffline || !obs[2].At.Equal(at(10)) {
		t.Fatalf("observations %+v", obs)
	}
	if Observe(nil) != nil {
		t.Fatal("no samples, no observations")
	}
}

func TestOfflineDue(t *testing.T) {
	r := Rule{Type: TypeOffline, Level: LevelCritical, Duration: 30 * time.Second, Enabled: true}
	cases := []struct {
		lastSeen time.Time
		enabled  bool
		want     bool
	}{
		{at(-29), true, false},
		{at(-30), true, true},
		{at(-300), false, false},
		{time.Time{}, true, false}, // never reported: never an offline alert
	}
	for _, c := range cases {
		r.Enabled = c.enabled
		if got := OfflineDue(r, c.lastSeen, at(0)); got != c.want {
			t.Errorf("OfflineDue(last seen %v, enabled %v) = %v", c.lastSeen.Sub(at(0)), c.enabled, got)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		r     Rule
		field string
	}{
		{DefaultRules()[0], ""},
		{DefaultRules()[3], ""},
		{Rule{Type: "cpu", Level: LevelInfo}, "type"},
		{Rule{Type: TypeDisk, Level: "fatal", Threshold: 90}, "level"},
		{Rule{Type: TypeDisk, Level: LevelInfo, Threshold: 101}, "threshold"},
		{Rule{Type: TypeDisk, Level: LevelInfo, Threshold: 90, ClearMargin: -1}, "clearMargin"},
		{Rule{Type: TypeMemory, Level: LevelInfo, Threshold: 90, Duration: -time.Second}, "durationSeconds"},
		{Rule{Type: TypeOffline, Level: LevelInfo, Duration: 48 * time.Hour}, "durationSeconds"},
		{DefaultRules()[4], ""},
		// like offline, lease_cleanup has no threshold: whatever is there is not checked
		{Rule{Type: TypeLeaseCleanup, Level: LevelWarning, Threshold: 500, ClearMargin: -3, Duration: time.Hour}, ""},
		{Rule{Type: TypeLeaseCleanup, Level: "fatal", Duration: time.Hour}, "level"},
		{Rule{Type: TypeLeaseCleanup, Level: LevelWarning, Duration: 48 * time.Hour}, "durationSeconds"},
		{Rule{Type: TypeLeaseCleanup, Level: LevelWarning, Duration: 1500 * time.Millisecond}, "durationSeconds"},
	}
	for _, c := range cases {
		if f, _ := c.r.Validate(); f != c.field {
			t.Errorf("%+v: field %q, want %q", c.r, f, c.field)
		}
	}
}

func TestTypes(t *testing.T) {
	want := []Type{TypeGPUTemp, TypeDisk, TypeMemory, TypeOffline, TypeLeaseCleanup}
	if len(Types) != len(want) {
		t.Fatalf("types %v", Types)
	}
	rules := DefaultRules()
	for i, typ := range Types {
		if typ != want[i] || !typ.Valid() || rules[i].Type != typ {
			t.Errorf("type %d: %q (default rule %q)", i, typ, rules[i].Type)
		}
	}
	for typ, th := range map[Type]bool{TypeGPUTemp: true, TypeDisk: true, TypeMemory: true, TypeOffline: false, TypeLeaseCleanup: false} {
		if typ.HasThreshold() != th {
			t.Errorf("%s: HasThreshold %v", typ, !th)
		}
		if typ.Sampled() != (typ != TypeLeaseCleanup) {
			t.Errorf("%s: Sampled %v", typ, typ.Sampled())
		}
	}
	if Type("cpu").Valid() || Type("").Valid() {
		t.Error("unknown types are valid")
	}
	if r := DefaultRules()[4]; r.Level != LevelWarning || r.Duration != 30*time.Minute || !r.Enabled || r.Threshold != 0 {
		t.Errorf("lease cleanup default %+v", r)
	}
}

// The sample evaluation leaves lease_cleanup alone: its alert is the
// LeaseCleanup workflow's, opened and resolved there, whatever the samples say.
func TestEvaluateIgnoresLeaseCleanup(t *testing.T) {
	lc := Key{TypeLeaseCleanup, NoGPU}
	rules := RulesOf(append(DefaultRules(), Rule{Type: TypeLeaseCleanup, Level: LevelCritical, Duration: 0, Enabled: true}))
	st := empty()
	st.Open[lc] = OpenAlert{Key: lc, ID: "LC"}
	samples := []agentproto.Sample{{At: at(0), Host: agentproto.HostSample{MemUsedMiB: 1, MemTotalMiB: 10}}}
	obs := append(Observe(samples), Observation{Key: lc, At: at(1), Value: 1e6})
	a := Evaluate(rules, st, obs, Params{})
	if !a.Empty() {
		t.Fatalf("an open lease cleanup alert was touched: %+v", a)
	}
	// and no observation of it opens one or leaves a pending condition
	a = Evaluate(rules, empty(), []Observation{{Key: lc, At: at(0), Value: 1e6}, {Key: lc, At: at(60), Value: 1e6}}, Params{})
	if !a.Empty() {
		t.Fatalf("a lease cleanup observation was evaluated: %+v", a)
	}
	for _, o := range Observe(samples) {
		if o.Key.Type == TypeLeaseCleanup {
			t.Fatalf("samples observed a lease cleanup: %+v", o)
		}
	}
}

// The texts in both languages are the ones the console showed before codes.
func TestTexts(t *testing.T) {
	rule := Rule{Type: TypeDisk, Threshold: 90, Duration: 300 * time.Second}
	m := Message(rule, Key{TypeDisk, NoGPU}, 91, "/")
	if zh, en := m.Chinese(), m.English(); zh != "磁盘使用率 (/) 91.0% ≥ 90%，持续 300 秒" || en != "disk usage (/) 91.0% ≥ 90% for 300 s" {
		t.Fatalf("%q %q", zh, en)
	}
	off := OfflineMessage(Rule{Type: TypeOffline, Duration: 30 * time.Second})
	if off.English() != "machine offline: no data for 30 s or more" || off.Chinese() != "机器离线，已 30 秒以上没有上报数据" {
		t.Fatalf("%+v", off)
	}
	lc := LeaseCleanupMessage(30*time.Minute, []string{"stop_tenant", "rotate_password"})
	if lc.English() != "the end-of-lease cleanup is not done after 30 minutes; waiting for the host to confirm: stop_tenant, rotate_password" {
		t.Fatalf("%q", lc.English())
	}
	for code := range Texts {
		if !strings.HasPrefix(code, "alerting.") {
			t.Fatalf("code %s", code)
		}
	}
}
