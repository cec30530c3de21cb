// Package hostops does the work of host commands on the machine itself:
// stopping a tenant's containers (Docker Engine API) and killing its login
// sessions (stop.go, docker.go, processes.go), setting the login user's
// password with chpasswd (password.go), writing the platform-managed
// block of its authorized_keys (sshkeys.go), and running task containers
// (tasks.go, taskfiles.go, images.go). Failures are *Error values that
// say whether trying again can help; agent/commands reports them.
package hostops

import (
	"fmt"
	"log/slog"
	"os/user"
	"regexp"
	"time"
)

// Ops holds what the host operations need.
type Ops struct {
	// Docker is the Docker Engine API client; nil: no Docker on this host.
	Docker Docker
	// SSHUser, when set, is the only account whose password the agent sets.
	SSHUser string
	// Chpasswd is the chpasswd command ("chpasswd" from PATH when empty).
	Chpasswd string
	// StopTimeout is how long a container has to stop before Docker kills it (30 s when zero).
	StopTimeout time.Duration
	// KillGrace is how long a process has to exit after SIGTERM before it
	// gets SIGKILL (10 s when zero).
	KillGrace time.Duration
	// ProcRoot is where the processes are listed (/proc when empty).
	ProcRoot string
	// Self is the agent's own PID in ProcRoot (os.Getpid() when zero).
	Self int
	// MachineID labels the task containers (agentproto.LabelMachine).
	MachineID string
	// OwnContainersOnly limits the containers a tenant's stop removes to
	// the ones labelled with MachineID (simulated demo agents share one
	// Docker daemon).
	OwnContainersOnly bool
	// StateDir holds the tasks' directories, <StateDir>/tasks/<task ID>/.
	StateDir string
	// GPUDevices gives task containers their GPUs by a Docker device
	// request (a host whose GPUs come from NVML); without it they get none.
	GPUDevices bool
	// Logs ships the task containers' logs; nil: not shipped.
	Logs TaskLogs
	// LookupUser finds an account (user.Lookup when nil).
	LookupUser func(name string) (*user.User, error)
	Log        *slog.Logger
}

func (o *Ops) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func (o *Ops) lookup(name string) (*user.User, error) {
	if o.LookupUser != nil {
		return o.LookupUser(name)
	}
	return user.Lookup(name)
}

// Error is why a host operation failed.
type Error struct {
	// Type classifies it for the control plane (e.g. DockerUnavailable).
	Type    string
	Message string
	// Permanent: trying again will not help.
	Permanent bool
	Err       error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Permanentf is a failure that trying again will not fix.
func Permanentf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...), Permanent: true}
}

// Retryablef is a failure that may pass when tried again; err is the cause (may be nil).
func Retryablef(typ string, err error, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...), Err: err}
}

// validUser is a portable login name (useradd's default rule).
var validUser = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

func checkUserName(name string) error {
	if !validUser.MatchString(name) {
		return Permanentf("InvalidUser", "invalid user name %q", name)
	}
	return nil
}
