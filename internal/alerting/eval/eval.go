// Package eval is the rule evaluation of the monitoring alerts
// (requirements 2.1.5.2), pure Go with no I/O: the api feeds it a machine's
// samples and the state stored for it, and stores the actions it returns.
//
// A rule opens an alert when its condition (value >= threshold) has held for
// the rule's duration, measured on the samples' clock; a dip below the
// threshold restarts the count, and so does a gap in the samples longer than
// MaxGap. An open alert clears (is resolved automatically) only once the
// value is below threshold − clear margin (hysteresis), so a value hovering
// at the threshold does not open and close alerts in turn. There is at most
// one open alert per machine, GPU and type (the store enforces it too, with
// a unique partial index). An ignored alert suppresses the same condition
// until it clears. Offline alerts are opened by the offline sweep
// (OfflineDue) and resolved by the next sample of the machine. Lease cleanup
// alerts are raised by the LeaseCleanup workflow when the end-of-lease steps
// outlast the rule's duration, and resolved when the cleanup ends; the
// sample evaluation never touches them.
package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
)

// Type is what an alert watches.
type Type string

const (
	TypeGPUTemp Type = "gpu_temperature" // per GPU, °C
	TypeDisk    Type = "disk_usage"      // the fullest disk of the host, %
	TypeMemory  Type = "memory_usage"    // host memory, %
	TypeOffline Type = "offline"         // the machine is offline (no samples)
	// the end-of-lease steps of the machine's former lease are not all
	// confirmed by its host after the rule's duration (the LeaseCleanup workflow)
	TypeLeaseCleanup Type = "lease_cleanup"
)

// Types in the order the rules form shows them.
var Types = []Type{TypeGPUTemp, TypeDisk, TypeMemory, TypeOffline, TypeLeaseCleanup}

func (t Type) Valid() bool {
	switch t {
	case TypeGPUTemp, TypeDisk, TypeMemory, TypeOffline, TypeLeaseCleanup:
		return true
	}
	return false
}

// HasThreshold reports whether the type's rule compares a value with a
// threshold; offline and lease_cleanup only have a duration (their
// threshold is stored as NULL).
func (t Type) HasThreshold() bool {
	switch t {
	case TypeGPUTemp, TypeDisk, TypeMemory:
		return true
	}
	return false
}

// Sampled reports whether the type is evaluated on the agents' samples
// (Evaluate): the thresholded types, and offline, which a sample resolves.
func (t Type) Sampled() bool { return t.HasThreshold() || t == TypeOffline }

// Level is how severe an alert is.
type Level string

const (
	LevelCritical Level = "critical"
	LevelWarning  Level = "warning"
	LevelInfo     Level = "info"
)

func (l Level) Valid() bool { return l == LevelCritical || l == LevelWarning || l == LevelInfo }

// Rank orders levels, most severe first (0).
func (l Level) Rank() int {
	switch l {
	case LevelCritical:
		return 0
	case LevelWarning:
		return 1
	}
	return 2
}

// NoGPU is the GPU index of machine-level alerts (disk, memory, offline).
const NoGPU = -1

// Rule is the configuration of one alert type.
type Rule struct {
	Type  Type
	Level Level
	// Threshold opens the alert at value >= Threshold (unused for offline
	// and lease_cleanup).
	Threshold float64
	// ClearMargin: an open alert clears below Threshold − ClearMargin.
	ClearMargin float64
	// Duration the condition must hold (offline: be silent; lease_cleanup:
	// the cleanup be unfinished) before the alert opens.
	Duration time.Duration
	Enabled  bool
}

