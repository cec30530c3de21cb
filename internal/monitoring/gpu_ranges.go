package monitoring

import (
	"context"
	"slices"
	"time"

	"github.com/remotegpu/remotegpu/store"
)

// GPURange is some GPUs of a machine over a time range (one attempt of a task).
type GPURange struct {
	MachineID string
	From, To  time.Time // To zero: now
	GPUs      []int
}

// GPUsOverTime are the figures of the GPUs of several ranges on one time
// axis, one series per GPU index.
type GPUsOverTime struct {
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	StepSeconds int               `json:"stepSeconds"`
	Source      string            `json:"source" enum:"raw,1m,1h,"`
	GPUs        []store.GPUSeries `json:"gpus"`
}

// GPUsOver reads the ranges' GPUs with one step for all (at most
// maxPoints over the whole span), as the machine history does. A span that
// the retention no longer holds answers no series.
func (s *Service) GPUsOver(ctx context.Context, ranges []GPURange, maxPoints int) (GPUsOverTime, error) {
	out := GPUsOverTime{GPUs: []store.GPUSeries{}}
	now := s.Now()
	for _, r := range ranges {
		to := r.To
		if to.IsZero() || to.After(now) {
			to = now
		}
		if out.From.IsZero() || r.From.Before(out.From) {
			out.From = r.From
		}
		if to.After(out.To) {
			out.To = to
		}
	}
	if len(ranges) == 0 || !out.From.Before(out.To) {
		return out, nil
	}
	sp, err := resolveSpan(Range{From: out.From, To: out.To}, "", now, s.Monitoring, 0, maxPoints)
	if err != nil {
		return out, nil // nothing retained any more
	}
	out.From, out.To, out.StepSeconds, out.Source = sp.from, sp.to, int(sp.step/time.Second), sp.source
	marks, err := s.Store.RollupWatermarks(ctx)
	if err != nil {
		return out, err
	}
	byIndex := map[int]*store.GPUSeries{}
	for _, r := range ranges {
		from, to := r.From, r.To
		if from.Before(sp.from) {
			from = sp.from
		}
		if to.IsZero() || to.After(sp.to) {
			to = sp.to
		}
		if !from.Before(to) {
			continue
		}
		series, err := s.Store.GPUHistory(ctx, store.HistoryQuery{MachineID: r.MachineID, From: from, To: to, Step: sp.step, Source: sp.source, Marks: marks})
		if err != nil {
			return out, err
		}
		for _, g := range series {
			if !slices.Contains(r.GPUs, g.Index) {
				continue
			}
			if byIndex[g.Index] == nil {
				byIndex[g.Index] = &store.GPUSeries{Index: g.Index, Points: []store.GPUPoint{}}
			}
			byIndex[g.Index].Points = append(byIndex[g.Index].Points, g.Points...)
		}
	}
	for _, g := range byIndex {
		slices.SortFunc(g.Points, func(a, b store.GPUPoint) int { return a.At.Compare(b.At) })
		out.GPUs = append(out.GPUs, *g)
	}
	slices.SortFunc(out.GPUs, func(a, b store.GPUSeries) int { return a.Index - b.Index })
	return out, nil
}
