package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

type machinePage struct {
	List  []store.Machine `json:"list"`
	Total int             `json:"total"`
}

func addMachine(t *testing.T, admin *session, name, region, gpu string) api.CreatedMachine {
	t.Helper()
	var c api.CreatedMachine
	admin.must(201, "POST", "/api/admin/machines", map[string]any{"name": name, "region": region, "gpuModel": gpu,
		"gpuMemoryGb": 24, "gpuCount": 8, "cpuCores": 64, "memoryGb": 512, "diskGb": 4000}).decode(t, &c)
	return c
}

func TestMachines(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	c := addMachine(t, admin, "bj-4090-01", "北京", "RTX 4090")
	m := c.Machine
	if m.SSHHost != "bj-4090-01.beijing.ssh.gpu.test" || m.SSHPort != 22 || m.SSHUser != "root" || m.SSHPassword != store.MaskedPassword ||
		m.Status != "online" || m.AllocationStatus != "unallocated" || !m.AgentTokenIssued {
		t.Fatalf("created %+v", m)
	}
	if !strings.HasPrefix(c.AgentToken, "rga_") || !strings.Contains(c.InstallCommand, c.AgentToken) {
		t.Fatalf("bootstrap %+v", c.AgentBootstrap)
	}
	// the password is stored encrypted, and the token only as a hash
	var enc, tokenHash []byte
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT ssh_password_enc, agent_token_hash FROM machines WHERE id = $1`, m.ID).Scan(&enc, &tokenHash); err != nil {
		t.Fatal(err)
	}
	var revealed api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reveal-password", nil).decode(t, &revealed)
	if len(revealed.Password) < 12 || strings.Contains(string(enc), revealed.Password) || strings.Contains(string(tokenHash), c.AgentToken) {
		t.Fatal("password or token stored in clear")
	}
	if revealed.Command != "ssh root@bj-4090-01.beijing.ssh.gpu.test" {
		t.Fatalf("command %q", revealed.Command)
	}

	// validation names every bad field; duplicates are 409
	r := admin.must(400, "POST", "/api/admin/machines", map[string]any{"name": "bad name", "region": "火星", "gpuModel": "", "gpuMemoryGb": 0, "gpuCount": 0})
	for _, f := range []string{"body.name", "body.region", "body.gpuModel", "body.gpuMemoryGb", "body.gpuCount"} {
		if !strings.Contains(string(r.Data), f) {
			t.Errorf("400 lacks %s: %s", f, r.Data)
		}
	}
	admin.must(409, "POST", "/api/admin/machines", map[string]any{"name": "BJ-4090-01", "region": "北京", "gpuModel": "RTX 4090", "gpuMemoryGb": 24, "gpuCount": 8})

	addMachine(t, admin, "cq-5090-01", "重庆", "RTX 5090")
	addMachine(t, admin, "cq-5090-02", "chongqing", "RTX 5090")
	var page machinePage
	admin.must(200, "GET", "/api/admin/machines?region=重庆&sortBy=name&order=desc", nil).decode(t, &page)
	if page.Total != 2 || page.List[0].Name != "cq-5090-02" {
		t.Fatalf("region filter %+v", page)
	}
	admin.must(200, "GET", "/api/admin/machines?gpuModel=RTX%204090&allocationStatus=unallocated&keyword=4090", nil).decode(t, &page)
	if page.Total != 1 || page.List[0].ID != m.ID {
		t.Fatalf("filters %+v", page)
	}

	// edit, maintenance with its record, delete
	var upd store.Machine
	admin.must(200, "PUT", "/api/admin/machines/"+m.ID, map[string]any{"name": "bj-4090-01", "region": "北京", "room": "A-3", "gpuModel": "RTX 4090",
		"gpuMemoryGb": 24, "gpuCount": 4, "status": "offline"}).decode(t, &upd)
	if upd.GPUCount != 4 || upd.Room != "A-3" || upd.Status != "offline" || upd.SSHHost != m.SSHHost {
		t.Fatalf("updated %+v", upd)
	}
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/maintenance", map[string]any{"reason": "更换风扇"})
	admin.must(409, "POST", "/api/admin/machines/"+m.ID+"/maintenance", map[string]any{"reason": "again"})
	admin.must(200, "GET", "/api/admin/machines?status=maintenance", nil).decode(t, &page)
	if page.Total != 1 {
		t.Fatalf("maintenance filter %+v", page)
	}
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/maintenance/end", nil)
	admin.must(409, "POST", "/api/admin/machines/"+m.ID+"/maintenance/end", nil)
	var recs struct {
		List []store.MaintenanceRecord `json:"list"`
	}
	admin.must(200, "GET", "/api/admin/machines/maintenance-records?machineId="+m.ID, nil).decode(t, &recs)
	if len(recs.List) != 1 || recs.List[0].Reason != "更换风扇" || recs.List[0].EndedAt == nil || recs.List[0].StartedByName != "admin1" || recs.List[0].PreviousStatus != "offline" {
		t.Fatalf("records %+v", recs)
	}
	admin.must(200, "GET", "/api/admin/machines/"+m.ID, nil).decode(t, &upd)
	if upd.Status != "offline" {
		t.Fatalf("status after maintenance %q", upd.Status)
	}
	admin.must(200, "DELETE", "/api/admin/machines/"+m.ID, nil)
	admin.must(404, "GET", "/api/admin/machines/"+m.ID, nil)
	// the name is free again
	addMachine(t, admin, "bj-4090-01", "北京", "RTX 4090")

	// audit: reveals are recorded, without the password
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = 'machine.reveal_password'
		AND detail::text NOT LIKE '%'||$1||'%'`, revealed.Password).Scan(&n); err != nil || n != 1 {
		t.Fatalf("reveal audit rows = %d, %v", n, err)
	}
}
