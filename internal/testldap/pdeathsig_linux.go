package testldap

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill slapd when the process that started it
// dies, so a crashed test leaves no daemon behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
