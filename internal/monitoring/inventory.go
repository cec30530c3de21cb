package monitoring

import (
	"fmt"
	"math"
	"strings"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// normModel reduces a GPU model to letters and digits, without the vendor
// words NVML adds ("NVIDIA GeForce RTX 4090" ~ "RTX 4090").
func normModel(s string) string {
	s = strings.ToLower(s)
	for _, w := range []string{"nvidia", "geforce", "tesla"} {
		s = strings.ReplaceAll(s, w, "")
	}
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// near: within 7 % or 1 GB (NVML and the kernel both report a little less than the label).
func near(reported, declared float64) bool {
	return math.Abs(reported-declared) <= math.Max(1, declared*0.07)
}

// inventoryDifferences compares the record with the report; fields the
// admin left empty are not compared.
func inventoryDifferences(m *store.Machine, inv *agentproto.Inventory) []InventoryDifference {
	diffs := []InventoryDifference{}
	add := func(field, declared, reported string) {
		diffs = append(diffs, InventoryDifference{Field: field, Declared: declared, Reported: reported})
	}
	var models []string
	seen := map[string]bool{}
	var memMiB int64
	for _, g := range inv.GPUs {
		if !seen[g.Model] {
			seen[g.Model] = true
			models = append(models, g.Model)
		}
		if g.MemoryMiB > memMiB {
			memMiB = g.MemoryMiB
		}
	}
	if m.GPUModel != "" && len(inv.GPUs) > 0 {
		match := true
		for _, model := range models {
			if !strings.Contains(normModel(model), normModel(m.GPUModel)) {
				match = false
			}
		}
		if !match {
			add("gpuModel", m.GPUModel, strings.Join(models, ", "))
		}
	}
	if m.GPUCount != len(inv.GPUs) {
		add("gpuCount", fmt.Sprint(m.GPUCount), fmt.Sprint(len(inv.GPUs)))
	}
	if m.GPUMemoryGB > 0 && len(inv.GPUs) > 0 && !near(float64(memMiB)/1024, float64(m.GPUMemoryGB)) {
		add("gpuMemoryGb", fmt.Sprint(m.GPUMemoryGB), fmt.Sprintf("%.1f", float64(memMiB)/1024))
	}
	if v := strings.TrimSpace(m.CUDAVersion); v != "" && inv.CUDAVersion != "" && strings.TrimSpace(inv.CUDAVersion) != v {
		add("cudaVersion", v, inv.CUDAVersion)
	}
	if v := strings.TrimSpace(m.DriverVersion); v != "" && inv.DriverVersion != "" &&
		!(inv.DriverVersion == v || strings.HasPrefix(inv.DriverVersion, v+".")) {
		add("driverVersion", v, inv.DriverVersion)
	}
	if m.CPUCores > 0 && inv.CPUCores > 0 && m.CPUCores != inv.CPUCores {
		add("cpuCores", fmt.Sprint(m.CPUCores), fmt.Sprint(inv.CPUCores))
	}
	if m.MemoryGB > 0 && inv.MemoryMiB > 0 && !near(float64(inv.MemoryMiB)/1024, float64(m.MemoryGB)) {
		add("memoryGb", fmt.Sprint(m.MemoryGB), fmt.Sprintf("%.1f", float64(inv.MemoryMiB)/1024))
	}
	return diffs
}