// DefaultRules are what the migration seeds.
func DefaultRules() []Rule {
	return []Rule{
		{Type: TypeGPUTemp, Level: LevelCritical, Threshold: 85, ClearMargin: 5, Duration: 60 * time.Second, Enabled: true},
		{Type: TypeDisk, Level: LevelWarning, Threshold: 90, ClearMargin: 5, Duration: 300 * time.Second, Enabled: true},
		{Type: TypeMemory, Level: LevelWarning, Threshold: 95, ClearMargin: 5, Duration: 300 * time.Second, Enabled: true},
		{Type: TypeOffline, Level: LevelCritical, Duration: 30 * time.Second, Enabled: true},
		{Type: TypeLeaseCleanup, Level: LevelWarning, Duration: 1800 * time.Second, Enabled: true},
	}
}

// Rules by type.
type Rules map[Type]Rule

func RulesOf(list []Rule) Rules {
	r := make(Rules, len(list))
	for _, x := range list {
		r[x.Type] = x
	}
	return r
}

// Validate checks one rule as the rules form submits it; it returns the
// field at fault and the error, or "" and nil when the rule is fine.
func (r Rule) Validate() (field string, err *apperr.Error) {
	switch {
	case !r.Type.Valid():
		return "type", apperr.New(apperr.Invalid, "alerting.unknownType", "unknown alert type {type}", apperr.P{"type": string(r.Type)})
	case !r.Level.Valid():
		return "level", apperr.New(apperr.Invalid, "alerting.invalidLevel", "level must be critical, warning or info")
	case r.Duration < 0 || r.Duration > 24*time.Hour:
		return "durationSeconds", apperr.New(apperr.Invalid, "alerting.durationRange", "duration must be 0 to 86400 seconds")
	case r.Duration%time.Second != 0:
		return "durationSeconds", apperr.New(apperr.Invalid, "alerting.durationWholeSeconds", "duration must be whole seconds")
	}
	if !r.Type.HasThreshold() {
		return "", nil // offline, lease_cleanup: the threshold is not used
	}
	lo, hi := 1.0, 100.0
	switch r.Type {
	case TypeGPUTemp:
		lo, hi = 30, 130
	}
	if r.Threshold < lo || r.Threshold > hi || math.IsNaN(r.Threshold) {
		return "threshold", apperr.New(apperr.Invalid, "alerting.thresholdRange", "threshold must be {min} to {max}", apperr.P{"min": lo, "max": hi})
	}
	if r.ClearMargin < 0 || r.ClearMargin > 50 || r.ClearMargin >= r.Threshold || math.IsNaN(r.ClearMargin) {
		return "clearMargin", apperr.New(apperr.Invalid, "alerting.clearMarginRange", "clear margin must be 0 to 50 and below the threshold")
	}
	return "", nil
}

// Key names one condition of a machine.
type Key struct {
	Type Type
	GPU  int // NoGPU for machine-level types
}

// Observation is one value of one condition at one time.
type Observation struct {
	Key     Key
	At      time.Time
	Value   float64
	Subject string // the disk's mount point for disk usage
}

