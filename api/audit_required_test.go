package api_test

import (
	"context"
	"testing"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// failAudits makes every audit record of the given action (and no other) fail to write.
func failAudits(t *testing.T, e *env, action string) {
	t.Helper()
	_, err := e.st.Pool.Exec(context.Background(), `CREATE OR REPLACE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'audit log unavailable (test)'; END IF;
			RETURN NEW;
		END $$;
		DROP TRIGGER IF EXISTS test_fail_audit ON audit_logs;
		CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION test_fail_audit('`+action+`')`)
	if err != nil {
		t.Fatal(err)
	}
}

// A renewal and a reclaim whose audit record cannot be written do not happen.
func TestLeaseActionsNeedTheirAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	m := addMachine(t, admin, "audit-01", "北京", "H100").Machine
	lease := leaseOne(t, admin, e.fx.tenantA.ID, m.ID)
	var a store.Allocation
	waitFor(t, "the lease active", func() bool {
		admin.must(200, "GET", "/api/admin/allocations/"+lease.ID, nil).decode(t, &a)
		return a.Status == "active"
	})

	failAudits(t, e, "allocation.reclaim")
	if r := admin.do("POST", "/api/admin/allocations/"+a.ID+"/reclaim", nil); r.Status != 500 {
		t.Fatalf("reclaim without its audit record: %d", r.Status)
	}
	failAudits(t, e, "allocation.extend")
	if r := admin.do("POST", "/api/admin/allocations/"+a.ID+"/extend", map[string]any{"months": 2}); r.Status < 500 {
		t.Fatalf("renewal without its audit record: %d", r.Status)
	}
	var after store.Allocation
	admin.must(200, "GET", "/api/admin/allocations/"+a.ID, nil).decode(t, &after)
	if after.Status != "active" || after.Months != 1 || !after.EndAt.Equal(*a.EndAt) {
		t.Fatalf("the lease changed without its audit record: %+v", after)
	}
}

// A bootstrap token works once, and only until it expires.
func TestBootstrapTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	c := addMachine(t, admin, "boot-01", "北京", "RTX 4090")
	if c.ExpiresAt.IsZero() || c.ExpiresAt.Before(c.Machine.CreatedAt.Add(23*3600e9)) {
		t.Fatalf("bootstrap expires at %v", c.ExpiresAt)
	}
	if _, err := e.st.Pool.Exec(context.Background(), `UPDATE machines SET agent_token_expires_at = now() - interval '1 second' WHERE id = $1`, c.Machine.ID); err != nil {
		t.Fatal(err)
	}
	r := e.anon().do("POST", agentproto.PathRegister, agentproto.RegisterRequest{MachineID: c.Machine.ID, BootstrapToken: c.AgentToken, Inventory: inventory4090()})
	if r.Status != 401 {
		t.Fatalf("an expired bootstrap token registered: %d", r.Status)
	}
	if n := auditCount(t, e, "machine.agent_register", false); n != 1 {
		t.Fatalf("%d refused registrations audited", n)
	}
}
