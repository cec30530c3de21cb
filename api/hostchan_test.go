package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// hostAgent speaks the host channel as remotegpu-agent does, so the api's
// side can be tested (and attacked) command by command.
type hostAgent struct {
	t         *testing.T
	e         *env
	machineID string
	key       string
	running   []string // what it tells the api it is working on
}

func newHostAgent(t *testing.T, e *env, a agent) *hostAgent {
	return &hostAgent{t: t, e: e, machineID: a.machineID, key: a.access}
}

func (a *hostAgent) sess() *session { return a.e.agentSession(a.key) }

func (a *hostAgent) poll(wait int) (int, []agentproto.Command) {
	a.t.Helper()
	r := a.sess().do("POST", agentproto.PathCommandsPoll, agentproto.PollRequest{Running: a.running, WaitSeconds: wait})
	if r.Status != 200 {
		return r.Status, nil
	}
	var resp agentproto.PollResponse
	r.decode(a.t, &resp)
	for _, c := range resp.Commands {
		a.running = append(a.running, c.ID)
	}
	return r.Status, resp.Commands
}

// next long-polls until a command of the kind arrives.
func (a *hostAgent) next(kind string) agentproto.Command {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		status, cmds := a.poll(5)
		if status != 200 {
			a.t.Fatalf("poll: %d", status)
		}
		for _, c := range cmds {
			if c.Kind == kind {
				return c
			}
			a.t.Fatalf("got a %s command while waiting for %s", c.Kind, kind)
		}
	}
	a.t.Fatalf("no %s command came", kind)
	return agentproto.Command{}
}

func cmdPath(tmpl, id string) string { return strings.Replace(tmpl, "{id}", id, 1) }

func (a *hostAgent) secret(id string) (int, string) {
	a.t.Helper()
	r := a.sess().do("POST", cmdPath(agentproto.PathCommandSecret, id), nil)
	var s agentproto.SecretResponse
	if r.Status == 200 {
		r.decode(a.t, &s)
	}
	return r.Status, s.Secret
}

func (a *hostAgent) heartbeat(id string) (int, bool) {
	a.t.Helper()
	r := a.sess().do("POST", cmdPath(agentproto.PathCommandHeartbeat, id), agentproto.HeartbeatRequest{Progress: json.RawMessage(`{"step":1}`)})
	var hb agentproto.HeartbeatResponse
	if r.Status == 200 {
		r.decode(a.t, &hb)
	}
	return r.Status, hb.Cancel
}

func (a *hostAgent) succeed(id string, result any) int {
	a.t.Helper()
	raw, _ := json.Marshal(result)
	r := a.sess().do("POST", cmdPath(agentproto.PathCommandResult, id), agentproto.ResultRequest{Status: agentproto.ResultSucceeded, Result: raw})
	if r.Status == 200 {
		a.running = slices.DeleteFunc(a.running, func(s string) bool { return s == id })
	}
	return r.Status
}

// args decodes a command's arguments.
func args[T any](t *testing.T, c agentproto.Command) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(c.Args, &v); err != nil {
		t.Fatalf("args of %s: %v", c.Kind, err)
	}
	return v
}

