package tasks

import (
	"fmt"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func ecc(v int64) *int64 { return &v }

func sampleAt(sec int, gpus ...agentproto.GPUSample) agentproto.Sample {
	return agentproto.Sample{At: time.Date(2026, 5, 1, 10, 0, sec, 0, time.UTC), GPUs: gpus}
}

func TestDetectGPUFaults(t *testing.T) {
	samples := []agentproto.Sample{
		sampleAt(0,
			agentproto.GPUSample{Index: 0, ECCErrors: ecc(0), XIDs: []int{13, 79}}, // 13 is the program's own
			agentproto.GPUSample{Index: 1, ECCErrors: ecc(4)},                      // 4 before: nothing new
			agentproto.GPUSample{Index: 2, ECCErrors: ecc(3)},                      // no count before: not a new fault
			agentproto.GPUSample{Index: 3, ECCErrors: ecc(5)},                      // 2 before: 3 new
			agentproto.GPUSample{Index: 4, XIDs: []int{31, 43, 45}}),               // the program's own only
		sampleAt(5,
			agentproto.GPUSample{Index: 0, ECCErrors: ecc(0)},
			agentproto.GPUSample{Index: 1, ECCErrors: ecc(6)}, // +2
			agentproto.GPUSample{Index: 2, ECCErrors: ecc(3)},
			agentproto.GPUSample{Index: 3, ECCErrors: ecc(0)}), // reset (driver reloaded): no fault
		sampleAt(10,
			agentproto.GPUSample{Index: 2, ECCErrors: ecc(4)}, // +1 over this request's own first count
			agentproto.GPUSample{Index: 3, ECCErrors: ecc(1)}, // +1 after the reset
			agentproto.GPUSample{Index: 5, ECCErrors: nil, XIDs: []int{48}}),
	}
	got := DetectGPUFaults(samples, map[int]int64{1: 4, 3: 2})
	want := []GPUFault{
		{GPU: 0, XID: 79, At: samples[0].At},
		{GPU: 3, ECC: 3, At: samples[0].At},
		{GPU: 1, ECC: 2, At: samples[1].At},
		{GPU: 2, ECC: 1, At: samples[2].At},
		{GPU: 3, ECC: 1, At: samples[2].At},
		{GPU: 5, XID: 48, At: samples[2].At},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("faults\n got %v\nwant %v", got, want)
	}
	if got := DetectGPUFaults(samples[:1], nil); fmt.Sprint(got) != fmt.Sprint([]GPUFault{{GPU: 0, XID: 79, At: samples[0].At}}) {
		t.Fatalf("a first-ever sample: %v", got)
	}

	gpus, need := suspects(samples)
	if fmt.Sprint(gpus) != "[0 1 2 3 5]" || fmt.Sprint(need) != "[1 2 3]" {
		t.Fatalf("suspects %v, need the count before for %v", gpus, need)
	}
	quiet := []agentproto.Sample{sampleAt(0, agentproto.GPUSample{Index: 0, ECCErrors: ecc(0), XIDs: []int{45}}, agentproto.GPUSample{Index: 1})}
	if gpus, need := suspects(quiet); gpus != nil || need != nil {
		t.Fatalf("a healthy round: %v %v", gpus, need)
	}
}