// Observe turns a machine's samples into observations, oldest first: each
// GPU's temperature, the host's memory use, its fullest disk, and that the
// machine reported at all (offline, value 0).
func Observe(samples []agentproto.Sample) []Observation {
	var out []Observation
	var newest time.Time
	for _, s := range samples {
		for _, g := range s.GPUs {
			out = append(out, Observation{Key: Key{TypeGPUTemp, g.Index}, At: s.At, Value: g.TempC})
		}
		if s.Host.MemTotalMiB > 0 {
			out = append(out, Observation{Key: Key{TypeMemory, NoGPU}, At: s.At, Value: float64(s.Host.MemUsedMiB) / float64(s.Host.MemTotalMiB) * 100})
		}
		fullest, mount := -1.0, ""
		for _, d := range s.Host.Disks {
			if d.TotalGiB <= 0 {
				continue
			}
			if p := d.UsedGiB / d.TotalGiB * 100; p > fullest {
				fullest, mount = p, d.Mount
			}
		}
		if fullest >= 0 {
			out = append(out, Observation{Key: Key{TypeDisk, NoGPU}, At: s.At, Value: fullest, Subject: mount})
		}
		if s.At.After(newest) {
			newest = s.At
		}
	}
	if len(samples) > 0 {
		out = append(out, Observation{Key: Key{TypeOffline, NoGPU}, At: newest})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Pending is a condition that holds but has not opened an alert yet, or
// (Suppressed) one whose alert was ignored and that has not cleared since.
type Pending struct {
	Key        Key
	Since      time.Time // the condition holds since
	LastAt     time.Time // the last observation that held it
	Value      float64
	Suppressed bool
}

// OpenAlert is an alert that is active or acknowledged.
type OpenAlert struct {
	Key Key
	ID  string
}

// State is what is stored for one machine.
type State struct {
	Pending map[Key]Pending
	Open    map[Key]OpenAlert
}

// NewAlert is an alert to open. ResolvedAt is set when it cleared within the
// same batch of samples (a backlog): it is stored already resolved.
type NewAlert struct {
	Key        Key
	Level      Level
	Threshold  *float64
	Value      *float64
	Duration   time.Duration
	StartedAt  time.Time // the condition held since
	OpenedAt   time.Time // the sample that completed the duration
	Message    Text
	ResolvedAt *time.Time
}

// Resolution resolves a stored open alert automatically.
type Resolution struct {
	Key   Key
	ID    string
	At    time.Time
	Value float64
}

// Actions are the changes to store for one machine, to apply in this order:
// Resolve, Open, then SetPending and ClearPending.
type Actions struct {
	Resolve      []Resolution
	Open         []NewAlert
	SetPending   []Pending
	ClearPending []Key
}

func (a Actions) Empty() bool {
	return len(a.Resolve) == 0 && len(a.Open) == 0 && len(a.SetPending) == 0 && len(a.ClearPending) == 0
}

// Params tune the evaluation.
type Params struct {
	// MaxGap: a pending condition whose last observation is older than this
	// restarts its count (the machine was silent meanwhile).
	MaxGap time.Duration
}

// Evaluate runs the observations of one machine (oldest first) against the
// rules and its stored state, and returns what to store. It never returns
// two open alerts for one key, and observations older than what the state
// already saw for a key are ignored (a late, out-of-order request).
func Evaluate(rules Rules, st State, obs []Observation, p Params) Actions {
	pend := make(map[Key]Pending, len(st.Pending))
	for k, v := range st.Pending {
		pend[k] = v
	}
	type openState struct {
		stored   *OpenAlert // nil: opened in this evaluation
		newIndex int        // index in acts.Open when opened here
	}
	open := make(map[Key]openState, len(st.Open))
	for k, v := range st.Open {
		v := v
		open[k] = openState{stored: &v, newIndex: -1}
	}
	var acts Actions
	for _, o := range obs {
		k := o.Key
		if k.Type == TypeOffline {
			// the machine reported: it is not offline, whatever the rule says
			if os, ok := open[k]; ok {
				acts.resolve(os.stored, os.newIndex, k, o.At, 0)
				delete(open, k)
			}
			delete(pend, k)
			continue
		}
		if !k.Type.HasThreshold() {
			continue // not a sampled condition (lease_cleanup: the workflow's)
		}
		rule, ok := rules[k.Type]
		if !ok {
			continue
		}
		if pv, ok := pend[k]; ok && !pv.Suppressed && o.At.Before(pv.LastAt) {
			continue
		}
		if os, ok := open[k]; ok {
			if o.Value < rule.Threshold-rule.ClearMargin {
				acts.resolve(os.stored, os.newIndex, k, o.At, o.Value)
				delete(open, k)
			}
			continue
		}
		pv, pending := pend[k]
		if pv.Suppressed {
			if o.Value < rule.Threshold-rule.ClearMargin {
				delete(pend, k)
			}
			continue
		}
		if !rule.Enabled || o.Value < rule.Threshold {
			delete(pend, k)
			continue
		}
		if !pending || (p.MaxGap > 0 && o.At.Sub(pv.LastAt) > p.MaxGap) {
			pv = Pending{Key: k, Since: o.At}
		}
		pv.LastAt, pv.Value = o.At, o.Value
		if o.At.Sub(pv.Since) >= rule.Duration {
			th, v := rule.Threshold, o.Value
			acts.Open = append(acts.Open, NewAlert{Key: k, Level: rule.Level, Threshold: &th, Value: &v, Duration: rule.Duration,
				StartedAt: pv.Since, OpenedAt: o.At, Message: Message(rule, k, o.Value, o.Subject)})
			open[k] = openState{newIndex: len(acts.Open) - 1}
			delete(pend, k)
			continue
		}
		pend[k] = pv
	}
	// the pending rows to write: new or changed ones, and the ones gone
	keys := make([]Key, 0, len(pend))
	for k := range pend {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		if old, ok := st.Pending[k]; !ok || old != pend[k] {
			acts.SetPending = append(acts.SetPending, pend[k])
		}
	}
	gone := []Key{}
	for k := range st.Pending {
		if _, ok := pend[k]; !ok {
			gone = append(gone, k)
		}
	}
	sortKeys(gone)
	acts.ClearPending = append(acts.ClearPending, gone...)
	return acts
}

func (a *Actions) resolve(stored *OpenAlert, newIndex int, k Key, at time.Time, v float64) {
	if stored != nil {
		a.Resolve = append(a.Resolve, Resolution{Key: k, ID: stored.ID, At: at, Value: v})
		return
	}
	t := at
	a.Open[newIndex].ResolvedAt = &t
}

func sortKeys(keys []Key) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Type != keys[j].Type {
			return keys[i].Type < keys[j].Type
		}
		return keys[i].GPU < keys[j].GPU
	})
}