func auditCount(t *testing.T, e *env, action string, success bool) int {
	t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action = $1 AND success = $2`, action, success).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The admin's password reset goes through the host channel: the machine's
// password changes only once its agent confirmed it applied the new one,
// and the password reaches the agent once, inside its command only.
func TestPasswordResetThroughAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	a := newHostAgent(t, e, addAgent(t, e, admin, "reset-01", "北京"))
	path := "/api/admin/machines/" + a.machineID
	var before api.RevealedPassword
	admin.must(200, "POST", path+"/reveal-password", nil).decode(t, &before)

	var reset api.PasswordReset
	admin.must(202, "POST", path+"/reset-password", nil).decode(t, &reset)
	if reset.Status != "pending" || reset.User != "root" || reset.RequestedAt == nil {
		t.Fatalf("reset with no agent answering: %+v", reset)
	}
	var still api.RevealedPassword
	admin.must(200, "POST", path+"/reveal-password", nil).decode(t, &still)
	if still.Password != before.Password {
		t.Fatal("the password changed before the host applied it")
	}

	cmd := a.next(agentproto.KindSetPassword)
	if args[agentproto.SetPasswordArgs](t, cmd).User != "root" || !cmd.HasSecret || cmd.HeartbeatSeconds < 1 {
		t.Fatalf("command %+v", cmd)
	}
	status, pw := a.secret(cmd.ID)
	if status != 200 || pw == "" || pw == before.Password || strings.Contains(string(cmd.Args), pw) {
		t.Fatalf("secret: %d", status)
	}
	if status, _ := a.secret(cmd.ID); status != 403 {
		t.Fatalf("second secret fetch: %d", status)
	}
	if status, cancel := a.heartbeat(cmd.ID); status != 200 || cancel {
		t.Fatalf("heartbeat: %d cancel=%v", status, cancel)
	}
	if status := a.succeed(cmd.ID, agentproto.SetPasswordResult{User: "root"}); status != 200 {
		t.Fatalf("result: %d", status)
	}
	waitFor(t, "the reset applied", func() bool {
		admin.must(200, "GET", path+"/password-reset", nil).decode(t, &reset)
		return reset.Status == "applied"
	})
	var after api.RevealedPassword
	admin.must(200, "POST", path+"/reveal-password", nil).decode(t, &after)
	if after.Password != pw || reset.AppliedAt == nil || reset.Simulated {
		t.Fatalf("after the host applied it: %+v", reset)
	}
	for action, want := range map[string]int{"machine.reset_password": 1, "agent.command_secret": 1, "machine.password_applied": 1} {
		if n := auditCount(t, e, action, true); n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
	if n := auditCount(t, e, "agent.command_refused", false); n != 1 {
		t.Errorf("%d refusals audited, want 1", n)
	}
	// the password is in no audit record and in no command row
	var leaks int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM audit_logs WHERE detail::text LIKE '%'||$1||'%')
		+ (SELECT count(*) FROM host_commands WHERE args::text LIKE '%'||$1||'%' OR secret_enc IS NOT NULL)`, pw).Scan(&leaks)
	if leaks != 0 {
		t.Fatalf("the password or its sealed copy is still stored %d times", leaks)
	}
}

