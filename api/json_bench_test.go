package api

import (
	"io"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// A page of the machine list as the api encodes it, with the standard
// library's encoder (Huma's default) and with the one the api uses:
//
//	go test -run '^$' -bench BenchmarkEncodeMachinePage -benchmem ./api/
func machinePage() Envelope[Page[Machine]] {
	util := 42.5
	list := make([]Machine, 20)
	for i := range list {
		list[i] = Machine{ID: "0b8f3c1e-6a2d-4f5e-9c7b-1d2e3f4a5b6c", Name: "gpu-node-0001", Region: "北京", Room: "A-01",
			GPUModel: "NVIDIA A100 80GB", GPUMemoryGB: 80, GPUCount: 8, CUDAVersion: "12.4", DriverVersion: "550.54.15",
			CPUModel: "AMD EPYC 7763", CPUCores: 128, MemoryGB: 1024, DiskGB: 8000, InternalIP: "10.0.0.1", SSHHost: "10.0.0.1",
			SSHPort: 22, ContainerDomainPrefix: "node1", SSHUser: "root", SSHPassword: "******", Status: "online",
			AllocationStatus: "allocated", GPUUtil: &util, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	}
	return Envelope[Page[Machine]]{Data: Page[Machine]{List: list, Total: 1000, Page: 3, PageSize: 20}}
}

func benchEncode(b *testing.B, f huma.Format) {
	v := machinePage()
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Marshal(io.Discard, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMachinePageStd(b *testing.B)  { benchEncode(b, huma.DefaultJSONFormat) }
func BenchmarkEncodeMachinePageFast(b *testing.B) { benchEncode(b, jsonFormat) }
