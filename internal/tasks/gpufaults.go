package tasks

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// GPUFault is a fault a machine's agent reported on one of its GPUs: a
// critical XID error that is not a program's own, or new uncorrected ECC
// errors.
type GPUFault struct {
	GPU int
	XID int       // the XID, 0 for an ECC fault
	ECC int64     // how many uncorrected ECC errors came, 0 for an XID
	At  time.Time // the sample's time
}

// applicationXIDs are the critical XIDs a program's own errors cause
// (NVIDIA's XID catalogue: 13 graphics engine exception, 31 GPU memory page
// fault, 43 GPU stopped processing, 45 preemptive cleanup, 68 video decoder
// exception, 109 context switch timeout); the GPU itself is fine, so they
// move no task. The Kubernetes NVIDIA device plugin skips the same ones.
var applicationXIDs = []int{13, 31, 43, 45, 68, 109}

// ApplicationXID tells an XID a program's own error causes.
func ApplicationXID(xid int) bool { return slices.Contains(applicationXIDs, xid) }

// How far back an ECC count is compared with (older samples say nothing of
// the volatile counter now), and how much earlier than a grant a fault may
// be dated and still count for it (the agent's clock against Postgres').
const (
	eccBaselineWindow = time.Hour
	faultClockSlack   = time.Minute
)

// DetectGPUFaults finds the faults in an agent's samples (oldest first): a
// GPU's non-application XIDs, and each rise of its uncorrected ECC count
// over its value in the sample before, the first sample's compared with
// before (the GPU's count in the machine's previous sample; a GPU missing
// there has no fault on its first sample: a first count above 0 is no
// new fault). A count that falls (the driver reloaded) is no fault.
func DetectGPUFaults(samples []agentproto.Sample, before map[int]int64) []GPUFault {
	last := make(map[int]int64, len(before))
	for g, v := range before {
		last[g] = v
	}
	var out []GPUFault
	for _, s := range samples {
		for _, g := range s.GPUs {
			for _, x := range g.XIDs {
				if !ApplicationXID(x) {
					out = append(out, GPUFault{GPU: g.Index, XID: x, At: s.At})
				}
			}
			if g.ECCErrors == nil {
				continue
			}
			if prev, ok := last[g.Index]; ok && *g.ECCErrors > prev {
				out = append(out, GPUFault{GPU: g.Index, ECC: *g.ECCErrors - prev, At: s.At})
			}
			last[g.Index] = *g.ECCErrors
		}
	}
	return out
}

// suspects are the GPUs that may have a fault in the samples (a
// non-application XID, an ECC count above 0), and those of them whose
// first ECC count is above 0 (a fault only if it rose since the sample
// before).
func suspects(samples []agentproto.Sample) (gpus, needBefore []int) {
	seen := map[int]bool{}
	for _, s := range samples {
		for _, g := range s.GPUs {
			first := !seen[g.Index]
			seen[g.Index] = true
			ecc := g.ECCErrors != nil && *g.ECCErrors > 0
			if first && ecc {
				needBefore = append(needBefore, g.Index)
			}
			if (ecc || slices.ContainsFunc(g.XIDs, func(x int) bool { return !ApplicationXID(x) })) && !slices.Contains(gpus, g.Index) {
				gpus = append(gpus, g.Index)
			}
		}
	}
	return gpus, needBefore
}

type SamplesIngestedInput struct {
	MachineID string
	Samples   []agentproto.Sample // oldest first, as the agent sent them
}

