package hostops

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

func newKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

func TestEditKeysBlock(t *testing.T) {
	block := func(keys ...string) string {
		return KeysBegin + "\n" + strings.Join(append(keys, KeysEnd), "\n") + "\n"
	}
	for _, tc := range []struct {
		name, in string
		keys     []string
		want     string
	}{
		{"empty file", "", []string{"k1"}, block("k1")},
		{"appended after the host's keys", "ssh-rsa AAA host\n", []string{"k1", "k2"}, "ssh-rsa AAA host\n" + block("k1", "k2")},
		{"last line without newline", "ssh-rsa AAA host", []string{"k1"}, "ssh-rsa AAA host\n" + block("k1")},
		{"replaced in place", "# top\n" + block("old") + "ssh-rsa AAA host\n", []string{"new"}, "# top\n" + block("new") + "ssh-rsa AAA host\n"},
		{"removed", "# top\n" + block("old") + "tail", nil, "# top\ntail"},
		{"only the block removed", block("old"), nil, ""},
		{"nothing to remove", "a\r\n\r\nb", nil, "a\r\n\r\nb"},
		{"CRLF markers", "x\r\n" + KeysBegin + "\r\nold\r\n" + KeysEnd + "\r\ny\r\n", []string{"k"}, "x\r\n" + block("k") + "y\r\n"},
		{"two blocks become one", block("a") + "mid\n" + block("b"), []string{"k"}, block("k") + "mid\n"},
		{"unterminated block runs to the end", "keep\n" + KeysBegin + "\nold\nlost\n", []string{"k"}, "keep\n" + block("k")},
		{"a look-alike line is not a marker", "  " + KeysBegin + "\n", nil, "  " + KeysBegin + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(EditKeysBlock([]byte(tc.in), tc.keys)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestCheckKeys(t *testing.T) {
	k := newKey(t, "alice@laptop")
	if got, err := CheckKeys([]string{k, " " + k + " ", `from="10.0.0.0/8" ` + k}); err != nil || len(got) != 2 {
		t.Errorf("valid keys: %v, %v", got, err)
	}
	for _, bad := range [][]string{
		{""}, {"ssh-ed25519 notbase64"}, {k + "\n" + k}, {k + "\rx"}, {"# " + k}, {k + "\x00"}, {KeysEnd},
	} {
		_, err := CheckKeys(bad)
		assertErr(t, err, "InvalidKey", true, "key 1")
	}
}

// keysHome is a temp home for "ubuntu": owned by uid 1001 when the test runs as root.
type keysHome struct {
	home     string
	uid, gid int
	ops      *Ops
}

func newKeysHome(t *testing.T) *keysHome {
	home := filepath.Join(t.TempDir(), "ubuntu")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &keysHome{home: home, uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		h.uid, h.gid = 1001, 1001
	}
	h.ops = &Ops{Log: quiet(), LookupUser: func(name string) (*user.User, error) {
		if name != "ubuntu" {
			return nil, user.UnknownUserError(name)
		}
		return &user.User{Username: name, Uid: strconv.Itoa(h.uid), Gid: strconv.Itoa(h.gid), HomeDir: home}, nil
	}}
	return h
}

func (h *keysHome) path(parts ...string) string {
	return filepath.Join(append([]string{h.home}, parts...)...)
}

func (h *keysHome) sync(t *testing.T, keys ...string) (agentproto.SyncSSHKeysResult, error) {
	t.Helper()
	return h.ops.SyncSSHKeys(context.Background(), agentproto.SyncSSHKeysArgs{User: "ubuntu", Keys: keys, AllocationID: "a1", Version: 3})
}

func (h *keysHome) checkOwner(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != mode || int(st.Uid) != h.uid || int(st.Gid) != h.gid {
		t.Errorf("%s: mode %v uid %d gid %d; want %v %d %d", path, fi.Mode().Perm(), st.Uid, st.Gid, mode, h.uid, h.gid)
	}
}

func TestSyncSSHKeys(t *testing.T) {
	h := newKeysHome(t)
	k1, k2 := newKey(t, "alice"), newKey(t, "bob")

	// No .ssh yet and nothing to remove: nothing is created.
	if _, err := h.sync(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(h.path(".ssh")); !os.IsNotExist(err) {
		t.Fatalf(".ssh created for no keys: %v", err)
	}

	// Created, owned by the user.
	res, err := h.sync(t, k1, k2)
	if err != nil {
		t.Fatal(err)
	}
	file := h.path(".ssh", "authorized_keys")
	if res.User != "ubuntu" || res.Keys != 2 || res.File != file {
		t.Errorf("result %+v", res)
	}
	h.checkOwner(t, h.path(".ssh"), 0o700)
	h.checkOwner(t, file, 0o600)
	want := KeysBegin + "\n" + k1 + "\n" + k2 + "\n" + KeysEnd + "\n"
	if b, _ := os.ReadFile(file); string(b) != want {
		t.Errorf("file:\n%s", b)
	}

	// The host's own lines are kept; the block follows the new list.
	own := "# the host's\nssh-rsa AAAAhost admin@ops\n"
	if err := os.WriteFile(file, []byte(own+want+"command=\"x\" ssh-rsa AAAAafter"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sync(t, k2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != own+KeysBegin+"\n"+k2+"\n"+KeysEnd+"\ncommand=\"x\" ssh-rsa AAAAafter" {
		t.Errorf("file:\n%s", b)
	}
	h.checkOwner(t, file, 0o600)

	// None: the block goes, the rest stays.
	if _, err := h.sync(t); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != own+"command=\"x\" ssh-rsa AAAAafter" {
		t.Errorf("file:\n%s", b)
	}
	// No temp files left behind.
	if entries, _ := os.ReadDir(h.path(".ssh")); len(entries) != 1 {
		t.Errorf(".ssh holds %v", entries)
	}
}

// Whatever someone on the host planted, the agent writes nowhere else and
// never hangs.
func TestSyncSSHKeysRefusesPlantedFiles(t *testing.T) {
	k := newKey(t, "alice")
	elsewhere := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(elsewhere, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(h *keysHome) error
		what  string
	}{
		{"symlinked .ssh", func(h *keysHome) error { return os.Symlink(filepath.Dir(elsewhere), h.path(".ssh")) }, "symlink"},
		{"symlinked authorized_keys", func(h *keysHome) error {
			_ = os.Mkdir(h.path(".ssh"), 0o700)
			return os.Symlink(elsewhere, h.path(".ssh", "authorized_keys"))
		}, "symlink"},
		{"hard-linked authorized_keys", func(h *keysHome) error {
			_ = os.Mkdir(h.path(".ssh"), 0o700)
			return os.Link(elsewhere, h.path(".ssh", "authorized_keys"))
		}, "hard links"},
		{"FIFO", func(h *keysHome) error {
			_ = os.Mkdir(h.path(".ssh"), 0o700)
			return syscall.Mkfifo(h.path(".ssh", "authorized_keys"), 0o600)
		}, "not a regular file"},
		{".ssh is a file", func(h *keysHome) error { return os.WriteFile(h.path(".ssh"), nil, 0o600) }, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newKeysHome(t)
			if err := tc.plant(h); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := h.sync(t, k); done <- err }()
			select {
			case err := <-done:
				assertErr(t, err, "UnsafePath", true, tc.what)
			case <-time.After(30 * time.Second):
				t.Fatal("SyncSSHKeys hangs")
			}
			if b, _ := os.ReadFile(elsewhere); string(b) != "root:$6$secret\n" {
				t.Errorf("the other file changed: %q", b)
			}
		})
	}
}

func TestSyncSSHKeysRefusals(t *testing.T) {
	h := newKeysHome(t)
	_, err := h.ops.SyncSSHKeys(context.Background(), agentproto.SyncSSHKeysArgs{User: "ghost", Keys: []string{newKey(t, "x")}})
	assertErr(t, err, "NoSuchUser", true, "ghost")
	_, err = h.ops.SyncSSHKeys(context.Background(), agentproto.SyncSSHKeysArgs{User: "../etc"})
	assertErr(t, err, "InvalidUser", true, "invalid user")
	_, err = h.sync(t, "not a key")
	assertErr(t, err, "InvalidKey", true, "key 1")
}
