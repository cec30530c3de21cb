package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Notification channels (Postgres LISTEN/NOTIFY) of the monitoring data, for
// the WebSocket hubs of every api replica:
//
//   - machine_metrics, payload "<machineID>": new samples of the machine are
//     committed (machine_latest has its newest figures). One per machine per
//     ingest batch; Postgres folds duplicates within a transaction.
//   - machine_status, payload "<machineID>:<status>": the monitoring changed
//     the machine's state, "online" when a sample arrives for an offline
//     machine, "offline" when the offline detector finds it silent.
const (
	ChannelMachineMetrics = "machine_metrics"
	ChannelMachineStatus  = "machine_status"
)

// rollupLockKey orders ingest against the 1-minute roll-up claiming buckets
// (see RollUp): writers hold it shared, the roll-up takes it exclusively for
// the instant it moves marked_until.
const (
	rollupLockKey1m = 7274011
	rollupLockKey1h = 7274012
)

// IngestOptions tune the batcher.
type IngestOptions struct {
	// Wait is how long a batch stays open for more requests once the first
	// arrived (0: flush as soon as a writer is free, which still batches
	// whatever queued during the previous flush).
	Wait time.Duration
	// MaxRows caps the GPU plus host rows of one batch.
	MaxRows int
	// Writers is how many batches may be in flight at once (connections used).
	Writers int
	// RetentionRaw: samples older than this are dropped (their partition may be gone).
	RetentionRaw time.Duration
}

// IngestStats count what the batcher did since it started.
type IngestStats struct {
	Requests int64 // Submit calls that were written
	Batches  int64 // transactions committed
	GPURows  int64
	HostRows int64
	Dropped  int64 // samples older than the retention
}

// Ingester collects the samples of concurrent requests and writes them in
// few transactions: COPY into gpu_samples and host_samples, the newest
// figures into machine_latest, last_seen_at (and online) on machines, late
// samples noted for the roll-ups, and the notifications. Submit returns once
// its rows are committed.
type Ingester struct {
	st    *Store
	opts  IngestOptions
	once  sync.Once
	in    chan *ingestReq
	ready chan *ingestBatch
	parts sync.Map // partition name -> struct{}: known to exist
	stats struct{ requests, batches, gpuRows, hostRows, dropped atomic.Int64 }
}

