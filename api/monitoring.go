package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store"
)

// registerMonitoring adds the agent api, the admin's real-time monitoring
// and GPU trend, and the customer's monitoring of a leased machine.
func (s *Server) registerMonitoring(api huma.API) {
	s.monitoring()
	(&agentHandler{s}).register(api)
	(&monitoringHandler{s}).register(api)
}

// monitoringHandler answers from the metrics the agents push
// (requirements 2.1.1, 2.1.5.1, 3.1.2.2, 3.1.7.1).
type monitoringHandler struct{ s *Server }

type RealtimeInput struct {
	Page       int    `query:"page" minimum:"1" default:"1"`
	PageSize   int    `query:"pageSize" minimum:"1" maximum:"5000" default:"20" doc:"Up to 5000, so the heat map can take every machine at once"`
	SortBy     string `query:"sortBy" enum:"gpuUtil,cpu,mem,temp,disk,power,name,region,status,lastSeen," doc:"Default name"`
	Order      string `query:"order" enum:"asc,desc,ascending,descending,"`
	Filters    string `query:"filters" doc:"JSON object of filters, same keys as the named query parameters"`
	Region     string `query:"region" doc:"Region name or code"`
	Status     string `query:"status" enum:"online,offline,maintenance,"`
	Keyword    string `query:"keyword" maxLength:"100" doc:"Search by machine name"`
	OnlyAlerts bool   `query:"onlyAlerts" doc:"Only machines with open (active or acknowledged) alerts"`
}

func (in *RealtimeInput) list() ListParams {
	return ListParams{Page: in.Page, PageSize: in.PageSize, SortBy: in.SortBy, Order: in.Order, Filters: in.Filters}
}

type RangeParams struct {
	Range string    `query:"range" enum:"1h,6h,24h,7d,30d," doc:"Ending now; ignored when from is given"`
	From  time.Time `query:"from" doc:"Start (RFC 3339); with to (default now) instead of range"`
	To    time.Time `query:"to" doc:"End (RFC 3339), default now"`
	Step  int       `query:"step" minimum:"0" doc:"Seconds per point; coarser steps are chosen when it would give too many points or finer than the data"`
}

type GPUTrendInput struct {
	RangeParams
	Region   string `query:"region" doc:"Only this region (name or code)"`
	ByRegion bool   `query:"byRegion" doc:"Also one series per region"`
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

type MachineMonitoringInput struct {
	ID string `path:"id" format:"uuid"`
	RangeParams
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

type CustomerRealtimeInput struct {
	MachineID string `path:"machineId" format:"uuid"`
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

func (h *monitoringHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/admin/monitoring/realtime", "get-admin-monitoring-realtime", "monitoring",
		"Every machine's latest figures (实时监控); sortBy gpuUtil|cpu|mem|temp|disk|power|name|region|status|lastSeen", roleAdmin,
		http.StatusBadRequest, http.StatusUnprocessableEntity), h.realtime)
	huma.Register(api, operation(http.MethodGet, "/api/admin/dashboard/gpu-trend", "get-admin-gpu-trend", "dashboard",
		"Fleet-wide GPU utilisation trend (average and busiest GPU) from the roll-ups", roleAdmin,
		http.StatusBadRequest, http.StatusUnprocessableEntity), h.gpuTrend)
	huma.Register(api, operation(http.MethodGet, "/api/customer/monitoring/{machineId}/realtime", "get-my-machine-realtime", "customer-monitoring",
		"A leased machine's latest figures, with the processes using its GPUs", roleCustomer, http.StatusNotFound), h.customerRealtime)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}/monitoring", "get-my-machine-monitoring", "customer-monitoring",
		"A leased machine's figures over time, for charts (since the lease began)", roleCustomer,
		http.StatusNotFound, http.StatusBadRequest, http.StatusUnprocessableEntity), h.customerHistory)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}/processes", "get-my-machine-processes", "customer-monitoring",
		"Processes using the GPUs of a leased machine, as of its latest sample", roleCustomer, http.StatusNotFound), h.customerProcesses)
}

func (h *monitoringHandler) mon() config.Monitoring { return h.s.monitoring().mon }

// regionName turns a region code into the stored name; unknown values pass as they are.
func (h *monitoringHandler) regionName(r string) string {
	if reg, ok := h.s.Config.Fleet.Config().Catalog.RegionCode(r); ok {
		return reg.Name
	}
	return r
}

