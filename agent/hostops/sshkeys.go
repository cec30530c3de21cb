package hostops

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// The platform's keys live in one block of the login user's
// ~/.ssh/authorized_keys, between these lines; the rest of the file is the
// host's and is kept byte for byte.
const (
	KeysBegin = "# BEGIN remotegpu managed keys (do not edit)"
	KeysEnd   = "# END remotegpu managed keys"
)

const (
	maxKeys         = 1000
	maxKeyLine      = 16 << 10
	maxAuthorizedKB = 4 << 20 // a larger authorized_keys is not one we wrote
)

// SyncSSHKeys makes the managed block of the user's authorized_keys hold
// exactly keys (none: the block is removed). ~/.ssh (0700) and the file
// (0600) belong to the user and are created when missing; the file is
// replaced atomically. A symlinked or hard-linked ~/.ssh or authorized_keys
// is refused: on a leased host anyone may have planted one.
func (o *Ops) SyncSSHKeys(ctx context.Context, args agentproto.SyncSSHKeysArgs) (agentproto.SyncSSHKeysResult, error) {
	res := agentproto.SyncSSHKeysResult{User: args.User}
	if err := checkUserName(args.User); err != nil {
		return res, err
	}
	keys, err := CheckKeys(args.Keys)
	if err != nil {
		return res, err
	}
	u, err := o.lookup(args.User)
	if err != nil {
		return res, Permanentf("NoSuchUser", "no user %q on this host: %v", args.User, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || !filepath.IsAbs(u.HomeDir) {
		return res, Permanentf("NoSuchUser", "user %q has no usable uid, gid or home directory (%q)", args.User, u.HomeDir)
	}
	res.File = filepath.Join(u.HomeDir, ".ssh", "authorized_keys")
	res.Keys = len(keys)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := writeKeys(u.HomeDir, uid, gid, keys); err != nil {
		return res, err
	}
	o.log().Info("SSH keys written", "user", args.User, "file", res.File, "keys", res.Keys, "version", args.Version, "allocation", args.AllocationID)
	return res, nil
}

// CheckKeys validates authorized_keys lines: one public key each (options
// allowed), no line breaks. Duplicates are dropped.
func CheckKeys(lines []string) ([]string, error) {
	if len(lines) > maxKeys {
		return nil, Permanentf("InvalidKey", "%d keys; at most %d", len(lines), maxKeys)
	}
	seen := map[string]bool{}
	var out []string
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || len(line) > maxKeyLine || strings.ContainsAny(line, "\r\n\x00") || strings.HasPrefix(line, "#") {
			return nil, Permanentf("InvalidKey", "key %d is not a single public key line", i+1)
		}
		if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil || len(bytes.TrimSpace(rest)) > 0 {
			return nil, Permanentf("InvalidKey", "key %d is not a public key line (%.40q)", i+1, line)
		}
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out, nil
}

// EditKeysBlock returns content with its managed block holding keys: the
// block is replaced where it is, appended when there is none, removed
// when keys is empty. Bytes outside the block stay as they were (a newline
// is added before an appended block when the last line lacks one). A
// BEGIN line without its END takes the rest of the file as the block.
func EditKeysBlock(content []byte, keys []string) []byte {
	var out []byte
	placed, inBlock := false, false
	for rest := content; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		text := string(bytes.TrimRight(line, "\r\n"))
		switch {
		case inBlock:
			inBlock = text != KeysEnd
		case text == KeysBegin:
			inBlock = true
			if !placed && len(keys) > 0 {
				out = append(out, renderBlock(keys)...)
				placed = true
			}
		default:
			out = append(out, line...)
		}
	}
	if !placed && len(keys) > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, renderBlock(keys)...)
	}
	return out
}

func renderBlock(keys []string) []byte {
	var b bytes.Buffer
	b.WriteString(KeysBegin + "\n")
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	b.WriteString(KeysEnd + "\n")
	return b.Bytes()
}

