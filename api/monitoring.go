package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/store"
)

// registerMonitoring adds the agent api, the admin's real-time monitoring
// and GPU trend, and the customer's monitoring of a leased machine.
func (s *Server) registerMonitoring(api huma.API) {
	(&agentHandler{s: s, mon: s.mon}).register(api)
	(&monitoringHandler{mon: s.mon}).register(api)
}

// monitoringHandler answers from the metrics the agents push
// (internal/monitoring; requirements 2.1.1, 2.1.5.1, 3.1.2.2, 3.1.7.1).
type monitoringHandler struct{ mon *monitoring.Service }

// The answers, as internal/monitoring gives them.
type (
	GPUTrend         = monitoring.GPUTrend
	MachineHistory   = monitoring.MachineHistory
	MachineRealtime  = monitoring.MachineRealtime
	HostNow          = monitoring.HostNow
	MachineProcesses = monitoring.MachineProcesses
)

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

func (r RangeParams) monitoring() monitoring.Range {
	return monitoring.Range{Name: r.Range, From: r.From, To: r.To, Step: r.Step}
}

type GPUTrendInput struct {
	RangeParams
	Region   string `query:"region" doc:"Only this region (name or code)"`
	ByRegion bool   `query:"byRegion" doc:"Also one series per region"`
}

type MachineMonitoringInput struct {
	ID string `path:"id" format:"uuid"`
	RangeParams
}

type CustomerRealtimeInput struct {
	MachineID string `path:"machineId" format:"uuid"`
}

func (h *monitoringHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/admin/monitoring/realtime", "get-admin-monitoring-realtime", "monitoring",
		"Every machine's latest figures (实时监控); sortBy gpuUtil|cpu|mem|temp|disk|power|name|region|status|lastSeen", roleAdmin,
		http.StatusBadRequest), h.realtime)
	huma.Register(api, operation(http.MethodGet, "/api/admin/dashboard/gpu-trend", "get-admin-gpu-trend", "dashboard",
		"Fleet-wide GPU utilisation trend (average and busiest GPU) from the roll-ups", roleAdmin,
		http.StatusBadRequest), h.gpuTrend)
	huma.Register(api, operation(http.MethodGet, "/api/customer/monitoring/{machineId}/realtime", "get-my-machine-realtime", "customer-monitoring",
		"A leased machine's latest figures, with the processes using its GPUs", roleCustomer, http.StatusNotFound), h.customerRealtime)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}/monitoring", "get-my-machine-monitoring", "customer-monitoring",
		"A leased machine's figures over time, for charts (since the lease began)", roleCustomer,
		http.StatusNotFound, http.StatusBadRequest), h.customerHistory)
	huma.Register(api, operation(http.MethodGet, "/api/customer/machines/{id}/processes", "get-my-machine-processes", "customer-monitoring",
		"Processes using the GPUs of a leased machine, as of its latest sample", roleCustomer, http.StatusNotFound), h.customerProcesses)
}

func (h *monitoringHandler) realtime(ctx context.Context, in *RealtimeInput) (*Resp[Page[store.RealtimeMachine]], error) {
	lp := in.list()
	f, err := lp.filters()
	if err != nil {
		return nil, err
	}
	filter := store.RealtimeFilter{Region: pick(in.Region, f, "region"), Status: pick(in.Status, f, "status"), Keyword: pick(in.Keyword, f, "keyword"),
		OnlyAlerts: in.OnlyAlerts || f["onlyAlerts"] == "true"}
	p := store.Page{Page: lp.page(), PageSize: in.PageSize, SortBy: in.SortBy, Order: lp.store().Order}
	if p.PageSize < 1 {
		p.PageSize = 20
	}
	list, total, err := h.mon.Realtime(ctx, monitoring.RealtimeInput{Filter: filter, Page: p})
	if err != nil {
		return nil, err
	}
	return ok(ctx, Page[store.RealtimeMachine]{List: list, Total: total, Page: p.Page, PageSize: p.PageSize})
}

func (h *monitoringHandler) gpuTrend(ctx context.Context, in *GPUTrendInput) (*Resp[GPUTrend], error) {
	out, err := h.mon.GPUTrend(ctx, monitoring.GPUTrendInput{Range: in.RangeParams.monitoring(), Region: in.Region, ByRegion: in.ByRegion})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *monitoringHandler) customerRealtime(ctx context.Context, in *CustomerRealtimeInput) (*Resp[MachineRealtime], error) {
	out, err := h.mon.CustomerRealtime(ctx, monitoring.MachineInput{MachineID: in.MachineID})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *monitoringHandler) customerHistory(ctx context.Context, in *MachineMonitoringInput) (*Resp[MachineHistory], error) {
	out, err := h.mon.CustomerHistory(ctx, monitoring.HistoryInput{MachineID: in.ID, Range: in.RangeParams.monitoring()})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *monitoringHandler) customerProcesses(ctx context.Context, in *CustomerMachineIDInput) (*Resp[MachineProcesses], error) {
	out, err := h.mon.CustomerProcesses(ctx, monitoring.MachineInput{MachineID: in.ID})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}
