// Package failpoint lets a test kill a process at a named point, to prove
// that what the process left half done is repaired (the reconciler). A
// point fires only when its name is listed in REMOTEGPU_FAILPOINTS
// (comma-separated); production never sets it.
package failpoint

import (
	"log/slog"
	"os"
	"slices"
	"strings"
)

// Env is the variable that names the points that fire.
const Env = "REMOTEGPU_FAILPOINTS"

var armed = strings.Split(os.Getenv(Env), ",")

// ExitCode is the status a process dies with at a failpoint.
const ExitCode = 86

// Hit ends the process at once, without any cleanup, if name is armed.
func Hit(name string) {
	if slices.Contains(armed, name) {
		slog.Error("failpoint hit: exiting", "failpoint", name)
		os.Exit(ExitCode)
	}
}
