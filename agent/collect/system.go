package collect

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// System reads the host's CPU, memory, disks, network and load through
// gopsutil. CPU % and the disk and network rates are deltas between two
// samples; the first sample measures from NewSystem.
type System struct {
	now func() time.Time

	mu   sync.Mutex
	prev systemCounters
}

type systemCounters struct {
	at        time.Time
	cpuBusy   float64
	cpuTotal  float64
	disk      map[string]disk.IOCountersStat // by device name (sda1, nvme0n1p2, dm-0)
	netRx     uint64
	netTx     uint64
	haveDisks bool
}

const gib = 1 << 30

// NewSystem takes the first reading the rates of the first sample are measured from.
func NewSystem() *System {
	s := &System{now: time.Now}
	s.prev = s.counters(context.Background(), nil)
	return s
}

func (s *System) Close() error { return nil }

// Inventory sets the hostname, OS, kernel, CPU, memory and disks.
func (s *System) Inventory(ctx context.Context, inv *agentproto.Inventory) error {
	hi, err := host.InfoWithContext(ctx)
	if err != nil {
		return fmt.Errorf("unable to read the host information: %w", err)
	}
	inv.Hostname = hi.Hostname
	inv.OS = strings.TrimSpace(hi.Platform + " " + hi.PlatformVersion)
	if inv.OS == "" {
		inv.OS = hi.OS
	}
	inv.Kernel = hi.KernelVersion
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		inv.CPUModel = strings.TrimSpace(infos[0].ModelName)
	}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil {
		inv.CPUCores = n
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return fmt.Errorf("unable to read the memory size: %w", err)
	}
	inv.MemoryMiB = int64(vm.Total >> 20)
	inv.Disks = []agentproto.Disk{}
	for _, p := range realDisks(ctx) {
		if u, err := disk.UsageWithContext(ctx, p.Mountpoint); err == nil {
			inv.Disks = append(inv.Disks, agentproto.Disk{Mount: p.Mountpoint, TotalGiB: round2(float64(u.Total) / gib)})
		}
	}
	return nil
}

// Sample reads the host figures. A figure that cannot be read stays zero.
func (s *System) Sample(ctx context.Context, out *agentproto.Sample) error {
	parts := realDisks(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.counters(ctx, parts)
	prev := s.prev
	s.prev = cur
	secs := cur.at.Sub(prev.at).Seconds()

	h := &out.Host
	if dt := cur.cpuTotal - prev.cpuTotal; dt > 0 {
		h.CPUPct = round1(clamp((cur.cpuBusy-prev.cpuBusy)/dt*100, 0, 100))
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		h.MemTotalMiB = int64(vm.Total >> 20)
		h.MemUsedMiB = int64((vm.Total - min(vm.Available, vm.Total)) >> 20)
	}
	if l, err := load.AvgWithContext(ctx); err == nil {
		h.Load1 = l.Load1
	}
	h.NetRxBps = rate(prev.netRx, cur.netRx, secs)
	h.NetTxBps = rate(prev.netTx, cur.netTx, secs)
	h.Disks = []agentproto.DiskSample{}
	for _, p := range parts {
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil {
			continue
		}
		d := agentproto.DiskSample{Mount: p.Mountpoint, UsedGiB: round2(float64(u.Used) / gib), TotalGiB: round2(float64(u.Total) / gib)}
		name := deviceName(p.Device)
		if c, ok := cur.disk[name]; ok && prev.haveDisks {
			if pc, ok := prev.disk[name]; ok {
				d.ReadBps = rate(pc.ReadBytes, c.ReadBytes, secs)
				d.WriteBps = rate(pc.WriteBytes, c.WriteBytes, secs)
			}
		}
		h.Disks = append(h.Disks, d)
	}
	return nil
}

func (s *System) counters(ctx context.Context, parts []disk.PartitionStat) systemCounters {
	c := systemCounters{at: s.now()}
	if ts, err := cpu.TimesWithContext(ctx, false); err == nil && len(ts) > 0 {
		t := ts[0]
		c.cpuTotal = t.Total()
		c.cpuBusy = c.cpuTotal - t.Idle - t.Iowait
	}
	if parts == nil {
		parts = realDisks(ctx)
	}
	names := make([]string, 0, len(parts))
	for _, p := range parts {
		names = append(names, deviceName(p.Device))
	}
	if len(names) > 0 {
		if io, err := disk.IOCountersWithContext(ctx, names...); err == nil {
			c.disk, c.haveDisks = io, true
		}
	}
	if nics, err := net.IOCountersWithContext(ctx, true); err == nil {
		for _, n := range nics {
			if virtualNIC(n.Name) {
				continue
			}
			c.netRx += n.BytesRecv
			c.netTx += n.BytesSent
		}
	}
	return c
}

// realDisks are the mounted block devices: pseudo filesystems, bind mounts,
// read-only images (squashfs, snaps) and container layers are left out, and
// a device mounted twice counts once (at its shortest mount point).
func realDisks(ctx context.Context) []disk.PartitionStat {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil
	}
	byDev := map[string]disk.PartitionStat{}
	for _, p := range parts {
		if !strings.HasPrefix(p.Device, "/dev/") || skipFS[p.Fstype] {
			continue
		}
		if strings.HasPrefix(p.Device, "/dev/loop") {
			continue
		}
		if old, ok := byDev[p.Device]; ok && len(old.Mountpoint) <= len(p.Mountpoint) {
			continue
		}
		byDev[p.Device] = p
	}
	out := make([]disk.PartitionStat, 0, len(byDev))
	for _, p := range byDev {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mountpoint < out[j].Mountpoint })
	return out
}

var skipFS = map[string]bool{
	"squashfs": true, "overlay": true, "tmpfs": true, "devtmpfs": true, "iso9660": true, "fuse.lxcfs": true,
	"nsfs": true, "autofs": true, "ramfs": true,
}

// deviceName is the kernel's name of a block device (what /proc/diskstats
// lists): /dev/sda1 → sda1, /dev/mapper/vg-root → dm-0.
func deviceName(dev string) string {
	if real, err := filepath.EvalSymlinks(dev); err == nil {
		dev = real
	}
	return filepath.Base(dev)
}

// virtualNIC tells the loopback and the virtual interfaces of bridges and
// containers, whose traffic also crosses a physical one.
func virtualNIC(name string) bool {
	if name == "lo" {
		return true
	}
	for _, p := range []string{"veth", "docker", "br-", "virbr", "cni", "flannel", "cali", "vxlan", "tunl", "kube-", "weave", "tailscale", "wg"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// rate is bytes per second between two counter readings; a counter that went
// back (a reset, a removed device) gives 0.
func rate(prev, cur uint64, secs float64) float64 {
	if secs <= 0 || cur < prev {
		return 0
	}
	return math.Round(float64(cur-prev) / secs)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