// TestHostChannelHostile is the hostile-host test: with machine A's agent
// token, and with a token that has been rotated away, nothing of machine B
// or of a finished command can be read or done, and every refusal is
// audited.
func TestHostChannelHostile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	a := newHostAgent(t, e, addAgent(t, e, admin, "hostile-a", "北京"))
	b := newHostAgent(t, e, addAgent(t, e, admin, "hostile-b", "北京"))
	admin.must(202, "POST", "/api/admin/machines/"+b.machineID+"/reset-password", nil)
	cmdB := b.next(agentproto.KindSetPassword)
	admin.must(202, "POST", "/api/admin/machines/"+a.machineID+"/reset-password", nil)
	cmdA := a.next(agentproto.KindSetPassword)

	// A sees only its own commands, whatever it asks for
	r := a.sess().do("POST", agentproto.PathCommandsPoll+"?machineId="+b.machineID, map[string]any{"running": []string{}, "waitSeconds": 0,
		"machineId": b.machineID})
	if r.Status != 200 && r.Status != 400 {
		t.Fatalf("poll naming B: %d", r.Status)
	}
	if r.Status == 200 && strings.Contains(string(r.Data), cmdB.ID) {
		t.Fatal("A was handed B's command")
	}
	refusals := auditCount(t, e, "agent.command_refused", false)
	// B's command through A's token: its secret, a heartbeat, a result
	if status, _ := a.secret(cmdB.ID); status != 404 {
		t.Errorf("A fetched B's secret: %d", status)
	}
	if status, _ := a.heartbeat(cmdB.ID); status != 404 {
		t.Errorf("A heartbeat B's command: %d", status)
	}
	if status := a.succeed(cmdB.ID, agentproto.SetPasswordResult{User: "root"}); status != 404 {
		t.Errorf("A completed B's command: %d", status)
	}
	// its own command: the secret once, the result once; nothing after
	if status, _ := a.secret(cmdA.ID); status != 200 {
		t.Fatalf("A's own secret: %d", status)
	}
	if status, _ := a.secret(cmdA.ID); status != 403 {
		t.Errorf("A's secret twice: %d", status)
	}
	if status := a.succeed(cmdA.ID, agentproto.SetPasswordResult{User: "root"}); status != 200 {
		t.Fatalf("A's result: %d", status)
	}
	if status := a.succeed(cmdA.ID, agentproto.SetPasswordResult{User: "root"}); status != 409 {
		t.Errorf("A's result twice: %d", status)
	}
	if status, _ := a.secret(cmdA.ID); status != 403 {
		t.Errorf("a secret after the command ended: %d", status)
	}
	if got := auditCount(t, e, "agent.command_refused", false) - refusals; got != 6 {
		t.Errorf("%d refusals audited, want 6", got)
	}
	// B was not disturbed: its command is still its own to answer
	if status, _ := b.secret(cmdB.ID); status != 200 {
		t.Fatalf("B's secret after A's tries: %d", status)
	}

	// A's lease ends: its cleanup rotates the agent key, after which the
	// old token (which the tenant, root on the host, could have copied) is
	// refused everywhere, and audited.
	lease := leaseOne(t, admin, e.fx.tenantA.ID, a.machineID)
	startLease(t, a)
	admin.must(202, "POST", "/api/admin/allocations/"+lease.ID+"/reclaim", nil)
	oldKey := finishCleanup(t, a)
	waitCleaned(t, admin, a.machineID)
	old := e.agentSession(oldKey)
	denied := auditCount(t, e, "agent.auth_refused", false)
	doc := api.New(api.Deps{}).API().OpenAPI()
	agentOps := 0
	for path, item := range doc.Paths {
		for _, mo := range []struct {
			method string
			sec    []map[string][]string
		}{{http.MethodGet, secOf(item.Get)}, {http.MethodPost, secOf(item.Post)}, {http.MethodPut, secOf(item.Put)}} {
			if len(mo.sec) == 0 || mo.sec[0]["agentToken"] == nil {
				continue
			}
			agentOps++
			p := strings.ReplaceAll(path, "{id}", cmdA.ID)
			if r := old.do(mo.method, p, map[string]any{}); r.Status != 401 {
				t.Errorf("%s %s with the rotated-away token: %d", mo.method, path, r.Status)
			}
			if r := e.anon().do(mo.method, p, map[string]any{}); r.Status != 401 {
				t.Errorf("%s %s without a token: %d", mo.method, path, r.Status)
			}
		}
	}
	if agentOps < 6 {
		t.Fatalf("only %d agent operations in the document", agentOps)
	}
	// every call with the old token is audited (calls with no token at all are not: anyone can make them)
	if got := auditCount(t, e, "agent.auth_refused", false) - denied; got != agentOps {
		t.Errorf("%d token refusals audited, want %d", got, agentOps)
	}
	// the new key works
	if status, _ := a.poll(0); status != 200 {
		t.Fatalf("poll with the new key: %d", status)
	}
}

func secOf(op *huma.Operation) []map[string][]string {
	if op == nil {
		return nil
	}
	return op.Security
}

// leaseOne leases one machine to a tenant for a month.
func leaseOne(t *testing.T, admin *session, tenantID, machineID string) store.Allocation {
	t.Helper()
	var created []store.Allocation
	admin.must(201, "POST", "/api/admin/allocations", map[string]any{"tenantId": tenantID, "machineIds": []string{machineID}, "months": 1}).decode(t, &created)
	return created[0]
}

// waitCleaned waits until the machine's cleanup is over and it is back online.
func waitCleaned(t *testing.T, admin *session, machineID string) {
	t.Helper()
	waitFor(t, "the machine back online", func() bool {
		var m store.Machine // fresh each time: an absent cleanup leaves the field untouched
		admin.must(200, "GET", "/api/admin/machines/"+machineID, nil).decode(t, &m)
		return m.Status == "online" && m.Cleanup == nil
	})
}

// startLease answers what a new lease asks of its host: a new password,
// then the tenant's keys.
func startLease(t *testing.T, a *hostAgent) {
	t.Helper()
	c := a.next(agentproto.KindSetPassword)
	if status, _ := a.secret(c.ID); status != 200 {
		t.Fatalf("start password secret: %d", status)
	}
	a.succeed(c.ID, agentproto.SetPasswordResult{User: "root"})
	a.succeed(a.next(agentproto.KindSyncSSHKeys).ID, agentproto.SyncSSHKeysResult{User: "root"})
}