func NewIngester(st *Store, o IngestOptions) *Ingester {
	if o.MaxRows <= 0 {
		o.MaxRows = 5000
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.RetentionRaw <= 0 {
		o.RetentionRaw = 7 * 24 * time.Hour
	}
	return &Ingester{st: st, opts: o, in: make(chan *ingestReq, 1024), ready: make(chan *ingestBatch)}
}

func (g *Ingester) Stats() IngestStats {
	return IngestStats{Requests: g.stats.requests.Load(), Batches: g.stats.batches.Load(), GPURows: g.stats.gpuRows.Load(),
		HostRows: g.stats.hostRows.Load(), Dropped: g.stats.dropped.Load()}
}

type ingestReq struct {
	machine [16]byte
	seenAt  time.Time
	gpu     [][]any
	host    [][]any
	minAt   time.Time  // oldest stored sample (zero when none)
	latest  *latestRow // newest sample, nil when none was stored
	parts   []partKey  // partitions the rows need
	done    chan error
}

type partKey struct {
	parent string
	day    time.Time
}

type latestRow struct {
	sampleAt                                  time.Time
	gpuCount                                  int32
	utilAvg, utilMax, memPct, tempMax, powerW *float32
	cpuPct, memHostPct, diskPct, netRx, netTx float32
	gpus, processes, host                     json.RawMessage
}

// Submit stores one request's samples of a machine; received is the api's
// clock. It returns how many samples were stored: those older than the raw
// retention are dropped, timestamps more than a minute ahead of received are
// clamped to it. On error nothing of the request is stored, except when ctx
// ends while its batch is being written (it may then be stored or not).
func (g *Ingester) Submit(ctx context.Context, machineID string, received time.Time, samples []agentproto.Sample) (int, error) {
	id, err := uuid.Parse(machineID)
	if err != nil {
		return 0, fmt.Errorf("unable to parse machine id: %w", err)
	}
	r, stored := g.build(id, received, samples)
	g.once.Do(g.start)
	select {
	case g.in <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return 0, err
		}
		return stored, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func f32(v float64) float32 { return float32(v) }

func pct(used, total float64) float32 {
	if total <= 0 {
		return 0
	}
	return float32(used / total * 100)
}

// build turns samples into rows in the caller's goroutine, so the batcher only writes.
func (g *Ingester) build(id [16]byte, received time.Time, samples []agentproto.Sample) (*ingestReq, int) {
	r := &ingestReq{machine: id, seenAt: received, done: make(chan error, 1)}
	oldest := received.Add(-g.opts.RetentionRaw)
	var newest *agentproto.Sample
	var newestAt time.Time
	stored := 0
	seenDays := map[time.Time]bool{}
	for i := range samples {
		s := &samples[i]
		at := s.At.UTC()
		if at.IsZero() || at.After(received.Add(time.Minute)) {
			at = received.UTC()
		}
		if at.Before(oldest) {
			g.stats.dropped.Add(1)
			continue
		}
		stored++
		if r.minAt.IsZero() || at.Before(r.minAt) {
			r.minAt = at
		}
		if newest == nil || !at.Before(newestAt) {
			newest, newestAt = s, at
		}
		day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		if !seenDays[day] {
			seenDays[day] = true
			if len(s.GPUs) > 0 {
				r.parts = append(r.parts, partKey{"gpu_samples", day})
			}
			r.parts = append(r.parts, partKey{"host_samples", day})
		}
		for _, gs := range s.GPUs {
			var fan *float32
			if gs.FanPct != nil {
				v := float32(*gs.FanPct)
				fan = &v
			}
			r.gpu = append(r.gpu, []any{id, at, int16(gs.Index), f32(gs.Utilization), int32(gs.MemUsedMiB), int32(gs.MemTotalMiB),
				f32(gs.TempC), f32(gs.PowerW), f32(gs.PowerLimitW), fan, gs.ECCErrors})
		}
		h := &s.Host
		var used, total, readBps, writeBps float64
		var fullest float32
		for _, d := range h.Disks {
			used, total, readBps, writeBps = used+d.UsedGiB, total+d.TotalGiB, readBps+d.ReadBps, writeBps+d.WriteBps
			if p := pct(d.UsedGiB, d.TotalGiB); p > fullest {
				fullest = p
			}
		}
		r.host = append(r.host, []any{id, at, f32(h.CPUPct), h.MemUsedMiB, h.MemTotalMiB, f32(used), f32(total), fullest,
			f32(readBps), f32(writeBps), f32(h.NetRxBps), f32(h.NetTxBps), f32(h.Load1)})
	}
	if newest != nil {
		r.latest = latestOf(newest, newestAt)
	}
	return r, stored
}

// LatestGPU is one GPU in machine_latest.gpus.
type LatestGPU struct {
	Index       int      `json:"index"`
	UUID        string   `json:"uuid,omitempty"`
	Utilization float64  `json:"utilization"`
	MemUsedMiB  int64    `json:"memUsedMib"`
	MemTotalMiB int64    `json:"memTotalMib"`
	TempC       float64  `json:"tempC"`
	PowerW      float64  `json:"powerW"`
	PowerLimitW float64  `json:"powerLimitW"`
	FanPct      *float64 `json:"fanPct,omitempty"`
	ECCErrors   *int64   `json:"eccErrors,omitempty"`
}

// GPUProcessRow is one process using a GPU, as of the latest sample.
type GPUProcessRow struct {
	GPUIndex   int    `json:"gpuIndex"`
	PID        int    `json:"pid"`
	Name       string `json:"name"`
	MemUsedMiB int64  `json:"memUsedMib"`
}

func latestOf(s *agentproto.Sample, at time.Time) *latestRow {
	l := &latestRow{sampleAt: at, gpuCount: int32(len(s.GPUs))}
	gpus := make([]LatestGPU, len(s.GPUs))
	procs := []GPUProcessRow{}
	var util, utilMax, memUsed, memTotal, tempMax, power float64
	for i, gs := range s.GPUs {
		gpus[i] = LatestGPU{Index: gs.Index, UUID: gs.UUID, Utilization: gs.Utilization, MemUsedMiB: gs.MemUsedMiB, MemTotalMiB: gs.MemTotalMiB,
			TempC: gs.TempC, PowerW: gs.PowerW, PowerLimitW: gs.PowerLimitW, FanPct: gs.FanPct, ECCErrors: gs.ECCErrors}
		for _, p := range gs.Processes {
			procs = append(procs, GPUProcessRow{GPUIndex: gs.Index, PID: p.PID, Name: p.Name, MemUsedMiB: p.MemUsedMiB})
		}
		util += gs.Utilization
		memUsed += float64(gs.MemUsedMiB)
		memTotal += float64(gs.MemTotalMiB)
		power += gs.PowerW
		if i == 0 || gs.Utilization > utilMax {
			utilMax = gs.Utilization
		}
		if i == 0 || gs.TempC > tempMax {
			tempMax = gs.TempC
		}
	}
	if n := len(s.GPUs); n > 0 {
		avg, mx, mp, tm, pw := f32(util/float64(n)), f32(utilMax), pct(memUsed, memTotal), f32(tempMax), f32(power)
		l.utilAvg, l.utilMax, l.memPct, l.tempMax, l.powerW = &avg, &mx, &mp, &tm, &pw
	}
	h := s.Host
	l.cpuPct, l.memHostPct = f32(h.CPUPct), pct(float64(h.MemUsedMiB), float64(h.MemTotalMiB))
	for _, d := range h.Disks {
		if p := pct(d.UsedGiB, d.TotalGiB); p > l.diskPct {
			l.diskPct = p
		}
	}
	l.netRx, l.netTx = f32(h.NetRxBps), f32(h.NetTxBps)
	if h.Disks == nil {
		h.Disks = []agentproto.DiskSample{}
	}
	l.gpus, _ = json.Marshal(gpus)
	l.processes, _ = json.Marshal(procs)
	l.host, _ = json.Marshal(h)
	return l
}

type ingestBatch struct {
	reqs []*ingestReq
	rows int
}

func (g *Ingester) start() {
	go g.collect()
	for range g.opts.Writers {
		go g.write()
	}
}

// collect groups requests into batches: a batch closes when it is full or
// Wait has passed since its first request, and is handed to the first free
// writer; while every writer is busy it keeps growing (up to MaxRows).
func (g *Ingester) collect() {
	var cur *ingestBatch
	var timer *time.Timer
	var timerC <-chan time.Time
	expired := false
	for {
		in, out := g.in, chan *ingestBatch(nil)
		if cur != nil {
			if cur.rows >= g.opts.MaxRows {
				in = nil
			}
			if expired || cur.rows >= g.opts.MaxRows {
				out = g.ready
			}
		}
		select {
		case r := <-in:
			if cur == nil {
				cur = &ingestBatch{}
				if g.opts.Wait > 0 {
					timer = time.NewTimer(g.opts.Wait)
					timerC, expired = timer.C, false
				} else {
					expired = true
				}
			}
			cur.reqs = append(cur.reqs, r)
			cur.rows += len(r.gpu) + len(r.host)
		case <-timerC:
			timerC, expired = nil, true
		case out <- cur:
			if timer != nil {
				timer.Stop()
			}
			cur, timerC, expired = nil, nil, false
		}
	}
}

func (g *Ingester) write() {
	for b := range g.ready {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := g.flush(ctx, b)
		cancel()
		if err == nil {
			g.stats.batches.Add(1)
			g.stats.requests.Add(int64(len(b.reqs)))
		}
		for _, r := range b.reqs {
			r.done <- err
		}
	}
}

// machineAgg is one machine's part of a batch (a machine may have several requests in it).
type machineAgg struct {
	id     [16]byte
	seenAt time.Time
	minAt  time.Time
	latest *latestRow
}

func (g *Ingester) flush(ctx context.Context, b *ingestBatch) error {
	var gpu, host [][]any
	aggs := map[[16]byte]*machineAgg{}
	need := map[partKey]bool{}
	for _, r := range b.reqs {
		gpu, host = append(gpu, r.gpu...), append(host, r.host...)
		for _, p := range r.parts {
			need[p] = true
		}
		a := aggs[r.machine]
		if a == nil {
			a = &machineAgg{id: r.machine}
			aggs[r.machine] = a
		}
		if r.seenAt.After(a.seenAt) {
			a.seenAt = r.seenAt
		}
		if !r.minAt.IsZero() && (a.minAt.IsZero() || r.minAt.Before(a.minAt)) {
			a.minAt = r.minAt
		}
		if r.latest != nil && (a.latest == nil || !r.latest.sampleAt.Before(a.latest.sampleAt)) {
			a.latest = r.latest
		}
	}
	machines := make([]*machineAgg, 0, len(aggs))
	for _, a := range aggs {
		machines = append(machines, a)
	}
	// one lock order for every writer: no deadlocks between batches
	sort.Slice(machines, func(i, j int) bool { return string(machines[i].id[:]) < string(machines[j].id[:]) })

	if err := g.ensurePartitions(ctx, need, false); err != nil {
		return err
	}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, g.st.Pool, func(tx pgx.Tx) error { return g.writeBatch(ctx, tx, gpu, host, machines) })
		switch {
		case err == nil:
			g.stats.gpuRows.Add(int64(len(gpu)))
			g.stats.hostRows.Add(int64(len(host)))
			return nil
		case isNoPartition(err):
			// dropped or never made: forget what we knew and make them
			if perr := g.ensurePartitions(ctx, need, true); perr != nil {
				return perr
			}
		case isRetryable(err):
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
		default:
			return fmt.Errorf("unable to write samples: %w", err)
		}
	}
	return fmt.Errorf("unable to write samples: %w", err)
}

