package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// aptMu keeps the services that start side by side from running apt-get
// at the same time (the second would find dpkg locked).
var aptMu sync.Mutex

// AptInstall installs the Debian packages among pkgs that are not installed
// yet, running apt-get update first. It needs root.
func AptInstall(ctx context.Context, log io.Writer, pkgs ...string) error {
	aptMu.Lock()
	defer aptMu.Unlock()
	var missing []string
	for _, p := range pkgs {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the Debian packages %s are needed: install them (sudo apt-get install %s) or run as root", strings.Join(missing, " "), strings.Join(missing, " "))
	}
	fmt.Fprintf(log, "devstack: apt-get install %s\n", strings.Join(missing, " "))
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("unable to run apt-get %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run("update"); err != nil {
		return err
	}
	return run(append([]string{"install", "-y"}, missing...)...)
}
