package hostops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeChpasswd writes a script that records its standard input (or fails).
func fakeChpasswd(t *testing.T, fail bool) (cmd, stdin string) {
	t.Helper()
	dir := t.TempDir()
	stdin = filepath.Join(dir, "stdin")
	script := "#!/bin/sh\ncat > '" + stdin + "'\n"
	if fail {
		script += "echo \"chpasswd: line 1: user 'ghost' does not exist; password $(cut -d: -f2 '" + stdin + "')\" >&2\nexit 1\n"
	}
	cmd = filepath.Join(dir, "chpasswd")
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin
}

func TestSetPassword(t *testing.T) {
	for _, tc := range []struct{ sshUser, user string }{
		{"", "ubuntu"},
		{"", "root"}, // the platform owns the login account, root included
		{"root", "root"},
		{"ubuntu", "ubuntu"},
	} {
		cmd, stdin := fakeChpasswd(t, false)
		ops := &Ops{Chpasswd: cmd, SSHUser: tc.sshUser, Log: quiet()}
		res, err := ops.SetPassword(context.Background(), tc.user, "Zq9:x!y z")
		if err != nil || res.User != tc.user {
			t.Fatalf("%+v: result %+v, %v", tc, res, err)
		}
		if b, _ := os.ReadFile(stdin); string(b) != tc.user+":Zq9:x!y z\n" {
			t.Errorf("%+v: chpasswd got %q", tc, b)
		}
	}
}

func TestSetPasswordRefusals(t *testing.T) {
	okCmd, _ := fakeChpasswd(t, false)
	failCmd, _ := fakeChpasswd(t, true)
	for _, tc := range []struct {
		name, sshUser, chpasswd, user, password string
		typ                                     string
		permanent                               bool
		contains                                string
	}{
		{"other user than configured", "ubuntu", okCmd, "admin", "x", "UserNotManaged", true, `manages only "ubuntu"`},
		{"root when another is configured", "ubuntu", okCmd, "root", "x", "UserNotManaged", true, `"root"`},
		{"bad user name", "", okCmd, "a:b", "x", "InvalidUser", true, "invalid user name"},
		{"empty user name", "", okCmd, "", "x", "InvalidUser", true, "invalid user name"},
		{"multi-line password", "", okCmd, "ubuntu", "a\nroot:b", "InvalidPassword", true, "line break"},
		{"NUL in the password", "", okCmd, "ubuntu", "a\x00b", "InvalidPassword", true, "NUL"},
		{"empty password", "", okCmd, "ubuntu", "", "InvalidPassword", true, "empty"},
		{"chpasswd fails", "", failCmd, "ghost", "pw-never-shown", "ChpasswdFailed", false, "does not exist"},
		{"no chpasswd", "", "/nonexistent/chpasswd", "ubuntu", "x", "ChpasswdMissing", true, "--chpasswd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := &Ops{Chpasswd: tc.chpasswd, SSHUser: tc.sshUser, Log: quiet()}
			_, err := ops.SetPassword(context.Background(), tc.user, tc.password)
			assertErr(t, err, tc.typ, tc.permanent, tc.contains)
			if err != nil && strings.Contains(err.Error(), "pw-never-shown") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
