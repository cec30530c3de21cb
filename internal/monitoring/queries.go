package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store"
)

// Range is a time range asked for: a named range ending now, or from/to.
type Range struct {
	Name     string // 1h, 6h, 24h, 7d, 30d; ignored when From is set
	From, To time.Time
	Step     int // seconds per point wished for
}

// GPUTrend is the fleet's GPU utilisation over time.
type GPUTrend struct {
	From        time.Time           `json:"from"`
	To          time.Time           `json:"to"`
	StepSeconds int                 `json:"stepSeconds"`
	Source      string              `json:"source" enum:"1m,1h" doc:"The roll-up the points come from"`
	Points      []store.TrendPoint  `json:"points" doc:"The fleet (or the region asked for)"`
	Regions     []store.TrendSeries `json:"regions,omitempty" doc:"With byRegion: one series per region"`
}

// MachineHistory is a machine's figures over time, for the charts.
type MachineHistory struct {
	MachineID   string            `json:"machineId" format:"uuid"`
	From        time.Time         `json:"from" doc:"Never before the customer's lease began"`
	To          time.Time         `json:"to"`
	StepSeconds int               `json:"stepSeconds"`
	Source      string            `json:"source" enum:"raw,1m,1h"`
	GPUs        []store.GPUSeries `json:"gpus"`
	Host        []store.HostPoint `json:"host"`
}

// MachineRealtime is a machine's latest figures, processes included.
type MachineRealtime struct {
	MachineID  string                `json:"machineId" format:"uuid"`
	Name       string                `json:"name"`
	Status     string                `json:"status" enum:"online,offline,maintenance"`
	GPUSource  string                `json:"gpuSource" enum:"nvml,simulated," doc:"simulated: the GPU figures are made up"`
	LastSeenAt *time.Time            `json:"lastSeenAt"`
	SampleAt   *time.Time            `json:"sampleAt" doc:"Null until the agent reports"`
	GPUUtil    *float64              `json:"gpuUtil" doc:"Average over the GPUs, %"`
	GPUMemPct  *float64              `json:"gpuMemPct"`
	GPUs       []store.LatestGPU     `json:"gpus"`
	Host       *HostNow              `json:"host"`
	Processes  []store.GPUProcessRow `json:"processes"`
}

type HostNow struct {
	CPUPct       float64                 `json:"cpuPct"`
	MemPct       float64                 `json:"memPct"`
	MemUsedMiB   int64                   `json:"memUsedMib"`
	MemTotalMiB  int64                   `json:"memTotalMib"`
	DiskPct      float64                 `json:"diskPct" doc:"The fullest disk"`
	Disks        []agentproto.DiskSample `json:"disks"`
	DiskReadBps  float64                 `json:"diskReadBps" doc:"All disks"`
	DiskWriteBps float64                 `json:"diskWriteBps"`
	NetRxBps     float64                 `json:"netRxBps"`
	NetTxBps     float64                 `json:"netTxBps"`
	Load1        float64                 `json:"load1"`
}

type MachineProcesses struct {
	SampleAt *time.Time            `json:"sampleAt" doc:"The sample the list comes from; null until the agent reports"`
	List     []store.GPUProcessRow `json:"list" doc:"Processes using a GPU"`
}

type RealtimeInput struct {
	Filter store.RealtimeFilter // Region may be a code
	Page   store.Page
}

// Realtime is every machine's latest figures, a page of them.
func (s *Service) Realtime(ctx context.Context, in RealtimeInput) ([]store.RealtimeMachine, int, error) {
	if in.Filter.Region != "" {
		in.Filter.Region = s.RegionName(in.Filter.Region)
	}
	return s.Store.Realtime(ctx, in.Filter, in.Page)
}

type GPUTrendInput struct {
	Range    Range
	Region   string // name or code; empty: the fleet
	ByRegion bool
}

// GPUTrend is the fleet's GPU utilisation over time from the roll-ups.
func (s *Service) GPUTrend(ctx context.Context, in GPUTrendInput) (GPUTrend, error) {
	sp, err := resolveSpan(in.Range, "24h", s.Now(), s.Monitoring, time.Minute, 360)
	if err != nil {
		return GPUTrend{}, err
	}
	marks, err := s.Store.RollupWatermarks(ctx)
	if err != nil {
		return GPUTrend{}, err
	}
	q := store.HistoryQuery{From: sp.from, To: sp.to, Step: sp.step, Source: sp.source, Marks: marks}
	region := ""
	if in.Region != "" {
		region = s.RegionName(in.Region)
	}
	out := GPUTrend{From: sp.from, To: sp.to, StepSeconds: int(sp.step / time.Second), Source: sp.source, Points: []store.TrendPoint{}}
	fleet, err := s.Store.GPUTrend(ctx, q, region, false)
	if err != nil {
		return GPUTrend{}, err
	}
	if len(fleet) > 0 {
		out.Points = fleet[0].Points
	}
	if in.ByRegion {
		if out.Regions, err = s.Store.GPUTrend(ctx, q, region, true); err != nil {
			return GPUTrend{}, err
		}
	}
	return out, nil
}

