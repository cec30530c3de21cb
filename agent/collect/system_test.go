package collect

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Against the real host: the figures must be sane.
func TestSystemRealHost(t *testing.T) {
	ctx := context.Background()
	s := NewSystem()
	var inv agentproto.Inventory
	if err := s.Inventory(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if inv.Hostname != host || inv.Kernel == "" || inv.OS == "" || inv.CPUCores < 1 || inv.MemoryMiB < 256 {
		t.Errorf("inventory = %+v", inv)
	}
	if len(inv.Disks) == 0 {
		t.Errorf("no disk found")
	}
	for _, d := range inv.Disks {
		if d.Mount == "" || d.TotalGiB <= 0 {
			t.Errorf("disk %+v", d)
		}
	}

	// Some work for the CPU and the disk between the two readings.
	f, err := os.CreateTemp("", "agent-system-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	buf := make([]byte, 1<<20)
	for range 8 {
		_, _ = f.Write(buf)
	}
	_ = f.Sync()
	_ = f.Close()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}

	for round := range 2 {
		var smp agentproto.Sample
		if err := s.Sample(ctx, &smp); err != nil {
			t.Fatal(err)
		}
		h := smp.Host
		if h.CPUPct < 0 || h.CPUPct > 100 || h.MemTotalMiB != inv.MemoryMiB || h.MemUsedMiB <= 0 || h.MemUsedMiB > h.MemTotalMiB ||
			h.Load1 < 0 || h.NetRxBps < 0 || h.NetTxBps < 0 {
			t.Errorf("round %d: host = %+v", round, h)
		}
		if round == 0 && h.CPUPct == 0 {
			t.Errorf("CPU %% is 0 after a busy loop")
		}
		if len(h.Disks) != len(inv.Disks) {
			t.Errorf("round %d: %d disks, inventory has %d", round, len(h.Disks), len(inv.Disks))
		}
		for _, d := range h.Disks {
			if d.UsedGiB < 0 || d.UsedGiB > d.TotalGiB || d.ReadBps < 0 || d.WriteBps < 0 {
				t.Errorf("disk %+v", d)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRateAndNICs(t *testing.T) {
	if rate(100, 300, 2) != 100 || rate(300, 100, 2) != 0 || rate(1, 2, 0) != 0 {
		t.Error("rate")
	}
	for name, virtual := range map[string]bool{"lo": true, "eth0": false, "ens5": false, "veth12ab": true, "docker0": true, "br-1a2b": true, "ib0": false} {
		if virtualNIC(name) != virtual {
			t.Errorf("virtualNIC(%q) = %v", name, !virtual)
		}
	}
}