func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (g *Ingester) ensurePartitions(ctx context.Context, need map[partKey]bool, force bool) error {
	for p := range need {
		name, _, _ := PartitionBounds(p.parent, p.day)
		if _, known := g.parts.Load(name); known && !force {
			continue
		}
		if _, err := g.st.EnsurePartition(ctx, p.parent, p.day); err != nil {
			return err
		}
		g.parts.Store(name, struct{}{})
	}
	return nil
}

var (
	gpuSampleColumns  = []string{"machine_id", "at", "gpu_index", "utilization", "mem_used_mib", "mem_total_mib", "temp_c", "power_w", "power_limit_w", "fan_pct", "ecc_errors"}
	hostSampleColumns = []string{"machine_id", "at", "cpu_pct", "mem_used_mib", "mem_total_mib", "disk_used_gib", "disk_total_gib", "disk_pct",
		"disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps", "load1"}
)

const upsertLatestSQL = `INSERT INTO machine_latest (machine_id, sample_at, received_at, gpu_count, gpu_util_avg, gpu_util_max, gpu_mem_pct,
	gpu_temp_max, gpu_power_w, cpu_pct, mem_pct, disk_pct, net_rx_bps, net_tx_bps, gpus, processes, host)
	SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::int[], $5::real[], $6::real[], $7::real[], $8::real[],
		$9::real[], $10::real[], $11::real[], $12::real[], $13::real[], $14::real[], $15::jsonb[], $16::jsonb[], $17::jsonb[])
	ON CONFLICT (machine_id) DO UPDATE SET sample_at = EXCLUDED.sample_at, received_at = EXCLUDED.received_at,
		gpu_count = EXCLUDED.gpu_count, gpu_util_avg = EXCLUDED.gpu_util_avg, gpu_util_max = EXCLUDED.gpu_util_max,
		gpu_mem_pct = EXCLUDED.gpu_mem_pct, gpu_temp_max = EXCLUDED.gpu_temp_max, gpu_power_w = EXCLUDED.gpu_power_w,
		cpu_pct = EXCLUDED.cpu_pct, mem_pct = EXCLUDED.mem_pct, disk_pct = EXCLUDED.disk_pct, net_rx_bps = EXCLUDED.net_rx_bps,
		net_tx_bps = EXCLUDED.net_tx_bps, gpus = EXCLUDED.gpus, processes = EXCLUDED.processes, host = EXCLUDED.host
	WHERE machine_latest.sample_at <= EXCLUDED.sample_at`