// finishCleanup answers every end-of-lease command as a healthy host would
// and returns the agent key it had before the rotation. The key is rotated
// right after the tenant's work stops, so the new password is handed out
// only to the new key.
func finishCleanup(t *testing.T, a *hostAgent) string {
	t.Helper()
	c := a.next(agentproto.KindStopTenant)
	if st := args[agentproto.StopTenantArgs](t, c); st.User != "root" || st.TenantID == "" || st.AllocationID == "" {
		t.Fatalf("stop_tenant args %+v", st)
	}
	a.succeed(c.ID, agentproto.StopTenantResult{Containers: 1, Processes: 2})
	c = a.next(agentproto.KindRotateAgentKey)
	status, key := a.secret(c.ID)
	if status != 200 || !strings.HasPrefix(key, "rgk_") {
		t.Fatalf("new agent key: %d", status)
	}
	old := a.key
	a.key = key
	if status := a.succeed(c.ID, agentproto.RotateAgentKeyResult{}); status != 200 {
		t.Fatalf("rotation result with the new key: %d", status)
	}
	c = a.next(agentproto.KindSyncSSHKeys)
	if k := args[agentproto.SyncSSHKeysArgs](t, c); len(k.Keys) != 0 {
		t.Fatalf("keys left on the machine at the end of the lease: %+v", k)
	}
	a.succeed(c.ID, agentproto.SyncSSHKeysResult{User: "root", File: "/root/.ssh/authorized_keys"})
	c = a.next(agentproto.KindSetPassword)
	if status, _ := (&hostAgent{t: t, e: a.e, key: old}).secret(c.ID); status != 401 {
		t.Fatalf("the password secret with the rotated-away key: %d", status)
	}
	if status, _ := a.secret(c.ID); status != 200 {
		t.Fatalf("password secret: %d", status)
	}
	a.succeed(c.ID, agentproto.SetPasswordResult{User: "root"})
	return old
}

// A machine whose host cannot come back is marked reinstalled: the cleanup
// ends with its steps skipped, the agent's keys are revoked (the old token
// is refused) and the machine waits offline for a new registration.
func TestMarkReinstalled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	a := newHostAgent(t, e, addAgent(t, e, admin, "reinstall-01", "北京"))
	admin.must(409, "POST", "/api/admin/machines/"+a.machineID+"/reinstalled", nil) // nothing to end yet
	lease := leaseOne(t, admin, e.fx.tenantA.ID, a.machineID)
	startLease(t, a)
	admin.must(202, "POST", "/api/admin/allocations/"+lease.ID+"/reclaim", nil)
	a.next(agentproto.KindStopTenant) // the host got the first step and went silent

	var m store.Machine
	admin.must(200, "POST", "/api/admin/machines/"+a.machineID+"/reinstalled", map[string]any{"note": "disk replaced, OS reinstalled"}).decode(t, &m)
	if m.Status != "offline" || m.Cleanup != nil {
		t.Fatalf("machine after the reinstall mark %+v", m)
	}
	var al store.Allocation
	admin.must(200, "GET", "/api/admin/allocations/"+lease.ID, nil).decode(t, &al)
	if al.CleanupStatus != "reinstalled" {
		t.Fatalf("cleanup %s", al.CleanupStatus)
	}
	for _, s := range al.HostSteps {
		if s.State != "skipped" || s.Confirmed {
			t.Fatalf("step %+v, want skipped", s)
		}
	}
	if status, _ := a.poll(0); status != 401 {
		t.Fatalf("the reinstalled machine's old agent token: %d", status)
	}
	if n := auditCount(t, e, "machine.reinstalled", true); n != 1 {
		t.Fatalf("%d reinstall audit entries", n)
	}
	admin.must(409, "POST", "/api/admin/machines/"+a.machineID+"/reinstalled", nil)
	// a fresh registration brings it back, and it can be leased again
	var boot api.AgentBootstrap
	admin.must(200, "POST", "/api/admin/machines/"+a.machineID+"/agent-token", nil).decode(t, &boot)
	e.anon().must(200, "POST", agentproto.PathRegister, agentproto.RegisterRequest{MachineID: a.machineID, BootstrapToken: boot.AgentToken,
		Inventory: inventory4090()})
}
