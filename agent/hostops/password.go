package hostops

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// maxPassword bounds a password handed to chpasswd.
const maxPassword = 1024

// SetPassword sets user's password with chpasswd, whatever the user is,
// root included: the platform owns the login account. With SSHUser set,
// any other user is refused. The password is never logged nor put in an
// error.
func (o *Ops) SetPassword(ctx context.Context, user, password string) (agentproto.SetPasswordResult, error) {
	var res agentproto.SetPasswordResult
	if err := checkUserName(user); err != nil {
		return res, err
	}
	if o.SSHUser != "" && user != o.SSHUser {
		return res, Permanentf("UserNotManaged", "refusing to set the password of %q: this agent manages only %q (--ssh-user)", user, o.SSHUser)
	}
	if password == "" || len(password) > maxPassword || strings.ContainsAny(password, "\n\r\x00") {
		return res, Permanentf("InvalidPassword", "the password is empty, too long or has a line break or NUL")
	}
	path := o.Chpasswd
	if path == "" {
		path = "chpasswd"
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = strings.NewReader(user + ":" + password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		msg := strings.TrimSpace(strings.ReplaceAll(out.String(), password, "***"))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return res, Permanentf("ChpasswdMissing", "unable to run %s (--chpasswd): %v", path, err)
		}
		// A locked /etc/shadow, say: a later attempt (with a fresh password) may pass.
		return res, Retryablef("ChpasswdFailed", nil, "chpasswd failed for %s: %v: %s", user, err, msg)
	}
	o.log().Info("password set", "user", user)
	res.User = user
	return res, nil
}
