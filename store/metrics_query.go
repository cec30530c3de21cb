package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// openAlertsExpr counts a machine's open (not resolved) alerts, over the
// machines row aliased m: the real-time list's openAlerts and its "only
// machines with alerts" filter.
const openAlertsExpr = `(SELECT count(*) FROM alerts a WHERE a.machine_id = m.id AND a.status <> 'resolved')`

// RealtimeMachine is one machine's latest figures (the admin's real-time
// monitoring). Figures are null until its agent has reported.
type RealtimeMachine struct {
	ID         string      `json:"id" format:"uuid"`
	Name       string      `json:"name"`
	Region     string      `json:"region"`
	Status     string      `json:"status" enum:"online,offline,maintenance"`
	GPUSource  string      `json:"gpuSource" enum:"nvml,simulated," doc:"simulated: the agent makes the GPU figures up (label it); empty until an agent registers"`
	GPUModel   string      `json:"gpuModel"`
	GPUCount   int         `json:"gpuCount" doc:"As declared by the admin"`
	LastSeenAt *time.Time  `json:"lastSeenAt" doc:"When the api last stored a sample of the machine"`
	SampleAt   *time.Time  `json:"sampleAt" doc:"When the latest sample was taken (the agent's clock)"`
	GPUUtil    *float64    `json:"gpuUtil" doc:"Average over the machine's GPUs, %"`
	GPUUtilMax *float64    `json:"gpuUtilMax" doc:"Busiest GPU, %"`
	GPUMemPct  *float64    `json:"gpuMemPct" doc:"GPU memory used over all GPUs, %"`
	GPUTemp    *float64    `json:"gpuTemp" doc:"Hottest GPU, °C"`
	GPUPowerW  *float64    `json:"gpuPowerW" doc:"All GPUs together, W"`
	CPUPct     *float64    `json:"cpuPct"`
	MemPct     *float64    `json:"memPct"`
	DiskPct    *float64    `json:"diskPct" doc:"The fullest disk, %"`
	NetRxBps   *float64    `json:"netRxBps"`
	NetTxBps   *float64    `json:"netTxBps"`
	GPUs       []LatestGPU `json:"gpus" doc:"Per GPU, by index"`
	OpenAlerts int         `json:"openAlerts"`
}

type RealtimeFilter struct {
	Region     string
	Status     string
	Keyword    string
	OnlyAlerts bool
}

// realtimeSorts are the sortBy keys of the real-time list (read only).
var realtimeSorts = map[string]string{"gpuUtil": "l.gpu_util_avg", "cpu": "l.cpu_pct", "mem": "l.mem_pct", "temp": "l.gpu_temp_max",
	"disk": "l.disk_pct", "power": "l.gpu_power_w", "name": "m.name", "region": "m.region", "status": "m.status", "lastSeen": "m.last_seen_at"}

// AllRealtime is every machine that f lets through, by name, unpaged and
// uncounted: the admin's live snapshot (internal/live) holds the whole fleet.
func (q *Queries) AllRealtime(ctx context.Context, f RealtimeFilter) ([]RealtimeMachine, error) {
	w := f.where()
	return q.realtimeRows(ctx, w, " ORDER BY m.name, m.id")
}

func (q *Queries) Realtime(ctx context.Context, f RealtimeFilter, p Page) ([]RealtimeMachine, int, error) {
	w := f.where()
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*)"+realtimeFrom+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := q.realtimeRows(ctx, w, p.orderBy(realtimeSorts, "m.name, m.id")+p.limitOffset())
	return list, total, err
}

const realtimeFrom = " FROM machines m LEFT JOIN machine_latest l ON l.machine_id = m.id"

func (f RealtimeFilter) where() *where {
	w := &where{}
	w.raw("m.deleted_at IS NULL")
	if f.Region != "" {
		w.add("m.region = %s", f.Region)
	}
	if f.Status != "" {
		w.add("m.status = %s", f.Status)
	}
	if f.Keyword != "" {
		w.add("m.name ILIKE %s", likePattern(f.Keyword))
	}
	if f.OnlyAlerts {
		w.raw(openAlertsExpr + " > 0")
	}
	return w
}