// seenSQL records the api's clock as last_seen_at and brings offline
// machines back online (never maintenance), announcing those.
const seenSQL = `WITH s AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS s(id, seen)),
	prev AS (SELECT m.id, m.status FROM machines m JOIN s ON s.id = m.id WHERE m.deleted_at IS NULL ORDER BY m.id FOR NO KEY UPDATE OF m),
	upd AS (UPDATE machines m SET last_seen_at = greatest(m.last_seen_at, s.seen),
			status = CASE WHEN prev.status = 'offline' THEN 'online' ELSE m.status END,
			updated_at = CASE WHEN prev.status = 'offline' THEN now() ELSE m.updated_at END
		FROM prev JOIN s ON s.id = prev.id WHERE m.id = prev.id RETURNING m.id, prev.status AS was)
	SELECT id::text, pg_notify('` + ChannelMachineStatus + `', id::text || ':online') FROM upd WHERE was = 'offline'`

// lateSQL notes machines whose samples fall before what the 1-minute
// roll-up has already claimed, so it recomputes them.
const lateSQL = `INSERT INTO metrics_rollup_late (level, machine_id, from_at)
	SELECT r.level, x.id, x.min_at FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, min_at)
	JOIN metrics_rollups r ON r.level = '1m' AND x.min_at < r.marked_until
	ON CONFLICT (level, machine_id) DO UPDATE SET from_at = least(metrics_rollup_late.from_at, EXCLUDED.from_at)`