func (h *monitoringHandler) realtime(ctx context.Context, in *RealtimeInput) (*Resp[Page[store.RealtimeMachine]], error) {
	lp := in.list()
	f, err := lp.filters()
	if err != nil {
		return nil, err
	}
	filter := store.RealtimeFilter{Region: pick(in.Region, f, "region"), Status: pick(in.Status, f, "status"), Keyword: pick(in.Keyword, f, "keyword"),
		OnlyAlerts: in.OnlyAlerts || f["onlyAlerts"] == "true"}
	if filter.Region != "" {
		filter.Region = h.regionName(filter.Region)
	}
	p := store.Page{Page: lp.page(), PageSize: in.PageSize, SortBy: in.SortBy, Order: lp.store().Order}
	if p.PageSize < 1 {
		p.PageSize = 20
	}
	list, total, err := h.s.Store.Realtime(ctx, filter, p)
	if err != nil {
		return nil, err
	}
	return ok(ctx, Page[store.RealtimeMachine]{List: list, Total: total, Page: p.Page, PageSize: p.PageSize})
}

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
func resolveSpan(r RangeParams, defRange string, now time.Time, mon config.Monitoring, minStep time.Duration, maxPoints int) (span, error) {
	sp := span{to: now}
	if !r.From.IsZero() {
		sp.from = r.From.UTC()
		if !r.To.IsZero() {
			sp.to = r.To.UTC()
		}
		if !sp.from.Before(sp.to) {
			return sp, apperr.Newf(apperr.Unprocessable, "from must be before to").AtField("query.from")
		}
	} else {
		name := r.Range
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
		return sp, apperr.Newf(apperr.Unprocessable, "the range holds no data: it ends before the retention begins").AtField("query.from")
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

func (h *monitoringHandler) gpuTrend(ctx context.Context, in *GPUTrendInput) (*Resp[GPUTrend], error) {
	sp, err := resolveSpan(in.RangeParams, "24h", h.s.now(), h.mon(), time.Minute, 360)
	if err != nil {
		return nil, err
	}
	marks, err := h.s.Store.RollupWatermarks(ctx)
	if err != nil {
		return nil, err
	}
	q := store.HistoryQuery{From: sp.from, To: sp.to, Step: sp.step, Source: sp.source, Marks: marks}
	region := ""
	if in.Region != "" {
		region = h.regionName(in.Region)
	}
	out := GPUTrend{From: sp.from, To: sp.to, StepSeconds: int(sp.step / time.Second), Source: sp.source, Points: []store.TrendPoint{}}
	fleet, err := h.s.Store.GPUTrend(ctx, q, region, false)
	if err != nil {
		return nil, err
	}
	if len(fleet) > 0 {
		out.Points = fleet[0].Points
	}
	if in.ByRegion {
		if out.Regions, err = h.s.Store.GPUTrend(ctx, q, region, true); err != nil {
			return nil, err
		}
	}
	return ok(ctx, out)
}

// leased returns the machine while it is leased to the caller's tenant; 404 otherwise.
func (h *monitoringHandler) leased(ctx context.Context, id string) (*store.Machine, error) {
	m, err := h.s.Store.GetTenantMachine(ctx, principal(ctx).TenantID, id, h.s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, machineNotFound(err)
	}
	return m, nil
}

func (h *monitoringHandler) customerRealtime(ctx context.Context, in *CustomerRealtimeInput) (*Resp[MachineRealtime], error) {
	m, err := h.leased(ctx, in.MachineID)
	if err != nil {
		return nil, err
	}
	st, err := h.s.Store.AgentState(ctx, m.ID)
	if err != nil {
		return nil, machineNotFound(err)
	}
	out := MachineRealtime{MachineID: m.ID, Name: m.Name, Status: m.Status, GPUSource: st.GPUSource, LastSeenAt: st.LastSeenAt,
		GPUs: []store.LatestGPU{}, Processes: []store.GPUProcessRow{}}
	l, err := h.s.Store.MachineLatest(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ok(ctx, out)
	}
	if err != nil {
		return nil, err
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
	return ok(ctx, out)
}

func (h *monitoringHandler) customerHistory(ctx context.Context, in *MachineMonitoringInput) (*Resp[MachineHistory], error) {
	m, err := h.leased(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	sp, err := resolveSpan(in.RangeParams, "1h", h.s.now(), h.mon(), 0, 720)
	if err != nil {
		return nil, err
	}
	// a customer sees the machine's history from their own lease on, not the previous tenant's
	if a := m.Allocation; a != nil && a.StartAt != nil && sp.from.Before(*a.StartAt) {
		sp.from = a.StartAt.UTC()
	}
	out := MachineHistory{MachineID: m.ID, From: sp.from, To: sp.to, StepSeconds: int(sp.step / time.Second), Source: sp.source,
		GPUs: []store.GPUSeries{}, Host: []store.HostPoint{}}
	if !sp.from.Before(sp.to) {
		return ok(ctx, out)
	}
	marks, err := h.s.Store.RollupWatermarks(ctx)
	if err != nil {
		return nil, err
	}
	q := store.HistoryQuery{MachineID: m.ID, From: sp.from, To: sp.to, Step: sp.step, Source: sp.source, Marks: marks}
	if out.GPUs, err = h.s.Store.GPUHistory(ctx, q); err != nil {
		return nil, err
	}
	if out.Host, err = h.s.Store.HostHistory(ctx, q); err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *monitoringHandler) customerProcesses(ctx context.Context, in *CustomerMachineIDInput) (*Resp[MachineProcesses], error) {
	m, err := h.leased(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := MachineProcesses{List: []store.GPUProcessRow{}}
	l, err := h.s.Store.MachineLatest(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ok(ctx, out)
	}
	if err != nil {
		return nil, err
	}
	out.SampleAt, out.List = &l.SampleAt, l.Processes
	return ok(ctx, out)
}