// writeKeys edits home/.ssh/authorized_keys through directory file
// descriptors opened without following symlinks.
func writeKeys(home string, uid, gid int, keys []string) error {
	homeFd, err := unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Retryablef("HomeUnusable", err, "unable to open the home directory %s", home)
	}
	defer unix.Close(homeFd)
	sshPath := filepath.Join(home, ".ssh")
	sshFd, err := unix.Openat(homeFd, ".ssh", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if len(keys) == 0 {
			return nil // no block to remove
		}
		if err := unix.Mkdirat(homeFd, ".ssh", 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return Retryablef("KeysNotWritten", err, "unable to create %s", sshPath)
		}
		sshFd, err = unix.Openat(homeFd, ".ssh", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return Permanentf("UnsafePath", "%s is a symlink or not a directory: refusing to follow it", sshPath)
	}
	if err != nil {
		return Retryablef("KeysNotWritten", err, "unable to open %s", sshPath)
	}
	defer unix.Close(sshFd)
	if err := unix.Fchown(sshFd, uid, gid); err != nil {
		return Retryablef("KeysNotWritten", err, "unable to give %s to uid %d", sshPath, uid)
	}
	if err := unix.Fchmod(sshFd, 0o700); err != nil {
		return Retryablef("KeysNotWritten", err, "unable to set the mode of %s", sshPath)
	}
	path := filepath.Join(sshPath, "authorized_keys")
	old, exists, err := readKeysFile(sshFd, path)
	if err != nil {
		return err
	}
	content := EditKeysBlock(old, keys)
	if !exists && len(content) == 0 {
		return nil
	}
	return replaceAt(sshFd, "authorized_keys", path, content, uid, gid)
}

func readKeysFile(dirFd int, path string) ([]byte, bool, error) {
	// O_NONBLOCK: a FIFO planted there must not hang the agent.
	fd, err := unix.Openat(dirFd, "authorized_keys", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, false, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, false, Permanentf("UnsafePath", "%s is a symlink: refusing to follow it", path)
	}
	if err != nil {
		return nil, false, Retryablef("KeysNotWritten", err, "unable to open %s", path)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false, Retryablef("KeysNotWritten", err, "unable to stat %s", path)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, false, Permanentf("UnsafePath", "%s is not a regular file", path)
	}
	if st.Nlink > 1 {
		return nil, false, Permanentf("UnsafePath", "%s has %d hard links: refusing to copy another file's content", path, st.Nlink)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxAuthorizedKB+1))
	if err != nil {
		return nil, false, Retryablef("KeysNotWritten", err, "unable to read %s", path)
	}
	if len(b) > maxAuthorizedKB {
		return nil, false, Permanentf("UnsafePath", "%s is larger than %d bytes", path, maxAuthorizedKB)
	}
	return b, true, nil
}

// replaceAt writes content to a new file in the directory and renames it
// over name.
func replaceAt(dirFd int, name, path string, content []byte, uid, gid int) error {
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	tmp := "." + name + ".remotegpu-" + hex.EncodeToString(suffix)
	fd, err := unix.Openat(dirFd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return Retryablef("KeysNotWritten", err, "unable to create a file next to %s", path)
	}
	f := os.NewFile(uintptr(fd), tmp)
	fail := func(what string, err error) error {
		f.Close()
		_ = unix.Unlinkat(dirFd, tmp, 0)
		return Retryablef("KeysNotWritten", err, "unable to %s %s", what, path)
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fail("give to the user", err)
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return fail("set the mode of", err)
	}
	if _, err := f.Write(content); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("write", err)
	}
	if err := f.Close(); err != nil {
		_ = unix.Unlinkat(dirFd, tmp, 0)
		return Retryablef("KeysNotWritten", err, "unable to write %s", path)
	}
	if err := unix.Renameat(dirFd, tmp, dirFd, name); err != nil {
		_ = unix.Unlinkat(dirFd, tmp, 0)
		return Retryablef("KeysNotWritten", err, "unable to replace %s", path)
	}
	if err := unix.Fsync(dirFd); err != nil {
		return Retryablef("KeysNotWritten", err, "unable to sync the directory of %s", path)
	}
	return nil
}