// leased returns the machine while it is leased to the caller's tenant; not found otherwise.
func (s *Service) leased(ctx context.Context, id string) (*store.Machine, error) {
	m, err := s.Store.GetTenantMachine(ctx, caller.From(ctx).TenantID, id, s.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	return m, nil
}

type MachineInput struct {
	MachineID string
}

// CustomerRealtime is a machine leased to the caller's customer, its latest
// figures with the processes using its GPUs (what the customer's WebSocket pushes too).
func (s *Service) CustomerRealtime(ctx context.Context, in MachineInput) (MachineRealtime, error) {
	m, err := s.leased(ctx, in.MachineID)
	if err != nil {
		return MachineRealtime{}, err
	}
	st, err := s.Store.AgentState(ctx, m.ID)
	if err != nil {
		return MachineRealtime{}, machineNotFound(err)
	}
	out := MachineRealtime{MachineID: m.ID, Name: m.Name, Status: m.Status, GPUSource: st.GPUSource, LastSeenAt: st.LastSeenAt,
		GPUs: []store.LatestGPU{}, Processes: []store.GPUProcessRow{}}
	l, err := s.Store.MachineLatest(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return MachineRealtime{}, err
	}
	out.SampleAt, out.GPUUtil, out.GPUMemPct, out.GPUs, out.Processes = &l.SampleAt, l.GPUUtil, l.GPUMemPct, l.GPUs, l.Processes
	hs := l.Host
	hn := HostNow{CPUPct: l.CPUPct, MemPct: l.MemPct, MemUsedMiB: hs.MemUsedMiB, MemTotalMiB: hs.MemTotalMiB, DiskPct: l.DiskPct,
		Disks: hs.Disks, NetRxBps: hs.NetRxBps, NetTxBps: hs.NetTxBps, Load1: hs.Load1}
	if hn.Disks == nil {
		hn.Disks = []agentproto.DiskSample{}
	}
	for _, d := range hs.Disks {
		hn.DiskReadBps += d.ReadBps
		hn.DiskWriteBps += d.WriteBps
	}
	out.Host = &hn
	return out, nil
}

type HistoryInput struct {
	MachineID string
	Range     Range
}

// CustomerHistory is a leased machine's figures over time, since the
// caller's lease began (not the previous tenant's).
func (s *Service) CustomerHistory(ctx context.Context, in HistoryInput) (MachineHistory, error) {
	m, err := s.leased(ctx, in.MachineID)
	if err != nil {
		return MachineHistory{}, err
	}
	sp, err := resolveSpan(in.Range, "1h", s.Now(), s.Monitoring, 0, 720)
	if err != nil {
		return MachineHistory{}, err
	}
	if a := m.Allocation; a != nil && a.StartAt != nil && sp.from.Before(*a.StartAt) {
		sp.from = a.StartAt.UTC()
	}
	out := MachineHistory{MachineID: m.ID, From: sp.from, To: sp.to, StepSeconds: int(sp.step / time.Second), Source: sp.source,
		GPUs: []store.GPUSeries{}, Host: []store.HostPoint{}}
	if !sp.from.Before(sp.to) {
		return out, nil
	}
	marks, err := s.Store.RollupWatermarks(ctx)
	if err != nil {
		return MachineHistory{}, err
	}
	q := store.HistoryQuery{MachineID: m.ID, From: sp.from, To: sp.to, Step: sp.step, Source: sp.source, Marks: marks}
	if out.GPUs, err = s.Store.GPUHistory(ctx, q); err != nil {
		return MachineHistory{}, err
	}
	if out.Host, err = s.Store.HostHistory(ctx, q); err != nil {
		return MachineHistory{}, err
	}
	return out, nil
}

// CustomerProcesses are the processes using the GPUs of a leased machine, as of its latest sample.
func (s *Service) CustomerProcesses(ctx context.Context, in MachineInput) (MachineProcesses, error) {
	m, err := s.leased(ctx, in.MachineID)
	if err != nil {
		return MachineProcesses{}, err
	}
	out := MachineProcesses{List: []store.GPUProcessRow{}}
	l, err := s.Store.MachineLatest(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return MachineProcesses{}, err
	}
	out.SampleAt, out.List = &l.SampleAt, l.Processes
	return out, nil
}

// MachineInventory is the admin's view of what the agent reported.
type MachineInventory struct {
	Inventory    *agentproto.Inventory `json:"inventory" doc:"Null until the agent registers"`
	InventoryAt  *time.Time            `json:"inventoryAt"`
	GPUSource    string                `json:"gpuSource" enum:"nvml,simulated," doc:"simulated: label the machine, its GPU figures are made up"`
	Simulated    bool                  `json:"simulated"`
	RegisteredAt *time.Time            `json:"registeredAt"`
	LastSeenAt   *time.Time            `json:"lastSeenAt"`
	Differences  []InventoryDifference `json:"differences" doc:"Where the report differs from the machine's record"`
}

type InventoryDifference struct {
	Field    string `json:"field" doc:"The machine field: gpuModel, gpuCount, gpuMemoryGb, cudaVersion, driverVersion, cpuCores, memoryGb"`
	Declared string `json:"declared" doc:"What the admin entered"`
	Reported string `json:"reported" doc:"What the agent found"`
}

// Inventory is what the machine's agent reported, and where it differs from what the admin entered.
func (s *Service) Inventory(ctx context.Context, in MachineInput) (MachineInventory, error) {
	m, err := s.Store.GetMachine(ctx, in.MachineID, s.Fleet.ExpiringNotice)
	if err != nil {
		return MachineInventory{}, machineNotFound(err)
	}
	st, err := s.Store.AgentState(ctx, in.MachineID)
	if err != nil {
		return MachineInventory{}, machineNotFound(err)
	}
	out := MachineInventory{InventoryAt: st.InventoryAt, GPUSource: st.GPUSource, Simulated: st.GPUSource == agentproto.GPUSourceSimulated,
		RegisteredAt: st.RegisteredAt, LastSeenAt: st.LastSeenAt, Differences: []InventoryDifference{}}
	if st.Inventory != nil {
		var inv agentproto.Inventory
		if err := json.Unmarshal(st.Inventory, &inv); err != nil {
			return MachineInventory{}, err
		}
		out.Inventory = &inv
		out.Differences = inventoryDifferences(m, &inv)
	}
	return out, nil
}

// ---- time ranges ------------------------------------------------------------

// span is a resolved time range: its step and the table it is read from.
type span struct {
	from, to time.Time
	step     time.Duration
	source   string
}

var niceSteps = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour}

