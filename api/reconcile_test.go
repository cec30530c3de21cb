package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/failpoint"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// childAPIEnv makes the test binary serve the api instead of running tests:
// the reconciler test kills that process halfway through a request.
const childAPIEnv = "REMOTEGPU_TEST_CHILD_API"

func TestMain(m *testing.M) {
	if os.Getenv(childAPIEnv) != "" {
		if err := serveChildAPI(os.Getenv(childAPIEnv)); err != nil {
			os.Stderr.WriteString("child api: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveChildAPI runs the api from the environment's configuration, as
// `remotegpu api` does, and writes its address into addrFile.
func serveChildAPI(addrFile string) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	box, err := secrets.New(cfg.SecretsKey)
	if err != nil {
		return err
	}
	opts, err := payloadcodec.ClientOptions(cfg, nil)
	if err != nil {
		return err
	}
	c, err := client.Dial(opts)
	if err != nil {
		return err
	}
	srv := api.New(api.Deps{Config: cfg, Store: st, Temporal: c, Secrets: box})
	srv.Start(context.Background()) // as serve does: the host channel listens from the start
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile, []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	return http.Serve(ln, srv.Handler())
}

// startChildAPI starts an api process over the test's database and
// Temporal, with the named failpoints armed; it returns its URL and the
// process, whose exit the caller waits for.
func startChildAPI(t *testing.T, e *env, failpoints string) (string, *exec.Cmd, chan error) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childAPIEnv+"="+addrFile,
		failpoint.Env+"="+failpoints,
		"DATABASE_URL="+e.st.Pool.Config().ConnString(),
		"JWT_SECRET="+string(e.cfg.JWTSecret),
		"SECRETS_KEY="+base64.StdEncoding.EncodeToString(e.cfg.SecretsKey),
		"TEMPORAL_PAYLOAD_KEY="+base64.StdEncoding.EncodeToString(e.cfg.TemporalPayloadKey),
		"TEMPORAL_ADDRESS="+e.cfg.TemporalAddress,
		"TEMPORAL_NAMESPACE="+e.cfg.TemporalNamespace,
		"TEMPORAL_TASK_QUEUE="+e.cfg.TemporalTaskQueue,
		"LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(b) > 0 {
			return "http://" + string(b), cmd, exited
		}
		select {
		case err := <-exited:
			t.Fatalf("the child api exited before listening: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the child api did not start")
		}
	}
}

// post sends an authenticated JSON request to base and returns the status
// (0 when the connection broke).
func post(t *testing.T, base, token, path string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func reconcile(t *testing.T, e *env) activities.ReconcileResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: e.cfg.TemporalTaskQueue},
		workflows.Reconcile, activities.ReconcileInput{})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.ReconcileResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return res
}

// TestReconcilerRepairsAKilledAPI kills the api between the commit of a
// lease and the start of its workflow (a failpoint exits the process
// there), then shows the reconciler giving the lease its workflow; it also
// restarts a terminated cleanup and syncs a machine whose SSH keys lag.
func TestReconcilerRepairsAKilledAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	a := newHostAgent(t, e, addAgent(t, e, admin, "reconcile-01", "北京"))
	ctx := context.Background()

	base, _, exited := startChildAPI(t, e, "allocation-before-workflow-start")
	status, body := post(t, base, "", "/api/auth/login", map[string]any{"username": "admin1", "password": testPassword})
	if status != 200 {
		t.Fatalf("login on the child api: %d %s", status, body)
	}
	var login struct {
		Data api.TokenPair `json:"data"`
	}
	_ = json.Unmarshal(body, &login)
	if status, _ := post(t, base, login.Data.AccessToken, "/api/admin/allocations", map[string]any{"tenantId": e.fx.tenantA.ID,
		"machineIds": []string{a.machineID}, "months": 2}); status != 0 {
		t.Fatalf("the request survived the failpoint: %d", status)
	}
	var exitErr *exec.ExitError
	if err := <-exited; !errors.As(err, &exitErr) || exitErr.ExitCode() != failpoint.ExitCode {
		t.Fatalf("the child api ended with %v, want exit %d", err, failpoint.ExitCode)
	}
	// committed, but nothing owns it
	var id, st string
	if err := e.st.Pool.QueryRow(ctx, `SELECT id, status FROM allocations WHERE machine_id = $1`, a.machineID).Scan(&id, &st); err != nil || st != "pending" {
		t.Fatalf("allocation after the crash: %q %v", st, err)
	}
	_, err := e.temporal.DescribeWorkflowExecution(ctx, workflows.AllocationWorkflowID(id), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("the lease has a workflow already: %v", err)
	}

	if res := reconcile(t, e); res.AllocationsStarted != 1 {
		t.Fatalf("reconcile %+v", res)
	}
	var al store.Allocation
	waitFor(t, "the lease active", func() bool {
		admin.must(200, "GET", "/api/admin/allocations/"+id, nil).decode(t, &al)
		return al.Status == "active"
	})
	startLease(t, a)
	if res := reconcile(t, e); res.AllocationsStarted != 0 || res.KeySyncsSignalled != 0 {
		t.Fatalf("a second reconcile repaired again: %+v", res)
	}

	// a key added behind the lease's back (no signal): the machine lags
	// behind the tenant's keys and the reconciler syncs it
	if err := e.st.CreateSSHKey(ctx, e.fx.tenantA.ID, e.fx.ownerA.ID, &store.SSHKey{Name: "late", KeyType: "ssh-ed25519",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO7wQxF0b3m3aZ7d8Gk2mJp1ZL9nYv0p8m6t1Qm2yR4d", Fingerprint: "SHA256:late"}); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(t, e); res.KeySyncsSignalled != 1 {
		t.Fatalf("reconcile after a key change %+v", res)
	}
	sync := a.next(agentproto.KindSyncSSHKeys)
	if k := args[agentproto.SyncSSHKeysArgs](t, sync); len(k.Keys) != 1 || k.AllocationID != id {
		t.Fatalf("sync %+v", k)
	}
	a.succeed(sync.ID, agentproto.SyncSSHKeysResult{User: "root", Keys: 1})

	// a cleanup terminated by an operator is started again
	admin.must(202, "POST", "/api/admin/allocations/"+id+"/reclaim", nil)
	a.next(agentproto.KindStopTenant)
	if err := e.temporal.TerminateWorkflow(ctx, workflows.LeaseCleanupWorkflowID(id), "", "test: operator mistake"); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(t, e); res.CleanupsStarted != 1 {
		t.Fatalf("reconcile after the cleanup was terminated %+v", res)
	}
	finishCleanupFrom(t, a)
	waitCleaned(t, admin, a.machineID)
}

// finishCleanupFrom answers the cleanup's commands when the agent may
// already hold the first one (from a run that was terminated).
func finishCleanupFrom(t *testing.T, a *hostAgent) {
	t.Helper()
	a.running = nil // forget what the terminated run handed out: the new run's commands come anew
	finishCleanup(t, a)
}