func (g *Ingester) writeBatch(ctx context.Context, tx pgx.Tx, gpu, host [][]any, machines []*machineAgg) error {
	if len(gpu) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"gpu_samples"}, gpuSampleColumns, pgx.CopyFromRows(gpu)); err != nil {
			return err
		}
	}
	if len(host) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"host_samples"}, hostSampleColumns, pgx.CopyFromRows(host)); err != nil {
			return err
		}
	}
	n := len(machines)
	ids, seen := make([][16]byte, n), make([]time.Time, n)
	idText := make([]string, n)
	var lateIDs [][16]byte
	var lateFrom []time.Time
	var l struct {
		ids                                   [][16]byte
		at, recv                              []time.Time
		count                                 []int32
		util, utilMax, memPct, tempMax, power []*float32
		cpu, mem, disk, rx, tx                []float32
		gpus, procs, host                     []json.RawMessage
	}
	for i, m := range machines {
		ids[i], seen[i], idText[i] = m.id, m.seenAt, uuid.UUID(m.id).String()
		if !m.minAt.IsZero() {
			lateIDs, lateFrom = append(lateIDs, m.id), append(lateFrom, m.minAt)
		}
		if x := m.latest; x != nil {
			l.ids, l.at, l.recv, l.count = append(l.ids, m.id), append(l.at, x.sampleAt), append(l.recv, m.seenAt), append(l.count, x.gpuCount)
			l.util, l.utilMax, l.memPct, l.tempMax, l.power = append(l.util, x.utilAvg), append(l.utilMax, x.utilMax), append(l.memPct, x.memPct),
				append(l.tempMax, x.tempMax), append(l.power, x.powerW)
			l.cpu, l.mem, l.disk, l.rx, l.tx = append(l.cpu, x.cpuPct), append(l.mem, x.memHostPct), append(l.disk, x.diskPct),
				append(l.rx, x.netRx), append(l.tx, x.netTx)
			l.gpus, l.procs, l.host = append(l.gpus, x.gpus), append(l.procs, x.processes), append(l.host, x.host)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, rollupLockKey1m)
	if len(l.ids) > 0 {
		b.Queue(upsertLatestSQL, l.ids, l.at, l.recv, l.count, l.util, l.utilMax, l.memPct, l.tempMax, l.power,
			l.cpu, l.mem, l.disk, l.rx, l.tx, l.gpus, l.procs, l.host)
	}
	b.Queue(seenSQL, ids, seen)
	if len(lateIDs) > 0 {
		b.Queue(lateSQL, lateIDs, lateFrom)
	}
	b.Queue(`SELECT pg_notify('`+ChannelMachineMetrics+`', x) FROM unnest($1::text[]) AS x`, idText)
	br := tx.SendBatch(ctx, b)
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}
