package fleet

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cfg := Config{Catalog: DefaultCatalog, BaseDomain: "gpu.example.com"}
	s := Spec{Name: " GPU-BJ-01 ", Region: "北京", GPUModel: "rtx 4090", GPUMemoryGB: 24, GPUCount: 8}
	if errs := s.Normalize(cfg, true); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if s.SSHHost != "gpu-bj-01.beijing.ssh.gpu.example.com" || s.SSHPort != 22 || s.SSHUser != "root" || len(s.SSHPassword) < 12 ||
		s.GPUModel != "RTX 4090" || s.ContainerDomainPrefix != "gpu-bj-01" || s.Name != "GPU-BJ-01" {
		t.Fatalf("normalized %+v", s)
	}
	bad := Spec{Name: "bad name", Region: "火星", GPUMemoryGB: 0, GPUCount: 100, CUDAVersion: "twelve", InternalIP: "10.0.0.300", SSHPort: 70000, SSHPassword: "short"}
	errs := bad.Normalize(cfg, true)
	fields := map[string]bool{}
	for _, e := range errs {
		fields[e.Location] = true
	}
	for _, f := range []string{"name", "region", "gpuModel", "gpuMemoryGb", "gpuCount", "cudaVersion", "internalIp", "sshPort", "sshPassword"} {
		if !fields[f] {
			t.Errorf("no error for %s: %v", f, errs)
		}
	}
	edit := Spec{Name: "m1", Region: "beijing", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHPassword: "x"}
	if errs := edit.Normalize(cfg, false); len(errs) != 2 { // no host, short password, nothing generated
		t.Fatalf("edit errors %v", errs)
	}
	if got := SSHCommand("root", "h.example", 2222); !strings.Contains(got, "-p 2222") {
		t.Fatal(got)
	}
	if r, err := ParseRegions("bj:北京, sh:上海"); err != nil || len(r) != 2 || r[1].Code != "sh" {
		t.Fatalf("%v %v", r, err)
	}
}
