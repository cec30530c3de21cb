package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

// hostSandbox is a GPU host for the test: this machine, with /etc replaced
// by a copy in a private mount namespace, so a real local user can be
// created and its password changed by the real agent with chpasswd without
// touching this machine's accounts.
type hostSandbox struct {
	t        *testing.T
	dir      string
	user     string
	uid      int
	home     string
	agentBin string
}

func newHostSandbox(t *testing.T) *hostSandbox {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Fatal("this test creates a user in a private mount namespace: run it as root on Linux (make test does)")
	}
	for _, tool := range []string{"unshare", "useradd", "chpasswd", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: install util-linux, passwd and perl (Debian has them by default)", tool)
		}
	}
	s := &hostSandbox{t: t, dir: t.TempDir(), uid: 61000 + mrand.IntN(3000)}
	s.user = fmt.Sprintf("rgpu%d", s.uid)
	s.home = filepath.Join(s.dir, "home", s.user)
	if out, err := exec.Command("cp", "-a", "/etc", filepath.Join(s.dir, "etc")).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc: %v %s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(s.home), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := s.command("useradd", "-m", "-d", s.home, "-u", fmt.Sprint(s.uid), "-U", "-s", "/bin/sh", s.user).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	s.agentBin = agentBinary(t)
	return s
}

// command runs name inside a private mount namespace where /etc is the sandbox's copy.
func (s *hostSandbox) command(name string, args ...string) *exec.Cmd {
	script := `mount --bind "$0" /etc && exec "$@"`
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, filepath.Join(s.dir, "etc"), name}, args...)...)
}

// shadowHash is the user's password hash in the sandbox's /etc/shadow.
func (s *hostSandbox) shadowHash() string {
	s.t.Helper()
	f, err := os.Open(filepath.Join(s.dir, "etc", "shadow"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if parts := strings.Split(sc.Text(), ":"); len(parts) > 1 && parts[0] == s.user {
			return parts[1]
		}
	}
	s.t.Fatalf("%s is not in the sandbox's shadow file", s.user)
	return ""
}

// passwordIs checks a password against the shadow hash with the C library's crypt.
func (s *hostSandbox) passwordIs(pw string) bool {
	s.t.Helper()
	// "--": a generated password may start with "-", which perl would read as a switch
	out, err := exec.Command("perl", "-e", `print crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? "yes" : "no"`, "--", pw, s.shadowHash()).Output()
	if err != nil {
		s.t.Fatalf("perl crypt: %v", err)
	}
	return string(out) == "yes"
}

func (s *hostSandbox) authorizedKeys() string {
	b, err := os.ReadFile(filepath.Join(s.home, ".ssh", "authorized_keys"))
	if err != nil {
		return ""
	}
	return string(b)
}

// startAgent runs the real agent inside the sandbox until stop is called.
func (s *hostSandbox) startAgent(url, machineID, bootstrap string) (stop func()) {
	s.t.Helper()
	args := []string{"--url", url, "--machine-id", machineID, "--state-dir", filepath.Join(s.dir, "state"), "--gpu-source=simulated",
		"--sim-gpus", "8", "--interval", "1s", "--kill-grace", "1s", "--docker-host", "unix://" + filepath.Join(s.dir, "no-docker.sock"),
		"--log-level", "debug"}
	if bootstrap != "" {
		args = append(args, "--bootstrap-token", bootstrap)
	}
	cmd := s.command(s.agentBin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if s.t.Failed() {
			s.t.Logf("agent log:\n%s", logs.String())
		}
	}
	s.t.Cleanup(stop)
	return stop
}

// agentBinary is bin/remotegpu-agent (make test builds it), or one built now.
func agentBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REMOTEGPU_AGENT_BIN"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../bin/remotegpu-agent"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "remotegpu-agent")
	if out, err := exec.Command("go", "build", "-o", p, "../cmd/remotegpu-agent").CombinedOutput(); err != nil {
		t.Fatalf("building the agent: %v %s", err, out)
	}
	return p
}

