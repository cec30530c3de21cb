package hostops

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func pids(list []proc) []int {
	out := make([]int, len(list))
	for i, p := range list {
		out[i] = p.pid
	}
	slices.Sort(out)
	return out
}

// Which processes a lease end kills, on a fake /proc.
func TestSelectSessions(t *testing.T) {
	pt := newProcTree(t)
	pt.add(2, 0, "S", 0, unsetLoginUID, pfKthread)        // kthreadd
	pt.add(5000010, 2, "I", 0, unsetLoginUID, pfKthread)  // a kernel thread
	pt.add(5000200, 1, "S", 1001, unsetLoginUID, 0)       // the login user's, outside a session (nohup, cron)
	pt.add(5000201, 5000200, "Z", 1001, unsetLoginUID, 0) // a zombie: its parent reaps it
	pt.add(5000300, 1, "S", 0, 1001, 0)                   // sudo -i from the user's SSH session
	pt.add(5000301, 1, "S", 0, 0, 0)                      // root's own SSH session
	pt.add(5000302, 5000301, "R", 1002, 0, 0)             // su to another user from it
	pt.add(5000400, 1, "S", 0, unsetLoginUID, 0)          // a service
	pt.add(5000401, 1, "S", 33, unsetLoginUID, 0)         // a service with its own user
	pt.add(5000500, fakeSelf, "S", 0, unsetLoginUID, 0)   // the agent's chpasswd
	procs, err := listProcs(pt.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		uid      int64
		selfLUID int64
		want     []int
	}{
		{"user ubuntu", 1001, unsetLoginUID, []int{5000200, 5000300, 5000301, 5000302}},
		{"user root: sessions only", -1, unsetLoginUID, []int{5000300, 5000301, 5000302}},
		// An agent started from root's login shell spares that login.
		{"agent in a login", 1001, 0, []int{5000200, 5000300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := slices.Clone(procs)
			for i := range list {
				if list[i].pid == fakeSelf || list[i].pid == fakeSelfSSHD {
					list[i].loginuid = tc.selfLUID // the agent and its ancestors
				}
			}
			sel, err := selectSessions(list, fakeSelf, tc.uid)
			if err != nil {
				t.Fatal(err)
			}
			if got := pids(sel); !slices.Equal(got, tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := selectSessions(procs, 4999999, 1001); err == nil {
		t.Error("an agent missing from the list selected processes")
	}
}

// The real /proc reads the same way: this test and a child started as
// another user (root only), without killing anything.
func TestReadRealProc(t *testing.T) {
	procs, err := listProcs("/proc")
	if err != nil {
		t.Fatal(err)
	}
	child, _ := startChild(t, otherUID(t), ":", "exec sleep 1000")
	sel, err := selectSessions(procs, os.Getpid(), -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sel {
		if p.pid == 1 || p.pid == os.Getpid() || p.kthread {
			t.Errorf("selected %+v", p)
		}
	}
	procs, _ = listProcs("/proc")
	var found bool
	for _, p := range procs {
		if p.pid == child.Process.Pid {
			found = true
			if want := int64(otherUID(t)); want > 0 && p.ruid != want {
				t.Errorf("child uid %d, want %d", p.ruid, want)
			}
		}
		if p.pid == os.Getpid() && (p.ruid != int64(os.Getuid()) || p.start == 0) {
			t.Errorf("self %+v", p)
		}
	}
	if !found {
		t.Error("the child is not listed")
	}
}

// otherUID is a uid nobody uses, for a child process when the test runs
// as root; 0 otherwise (the child runs as the test's user).
func otherUID(t *testing.T) int {
	if os.Geteuid() != 0 {
		return 0
	}
	return 2_000_000_017
}

// startChild runs sh -c "setup; echo ready; script" (as uid when not 0)
// and waits for it to say it is ready; the returned channel gets its exit.
func startChild(t *testing.T, uid int, setup, script string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", setup+"; echo ready; "+script)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("child: %q, %v", line, err)
	}
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return cmd, exited
}

func exitSignal(t *testing.T, exited chan error) syscall.Signal {
	t.Helper()
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child ended with %v", err)
		}
		ws := ee.Sys().(syscall.WaitStatus)
		if !ws.Signaled() {
			t.Fatalf("child exited with %v", err)
		}
		return ws.Signal()
	case <-time.After(30 * time.Second):
		t.Fatal("the child is still running")
	}
	return 0
}

// Real processes killed through the selection of a fake tree that names
// them: one that leaves on SIGTERM, and one that ignores it and gets SIGKILL.
func TestKillSessions(t *testing.T) {
	uid := otherUID(t)
	polite, politeExit := startChild(t, uid, ":", "exec sleep 1000")
	stubborn, stubbornExit := startChild(t, uid, "trap '' TERM", "while :; do sleep 1; done")
	pt := newProcTree(t)
	pt.add(polite.Process.Pid, 1, "S", 1001, unsetLoginUID, 0) // the login user's
	pt.add(stubborn.Process.Pid, 1, "S", 0, 1001, 0)           // from the user's login
	ops := pt.ops()
	ops.KillGrace = 100 * time.Millisecond
	res, err := ops.StopTenant(context.Background(), agentproto.StopTenantArgs{TenantID: "t1", User: "ubuntu"}, nil)
	if err != nil || res.Processes != 2 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if sig := exitSignal(t, politeExit); sig != syscall.SIGTERM {
		t.Errorf("polite child got %v", sig)
	}
	if sig := exitSignal(t, stubbornExit); sig != syscall.SIGKILL {
		t.Errorf("stubborn child got %v", sig)
	}
}

// A PID that names another process than the one listed (reused) is left alone.
func TestKillSkipsReusedPID(t *testing.T) {
	child, exited := startChild(t, otherUID(t), ":", "exec sleep 1000")
	pt := newProcTree(t)
	pt.add(child.Process.Pid, 1, "S", 1001, unsetLoginUID, 0)
	procs, _ := listProcs(pt.root)
	sel, _ := selectSessions(procs, fakeSelf, 1001)
	if len(sel) != 1 {
		t.Fatalf("selected %v", pids(sel))
	}
	sel[0].start++ // the process listed started at another time
	ops := pt.ops()
	if n, left := ops.terminate(context.Background(), pt.root, sel, time.Second); n != 0 || len(left) != 0 {
		t.Errorf("signalled %d, left %v", n, left)
	}
	select {
	case err := <-exited:
		exited <- err
		t.Errorf("the child was killed: %v", err)
	default:
	}
}