var rangeDurations = map[string]time.Duration{"1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// resolveSpan picks the range, then the finest step that gives at most
// maxPoints (at least minStep and the sample interval), then the coarsest
// table that resolves that step and still holds the range's start.
func resolveSpan(r Range, defRange string, now time.Time, mon config.Monitoring, minStep time.Duration, maxPoints int) (span, error) {
	sp := span{to: now}
	if !r.From.IsZero() {
		sp.from = r.From.UTC()
		if !r.To.IsZero() {
			sp.to = r.To.UTC()
		}
		if !sp.from.Before(sp.to) {
			return sp, apperr.New(apperr.Invalid, "monitoring.fromAfterTo", "from must be before to").AtField("query.from")
		}
	} else {
		name := r.Name
		if name == "" {
			name = defRange
		}
		sp.from = now.Add(-rangeDurations[name])
	}
	if sp.to.After(now) {
		sp.to = now
	}
	if oldest := now.Add(-mon.Retention1h); sp.from.Before(oldest) {
		sp.from = oldest
	}
	if !sp.from.Before(sp.to) {
		return sp, apperr.New(apperr.Invalid, "monitoring.rangeBeforeRetention",
			"the range holds no data: it ends before the retention begins").AtField("query.from")
	}
	want := max(minStep, mon.SampleInterval, time.Duration(r.Step)*time.Second)
	if per := sp.to.Sub(sp.from) / time.Duration(maxPoints); per > want {
		want = per
	}
	switch {
	case want < time.Minute && !sp.from.Before(now.Add(-mon.RetentionRaw)):
		sp.source = store.SourceRaw
	case want < time.Hour && !sp.from.Before(now.Add(-mon.Retention1m)):
		sp.source, want = store.Source1m, max(want, time.Minute)
	default:
		sp.source, want = store.Source1h, max(want, time.Hour)
	}
	sp.step = niceSteps[len(niceSteps)-1]
	for _, st := range niceSteps {
		if st >= want {
			sp.step = st
			break
		}
	}
	if want > sp.step {
		sp.step = want.Truncate(24 * time.Hour)
	}
	return sp, nil
}