// OfflineDue reports whether an offline alert should open for a machine that
// is offline and was last seen at lastSeen.
func OfflineDue(rule Rule, lastSeen, now time.Time) bool {
	return rule.Enabled && !lastSeen.IsZero() && now.Sub(lastSeen) >= rule.Duration
}

// Message is the alert's text (告警内容) as a code and its figures.
func Message(rule Rule, k Key, value float64, subject string) Text {
	d := int(rule.Duration / time.Second)
	v := fmt.Sprintf("%.1f", value)
	switch k.Type {
	case TypeGPUTemp:
		return Text{Code: CodeGPUTemperature, Params: map[string]any{"gpu": k.GPU, "value": v, "threshold": rule.Threshold, "seconds": d}}
	case TypeDisk:
		if subject != "" {
			return Text{Code: CodeDiskUsageOn, Params: map[string]any{"mount": subject, "value": v, "threshold": rule.Threshold, "seconds": d}}
		}
		return Text{Code: CodeDiskUsage, Params: map[string]any{"value": v, "threshold": rule.Threshold, "seconds": d}}
	case TypeMemory:
		return Text{Code: CodeMemoryUsage, Params: map[string]any{"value": v, "threshold": rule.Threshold, "seconds": d}}
	case TypeOffline:
		return OfflineMessage(rule)
	}
	return Text{Code: "alerting.type." + string(k.Type)}
}

// OfflineMessage is the text of an offline alert.
func OfflineMessage(rule Rule) Text {
	return Text{Code: CodeOffline, Params: map[string]any{"seconds": int(rule.Duration / time.Second)}}
}

// LeaseCleanupMessage is the text of a lease cleanup alert: the cleanup is
// still unconfirmed after the rule's duration, the host has yet to confirm steps.
func LeaseCleanupMessage(after time.Duration, steps []string) Text {
	return Text{Code: CodeLeaseCleanupStuck, Params: map[string]any{"minutes": int(after.Round(time.Minute) / time.Minute),
		"steps": strings.Join(steps, ", ")}}
}
