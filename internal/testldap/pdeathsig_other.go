//go:build !linux

package testldap

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
