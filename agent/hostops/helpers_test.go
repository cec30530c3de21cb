package hostops

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Fake process trees use PIDs above any pid_max (4194304), so that a
// selection bug can never signal a real process: pidfd_open finds nothing.
const (
	fakeSelf     = 5000100
	fakeSelfSSHD = 5000050
)

// procTree is a fake /proc.
type procTree struct {
	t    *testing.T
	root string
}

func newProcTree(t *testing.T) *procTree {
	pt := &procTree{t: t, root: t.TempDir()}
	pt.add(1, 0, "S", 0, unsetLoginUID, 0)
	pt.add(fakeSelfSSHD, 1, "S", 0, unsetLoginUID, 0)
	pt.add(fakeSelf, fakeSelfSSHD, "S", 0, unsetLoginUID, 0)
	return pt
}

// add writes /proc/<pid>/{stat,status,loginuid}.
func (pt *procTree) add(pid, ppid int, state string, uid int, loginuid int64, flags uint64) {
	pt.t.Helper()
	dir := filepath.Join(pt.root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		pt.t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (fake (%d)) %s %d 0 0 0 -1 %d 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", pid, pid, state, ppid, flags, 1000+pid)
	status := fmt.Sprintf("Name:\tfake\nState:\t%s\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n", state, ppid, uid, uid, uid, uid)
	for name, content := range map[string]string{"stat": stat, "status": status, "loginuid": strconv.FormatInt(loginuid, 10)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			pt.t.Fatal(err)
		}
	}
}

// ops returns Ops that see only the fake tree.
func (pt *procTree) ops() *Ops {
	return &Ops{ProcRoot: pt.root, Self: fakeSelf, Log: quiet(), LookupUser: fakeUsers(nil)}
}

// fakeUsers resolves "ubuntu" (uid 1001) and "root", with homes from homes.
func fakeUsers(homes map[string]string) func(string) (*user.User, error) {
	return func(name string) (*user.User, error) {
		switch name {
		case "ubuntu":
			return &user.User{Username: name, Uid: "1001", Gid: "1001", HomeDir: homes[name]}, nil
		case "root":
			return &user.User{Username: name, Uid: "0", Gid: "0", HomeDir: homes[name]}, nil
		}
		return nil, user.UnknownUserError(name)
	}
}

func assertErr(t *testing.T, err error, typ string, permanent bool, contains string) {
	t.Helper()
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("want a hostops error %s, got %v", typ, err)
	}
	if he.Type != typ || he.Permanent != permanent || !strings.Contains(err.Error(), contains) {
		t.Errorf("got %s (permanent %v): %v; want %s (permanent %v) containing %q", he.Type, he.Permanent, err, typ, permanent, contains)
	}
}