// SamplesIngested is the monitoring's ingest hook (monitoring.OnIngest):
// the GPU faults in the machine's new samples move the running tasks that
// hold those GPUs (GPUFaults). Samples without an XID or an ECC count above
// 0 (nearly all) cost nothing; the rest a query or two.
func (s *Service) SamplesIngested(ctx context.Context, in SamplesIngestedInput) {
	gpus, needBefore := suspects(in.Samples)
	if len(gpus) == 0 || s.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	holders, err := s.Store.GPUHolders(ctx, in.MachineID, gpus)
	if err != nil {
		slog.ErrorContext(ctx, "unable to look for the tasks on faulty GPUs", "machine", in.MachineID, "err", err)
		return
	}
	// every GPU's faults are recorded (they set it aside), not only the held ones
	samples := clampTimes(in.Samples, time.Now())
	var before map[int]int64
	if len(needBefore) > 0 {
		first := samples[0].At
		if before, err = s.Store.ECCBefore(ctx, in.MachineID, needBefore, first.Add(-eccBaselineWindow), first); err != nil {
			slog.ErrorContext(ctx, "unable to read the GPUs' previous ECC counts", "machine", in.MachineID, "err", err)
			return
		}
	}
	faults := DetectGPUFaults(samples, before)
	if len(faults) == 0 {
		return
	}
	records := make([]store.GPUFaultRecord, len(faults))
	for i, f := range faults {
		records[i] = store.GPUFaultRecord{GPUIndex: f.GPU, At: f.At, XID: f.XID, ECC: f.ECC}
	}
	if err := s.Store.RecordGPUFaults(ctx, in.MachineID, records); err != nil {
		slog.ErrorContext(ctx, "unable to record GPU faults", "machine", in.MachineID, "err", err)
	}
	if len(holders) > 0 {
		s.signalFaults(ctx, in.MachineID, holders, faults)
	}
}

// clampTimes dates the samples as the ingest stored them: no time, or more
// than a minute ahead, is now.
func clampTimes(samples []agentproto.Sample, now time.Time) []agentproto.Sample {
	out := slices.Clone(samples)
	for i := range out {
		if out[i].At.IsZero() || out[i].At.After(now.Add(time.Minute)) {
			out[i].At = now
		}
	}
	return out
}

// GPUFaults tells every running task that holds a faulty GPU of the
// machine (task_gpu_grants) to stop its attempt and move on (the TaskRun
// workflow's gpuFault signal, with the task's first fault). A fault dated
// more than faultClockSlack before the task got the GPU belongs to an
// earlier holder (a backlog, a report sent twice) and is not its. It
// returns how many tasks were told.
func (s *Service) GPUFaults(ctx context.Context, machineID string, faults []GPUFault) (int, error) {
	var gpus []int
	for _, f := range faults {
		if !slices.Contains(gpus, f.GPU) {
			gpus = append(gpus, f.GPU)
		}
	}
	if len(gpus) == 0 {
		return 0, nil
	}
	holders, err := s.Store.GPUHolders(ctx, machineID, gpus)
	if err != nil {
		return 0, err
	}
	return s.signalFaults(ctx, machineID, holders, faults), nil
}

func (s *Service) signalFaults(ctx context.Context, machineID string, holders []store.GPUHolder, faults []GPUFault) int {
	type key struct {
		task    string
		attempt int
	}
	first := map[key]activities.GPUFault{}
	var order []key
	for _, f := range faults {
		for _, h := range holders {
			if h.GPUIndex != f.GPU || f.At.Before(h.GrantedAt.Add(-faultClockSlack)) {
				continue
			}
			k := key{h.TaskID, h.Attempt}
			if prev, ok := first[k]; ok && !f.At.Before(prev.At) {
				continue
			} else if !ok {
				order = append(order, k)
			}
			first[k] = activities.GPUFault{Attempt: h.Attempt, GPUIndex: f.GPU, XID: f.XID, ECC: f.ECC, At: f.At}
		}
	}
	told := 0
	for _, k := range order {
		f := first[k]
		slog.WarnContext(ctx, "GPU fault: the task's attempt is stopped and moved", "machine", machineID, "gpu", f.GPUIndex, "xid", f.XID,
			"ecc", f.ECC, "task", k.task, "attempt", k.attempt)
		if s.Temporal == nil {
			slog.ErrorContext(ctx, "unable to tell a task of its GPU fault: no workflow service", "task", k.task)
			continue
		}
		err := s.Temporal.SignalWorkflow(ctx, workflows.TaskRunWorkflowID(k.task), "", workflows.TaskGPUFaultSignal, f)
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			told++
		case errors.As(err, &nf):
			// no run: the reconciler gives it one, which finds the attempt's container
			slog.WarnContext(ctx, "a task on a faulty GPU has no workflow", "task", k.task)
		default:
			slog.ErrorContext(ctx, "unable to tell a task of its GPU fault", "task", k.task, "err", err)
		}
	}
	return told
}