// TestLeaseEndsCleanOnARealHost runs the real agent, with a real local user
// (in a private mount namespace), through a whole lease: the tenant's key
// lands in the user's authorized_keys when the lease starts; the lease is
// reclaimed while the agent is stopped, so the machine waits in maintenance
// with nothing done; when the agent comes back the tenant's process is
// killed, the key removed, the password changed with chpasswd (checked
// against /etc/shadow) and the agent key rotated, and the machine is back
// online.
func TestLeaseEndsCleanOnARealHost(t *testing.T) {
	t.Parallel()
	host := newHostSandbox(t)
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	owner := e.login("owner-a")
	ctx := context.Background()

	var c api.CreatedMachine
	admin.must(201, "POST", "/api/admin/machines", map[string]any{"name": "real-host-01", "region": "北京", "gpuModel": "A100 80G",
		"gpuMemoryGb": 80, "gpuCount": 8, "sshUser": host.user}).decode(t, &c)
	m := c.Machine
	stop := host.startAgent(e.srv.URL, m.ID, c.AgentToken)
	waitFor(t, "the agent registered", func() bool {
		st, err := e.st.AgentState(ctx, m.ID)
		return err == nil && st.RegisteredAt != nil
	})

	key := newPublicKey(t, "alice@laptop")
	owner.must(201, "POST", "/api/customer/ssh-keys", map[string]any{"name": "laptop", "publicKey": key})
	keyBody := strings.Fields(key)[1]
	lease := leaseOne(t, admin, e.fx.tenantA.ID, m.ID)
	waitFor(t, "the tenant's key in authorized_keys", func() bool { return strings.Contains(host.authorizedKeys(), keyBody) })
	if !strings.Contains(host.authorizedKeys(), "# BEGIN remotegpu") {
		t.Fatalf("authorized_keys without the managed block:\n%s", host.authorizedKeys())
	}
	// a key the customer put there by hand is theirs: the platform leaves it
	own := newPublicKey(t, "own@host")
	f, err := os.OpenFile(filepath.Join(host.home, ".ssh", "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(own + "\n")
	f.Close()

	// the tenant's process on the host, running as the login user
	sleeper := exec.Command("sleep", "600")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(host.uid), Gid: uint32(host.uid)}}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(exited) }()
	t.Cleanup(func() { _ = sleeper.Process.Kill() })

	var before api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reveal-password", nil).decode(t, &before)
	oldKey := agentKeyOf(t, host)

	// The agent is away when the lease ends: the lease ends all the same,
	// the machine waits in maintenance, nothing happens on the host.
	stop()
	admin.must(202, "POST", "/api/admin/allocations/"+lease.ID+"/reclaim", map[string]any{"reason": "end of project"})
	var al store.Allocation
	waitFor(t, "the lease reclaimed", func() bool {
		admin.must(200, "GET", "/api/admin/allocations/"+lease.ID, nil).decode(t, &al)
		return al.Status == "reclaimed"
	})
	var held store.Machine
	admin.must(200, "GET", "/api/admin/machines/"+m.ID, nil).decode(t, &held)
	if held.Status != "maintenance" || held.Cleanup == nil || al.CleanupStatus != "running" {
		t.Fatalf("machine %+v, lease cleanup %s", held, al.CleanupStatus)
	}
	select {
	case <-exited:
		t.Fatal("the tenant's process died while no agent ran")
	default:
	}
	if !strings.Contains(host.authorizedKeys(), keyBody) {
		t.Fatal("the key left the host while no agent ran")
	}

	// The agent comes back: every step runs and is confirmed.
	host.startAgent(e.srv.URL, m.ID, "")
	waitCleaned(t, admin, m.ID)
	admin.must(200, "GET", "/api/admin/allocations/"+lease.ID, nil).decode(t, &al)
	if al.CleanupStatus != "done" {
		t.Fatalf("cleanup %s, steps %+v", al.CleanupStatus, al.HostSteps)
	}
	for _, s := range al.HostSteps {
		if !s.Confirmed || s.State != "confirmed" {
			t.Fatalf("step %+v not confirmed", s)
		}
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the tenant's process still runs after the cleanup")
	}
	keys := host.authorizedKeys()
	if strings.Contains(keys, keyBody) || !strings.Contains(keys, strings.Fields(own)[1]) {
		t.Fatalf("authorized_keys after the lease:\n%s", keys)
	}
	var after api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reveal-password", nil).decode(t, &after)
	if after.Password == before.Password || !host.passwordIs(after.Password) {
		t.Fatalf("the password recorded (%v changed) is not the one on the host", after.Password != before.Password)
	}
	newKey := agentKeyOf(t, host)
	if newKey == oldKey {
		t.Fatal("the agent key was not rotated")
	}
	if r := e.agentSession(oldKey).do("POST", "/api/agent/inventory", map[string]any{}); r.Status != 401 {
		t.Fatalf("the old agent key still works: %d", r.Status)
	}
}

// agentKeyOf reads the agent token from the agent's state file.
func agentKeyOf(t *testing.T, host *hostSandbox) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(host.dir, "state", "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Register struct {
			AgentToken string `json:"agentToken"`
		} `json:"register"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Register.AgentToken == "" {
		t.Fatalf("agent state: %v", err)
	}
	return st.Register.AgentToken
}