// realtimeRows reads the machines w lets through; tail orders and pages them.
func (q *Queries) realtimeRows(ctx context.Context, w *where, tail string) ([]RealtimeMachine, error) {
	rows, err := q.db.Query(ctx, `SELECT m.id, m.name, m.region, m.status, coalesce(m.gpu_source, ''), m.gpu_model, m.gpu_count, m.last_seen_at,
		l.sample_at, l.gpu_util_avg, l.gpu_util_max, l.gpu_mem_pct, l.gpu_temp_max, l.gpu_power_w, l.cpu_pct, l.mem_pct, l.disk_pct,
		l.net_rx_bps, l.net_tx_bps, l.gpus, `+openAlertsExpr+realtimeFrom+w.sql()+tail, w.args...)
	return collect(rows, err, scanRealtime)
}

func scanRealtime(row pgx.Row) (*RealtimeMachine, error) {
	var r RealtimeMachine
	var f32 [10]*float32
	var gpus []byte
	if err := row.Scan(&r.ID, &r.Name, &r.Region, &r.Status, &r.GPUSource, &r.GPUModel, &r.GPUCount, &r.LastSeenAt, &r.SampleAt,
		&f32[0], &f32[1], &f32[2], &f32[3], &f32[4], &f32[5], &f32[6], &f32[7], &f32[8], &f32[9], &gpus, &r.OpenAlerts); err != nil {
		return nil, err
	}
	for i, dst := range []**float64{&r.GPUUtil, &r.GPUUtilMax, &r.GPUMemPct, &r.GPUTemp, &r.GPUPowerW, &r.CPUPct, &r.MemPct, &r.DiskPct, &r.NetRxBps, &r.NetTxBps} {
		*dst = f64(f32[i])
	}
	r.GPUs = []LatestGPU{}
	if gpus != nil {
		if err := json.Unmarshal(gpus, &r.GPUs); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// f64 widens a nullable real, rounded to what a real holds (no 37.29999923706055).
func f64(v *float32) *float64 {
	if v == nil {
		return nil
	}
	d := round(float64(*v))
	return &d
}

func round(v float64) float64 {
	// 7 significant digits is what a real carries; 2 decimals is what anyone reads
	if v > 1e12 || v < -1e12 {
		return v
	}
	return math.Round(v*100) / 100
}

// Latest is a machine's newest sample.
type Latest struct {
	SampleAt   time.Time
	ReceivedAt time.Time
	GPUs       []LatestGPU
	Processes  []GPUProcessRow
	Host       agentproto.HostSample
	GPUUtil    *float64
	GPUMemPct  *float64
	CPUPct     float64
	MemPct     float64
	DiskPct    float64
}

// MachineLatest returns the newest sample of the machine, ErrNotFound when none arrived yet.
func (q *Queries) MachineLatest(ctx context.Context, machineID string) (*Latest, error) {
	var l Latest
	var gpus, procs, host []byte
	var util, memPct *float32
	var cpu, mem, disk float32
	err := q.db.QueryRow(ctx, `SELECT sample_at, received_at, gpus, processes, host, gpu_util_avg, gpu_mem_pct, cpu_pct, mem_pct, disk_pct
		FROM machine_latest WHERE machine_id = $1`, machineID).Scan(&l.SampleAt, &l.ReceivedAt, &gpus, &procs, &host, &util, &memPct, &cpu, &mem, &disk)
	if err != nil {
		return nil, notFound(err)
	}
	l.GPUUtil, l.GPUMemPct = f64(util), f64(memPct)
	l.CPUPct, l.MemPct, l.DiskPct = round(float64(cpu)), round(float64(mem)), round(float64(disk))
	if err := json.Unmarshal(gpus, &l.GPUs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(procs, &l.Processes); err != nil {
		return nil, err
	}
	return &l, json.Unmarshal(host, &l.Host)
}

// FleetAvgGPUUtil is the average utilisation over every GPU of the online
// machines, from their latest samples (nil when none reported).
func (q *Queries) FleetAvgGPUUtil(ctx context.Context) (*float64, error) {
	var v *float64
	err := q.db.QueryRow(ctx, `SELECT sum(l.gpu_util_avg::float8 * l.gpu_count) / nullif(sum(l.gpu_count) FILTER (WHERE l.gpu_util_avg IS NOT NULL), 0)
		FROM machine_latest l JOIN machines m ON m.id = l.machine_id WHERE m.deleted_at IS NULL AND m.status = 'online'`).Scan(&v)
	if v != nil {
		*v = round(*v)
	}
	return v, err
}

// Metric sources, finest first.
const (
	SourceRaw = "raw"
	Source1m  = "1m"
	Source1h  = "1h"
)

// HistoryQuery is a time range of one machine, aggregated to Step from
// Source. Buckets a coarser source has not computed yet come from the finer
// ones, so a chart reaches the present.
type HistoryQuery struct {
	MachineID string
	From, To  time.Time
	Step      time.Duration
	Source    string
	Marks     RollupWatermarks
}

type segment struct {
	table    string
	from, to time.Time
}

// segments splits [from, to) over the source and the finer ones.
func segments(source string, from, to time.Time, m RollupWatermarks, tables [3]string) []segment {
	var out []segment
	add := func(table string, a, b time.Time) {
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			out = append(out, segment{table, a, b})
		}
	}
	switch source {
	case Source1h:
		d1m := m.Done1m
		if d1m.Before(m.Done1h) {
			d1m = m.Done1h
		}
		add(tables[2], from, m.Done1h)
		add(tables[1], m.Done1h, d1m)
		add(tables[0], d1m, to)
	case Source1m:
		add(tables[1], from, m.Done1m)
		add(tables[0], m.Done1m, to)
	default:
		add(tables[0], from, to)
	}
	return out
}

// GPUPoint is one GPU's figures over one step.
type GPUPoint struct {
	At          time.Time `json:"at" doc:"Start of the step"`
	Util        float64   `json:"util" doc:"Average utilisation, %"`
	UtilMax     float64   `json:"utilMax"`
	MemUsedMiB  float64   `json:"memUsedMib" doc:"Average"`
	MemTotalMiB float64   `json:"memTotalMib"`
	TempC       float64   `json:"tempC" doc:"Average"`
	TempMax     float64   `json:"tempMax"`
	PowerW      float64   `json:"powerW" doc:"Average"`
}

// GPUSeries is one GPU's points, oldest first.
type GPUSeries struct {
	Index  int        `json:"index"`
	Points []GPUPoint `json:"points"`
}

func stepArg(d time.Duration) float64 { return d.Seconds() }

const origin = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`

func (q *Queries) GPUHistory(ctx context.Context, hq HistoryQuery) ([]GPUSeries, error) {
	segs := segments(hq.Source, hq.From, hq.To, hq.Marks, [3]string{"gpu_samples", "gpu_samples_1m", "gpu_samples_1h"})
	if len(segs) == 0 {
		return []GPUSeries{}, nil
	}
	args := []any{hq.MachineID, stepArg(hq.Step)}
	parts := make([]string, len(segs))
	for i, sg := range segs {
		args = append(args, sg.from, sg.to)
		a, b := len(args)-1, len(args)
		if sg.table == "gpu_samples" {
			parts[i] = fmt.Sprintf(`SELECT at AS t, gpu_index, 1 AS n, utilization AS u, utilization AS umax, mem_used_mib::real AS mem, mem_total_mib AS memt,
				temp_c AS temp, temp_c AS tmax, power_w AS pw FROM gpu_samples WHERE machine_id = $1 AND at >= $%d AND at < $%d`, a, b)
		} else {
			parts[i] = fmt.Sprintf(`SELECT bucket AS t, gpu_index, samples AS n, util_avg AS u, util_max AS umax, mem_used_avg AS mem, mem_total_mib AS memt,
				temp_avg AS temp, temp_max AS tmax, power_avg AS pw FROM %s WHERE machine_id = $1 AND bucket >= $%d AND bucket < $%d`, sg.table, a, b)
		}
	}
	rows, err := q.db.Query(ctx, `SELECT date_bin(make_interval(secs => $2), t, `+origin+`) AS b, gpu_index,
		sum(u::float8 * n) / sum(n), max(umax), sum(mem::float8 * n) / sum(n), max(memt), sum(temp::float8 * n) / sum(n), max(tmax), sum(pw::float8 * n) / sum(n)
		FROM (`+strings.Join(parts, " UNION ALL ")+`) x GROUP BY 1, 2 ORDER BY 2, 1`, args...)
	points, err := collect(rows, err, func(row pgx.Row) (*indexedGPUPoint, error) {
		var p indexedGPUPoint
		var umax, tmax float32
		var memt int32
		if err := row.Scan(&p.At, &p.index, &p.Util, &umax, &p.MemUsedMiB, &memt, &p.TempC, &tmax, &p.PowerW); err != nil {
			return nil, err
		}
		p.At = p.At.UTC()
		p.Util, p.UtilMax, p.MemUsedMiB, p.MemTotalMiB = round(p.Util), round(float64(umax)), round(p.MemUsedMiB), float64(memt)
		p.TempC, p.TempMax, p.PowerW = round(p.TempC), round(float64(tmax)), round(p.PowerW)
		return &p, nil
	})
	if err != nil {
		return nil, err
	}
	return runs(points, func(p indexedGPUPoint) int { return p.index },
		func(i int) GPUSeries { return GPUSeries{Index: i, Points: []GPUPoint{}} },
		func(s *GPUSeries, p indexedGPUPoint) { s.Points = append(s.Points, p.GPUPoint) }), nil
}

// runs turns rows ordered by a key into one series per key, in order: a
// series is started by start and each row added to it by add.
func runs[R any, K comparable, S any](rows []R, key func(R) K, start func(K) S, add func(*S, R)) []S {
	out := []S{}
	var last K
	for i, r := range rows {
		if k := key(r); i == 0 || k != last {
			out = append(out, start(k))
			last = k
		}
		add(&out[len(out)-1], r)
	}
	return out
}

// indexedGPUPoint is a row of GPUHistory: a point and its GPU, ordered by GPU.
type indexedGPUPoint struct {
	GPUPoint
	index int
}

// HostPoint is the host's figures over one step.
type HostPoint struct {
	At           time.Time `json:"at" doc:"Start of the step"`
	CPUPct       float64   `json:"cpuPct" doc:"Average"`
	CPUMax       float64   `json:"cpuMax"`
	MemPct       float64   `json:"memPct" doc:"Average"`
	DiskPct      float64   `json:"diskPct" doc:"The fullest disk, average"`
	DiskReadBps  float64   `json:"diskReadBps" doc:"All disks, average"`
	DiskWriteBps float64   `json:"diskWriteBps"`
	NetRxBps     float64   `json:"netRxBps" doc:"Average"`
	NetTxBps     float64   `json:"netTxBps"`
	Load1        float64   `json:"load1"`
}

func (q *Queries) HostHistory(ctx context.Context, hq HistoryQuery) ([]HostPoint, error) {
	segs := segments(hq.Source, hq.From, hq.To, hq.Marks, [3]string{"host_samples", "host_samples_1m", "host_samples_1h"})
	out := []HostPoint{}
	if len(segs) == 0 {
		return out, nil
	}
	args := []any{hq.MachineID, stepArg(hq.Step)}
	parts := make([]string, len(segs))
	for i, sg := range segs {
		args = append(args, sg.from, sg.to)
		a, b := len(args)-1, len(args)
		if sg.table == "host_samples" {
			parts[i] = fmt.Sprintf(`SELECT at AS t, 1 AS n, cpu_pct AS cpu, cpu_pct AS cmax, (mem_used_mib::float8 * 100 / nullif(mem_total_mib, 0))::real AS mem,
				disk_pct AS disk, disk_read_bps AS rd, disk_write_bps AS wr, net_rx_bps AS rx, net_tx_bps AS tx, load1 AS ld
				FROM host_samples WHERE machine_id = $1 AND at >= $%d AND at < $%d`, a, b)
		} else {
			parts[i] = fmt.Sprintf(`SELECT bucket AS t, samples AS n, cpu_avg AS cpu, cpu_max AS cmax, mem_pct_avg AS mem, disk_pct_avg AS disk, disk_read_avg AS rd,
				disk_write_avg AS wr, net_rx_avg AS rx, net_tx_avg AS tx, load1_avg AS ld FROM %s WHERE machine_id = $1 AND bucket >= $%d AND bucket < $%d`, sg.table, a, b)
		}
	}
	rows, err := q.db.Query(ctx, `SELECT date_bin(make_interval(secs => $2), t, `+origin+`) AS b,
		sum(cpu::float8 * n) / sum(n), max(cmax), coalesce(sum(mem::float8 * n) / sum(n), 0), sum(disk::float8 * n) / sum(n),
		sum(rd::float8 * n) / sum(n), sum(wr::float8 * n) / sum(n), sum(rx::float8 * n) / sum(n), sum(tx::float8 * n) / sum(n), sum(ld::float8 * n) / sum(n)
		FROM (`+strings.Join(parts, " UNION ALL ")+`) x GROUP BY 1 ORDER BY 1`, args...)
	return collect(rows, err, func(row pgx.Row) (*HostPoint, error) {
		var p HostPoint
		var cmax float32
		if err := row.Scan(&p.At, &p.CPUPct, &cmax, &p.MemPct, &p.DiskPct, &p.DiskReadBps, &p.DiskWriteBps, &p.NetRxBps, &p.NetTxBps, &p.Load1); err != nil {
			return nil, err
		}
		p.At = p.At.UTC()
		p.CPUPct, p.CPUMax, p.MemPct, p.DiskPct = round(p.CPUPct), round(float64(cmax)), round(p.MemPct), round(p.DiskPct)
		p.DiskReadBps, p.DiskWriteBps, p.NetRxBps, p.NetTxBps, p.Load1 = round(p.DiskReadBps), round(p.DiskWriteBps), round(p.NetRxBps), round(p.NetTxBps), round(p.Load1)
		return &p, nil
	})
}

// TrendPoint is the fleet's GPU utilisation over one step.
type TrendPoint struct {
	At   time.Time `json:"at" doc:"Start of the step"`
	Avg  float64   `json:"avg" doc:"Average over every GPU sample in the step, %"`
	Max  float64   `json:"max" doc:"The busiest GPU's busiest minute in the step (its 1-minute average), %"`
	GPUs int       `json:"gpus" doc:"GPUs reporting (the most in any minute of the step)"`
}

// TrendSeries is the trend of one region ("" for the whole fleet or the filtered region).
type TrendSeries struct {
	Region string       `json:"region"`
	Points []TrendPoint `json:"points"`
}

// GPUTrend is the fleet-wide GPU utilisation from the fleet roll-ups (Source
// 1m or 1h; the 1-hour one completed from the 1-minute one), for one region
// or all, optionally one series per region.
func (q *Queries) GPUTrend(ctx context.Context, hq HistoryQuery, region string, byRegion bool) ([]TrendSeries, error) {
	src := hq.Source
	if src == SourceRaw {
		src = Source1m
	}
	// the fleet tables have no raw level: the 1-minute one is the finest
	marks := hq.Marks
	if marks.Done1m.Before(hq.To) {
		marks.Done1m = hq.To
	}
	segs := segments(src, hq.From, hq.To, marks, [3]string{"", "gpu_fleet_1m", "gpu_fleet_1h"})
	out := []TrendSeries{}
	if len(segs) == 0 {
		return out, nil
	}
	args := []any{stepArg(hq.Step)}
	regionCond := ""
	if region != "" {
		args = append(args, region)
		regionCond = " AND region = $2"
	}
	parts := make([]string, 0, len(segs))
	for _, sg := range segs {
		if sg.table == "" {
			continue
		}
		args = append(args, sg.from, sg.to)
		parts = append(parts, fmt.Sprintf(`SELECT bucket, region, samples, util_sum, util_max, gpus FROM %s WHERE bucket >= $%d AND bucket < $%d%s`,
			sg.table, len(args)-1, len(args), regionCond))
	}
	group, sel := "", "''"
	if byRegion {
		group, sel = ", region", "region"
	}
	rows, err := q.db.Query(ctx, `SELECT `+sel+`, date_bin(make_interval(secs => $1), bucket, `+origin+`) AS b,
		sum(n)::float8, sum(us), max(um), max(g)
		FROM (SELECT bucket`+group+`, sum(samples) AS n, sum(util_sum) AS us, max(util_max) AS um, sum(gpus) AS g
			FROM (`+strings.Join(parts, " UNION ALL ")+`) x GROUP BY bucket`+group+`) y
		GROUP BY 1, 2 HAVING sum(n) > 0 ORDER BY 1, 2`, args...)
	points, err := collect(rows, err, func(row pgx.Row) (*regionTrendPoint, error) {
		var p regionTrendPoint
		var n, sum float64
		var mx float32
		var gpus int64
		if err := row.Scan(&p.region, &p.At, &n, &sum, &mx, &gpus); err != nil {
			return nil, err
		}
		p.At, p.Avg, p.Max, p.GPUs = p.At.UTC(), round(sum/n), round(float64(mx)), int(gpus)
		return &p, nil
	})
	if err != nil {
		return nil, err
	}
	return runs(points, func(p regionTrendPoint) string { return p.region },
		func(r string) TrendSeries { return TrendSeries{Region: r, Points: []TrendPoint{}} },
		func(s *TrendSeries, p regionTrendPoint) { s.Points = append(s.Points, p.TrendPoint) }), nil
}

// regionTrendPoint is a row of GPUTrend: a point and its region, ordered by region.
type regionTrendPoint struct {
	TrendPoint
	region string
}
