package hostops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The processes of a tenant's login sessions, as /proc shows them: every
// process owned by the login user (unless it is root), and every process
// with an audit login UID (set by pam_loginuid for SSH and console logins,
// absent for services) other than the agent's own. Never PID 1, kernel
// threads, the agent or its ancestors.

// unsetLoginUID is /proc/<pid>/loginuid of a process outside any login.
const unsetLoginUID = 4294967295

// pfKthread is PF_KTHREAD in the flags of /proc/<pid>/stat.
const pfKthread = 0x00200000

type proc struct {
	pid, ppid  int
	state      byte
	kthread    bool
	start      uint64 // start time in clock ticks after boot: the PID's identity
	ruid, euid int64
	loginuid   int64
}

func (o *Ops) procRoot() string {
	if o.ProcRoot != "" {
		return o.ProcRoot
	}
	return "/proc"
}

func (o *Ops) self() int {
	if o.Self != 0 {
		return o.Self
	}
	return os.Getpid()
}

// readProc reads one process; an error means it is gone (or unreadable).
func readProc(root string, pid int) (proc, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	p := proc{pid: pid, loginuid: unsetLoginUID}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	// pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22nd)
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return p, fmt.Errorf("%s/stat: no command name", dir)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return p, fmt.Errorf("%s/stat: %d fields", dir, len(f))
	}
	p.state = f[0][0]
	p.ppid, _ = strconv.Atoi(f[1])
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	p.kthread = flags&pfKthread != 0
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return p, err
	}
	p.ruid, p.euid = -1, -1
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if u := strings.Fields(rest); len(u) >= 2 {
				p.ruid, _ = strconv.ParseInt(u[0], 10, 64)
				p.euid, _ = strconv.ParseInt(u[1], 10, 64)
			}
		}
		if rest, ok := strings.CutPrefix(line, "Kthread:"); ok && strings.TrimSpace(rest) == "1" {
			p.kthread = true
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			p.loginuid = n
		}
	}
	return p, nil
}

func listProcs(root string) ([]proc, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if p, err := readProc(root, pid); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// selectSessions picks the processes to kill; uid is the login user's (-1: none, or root).
func selectSessions(procs []proc, self int, uid int64) ([]proc, error) {
	byPID := make(map[int]proc, len(procs))
	for _, p := range procs {
		byPID[p.pid] = p
	}
	me, ok := byPID[self]
	if !ok {
		return nil, fmt.Errorf("the agent (PID %d) is not in the process list", self)
	}
	spare := map[int]bool{}
	for p, ok := me, true; ok && !spare[p.pid]; p, ok = byPID[p.ppid] {
		spare[p.pid] = true
	}
	var out []proc
	for _, p := range procs {
		switch {
		case p.pid <= 2 || p.kthread || p.ppid == 2 || spare[p.pid] || p.state == 'Z':
			continue // init, kthreadd and its threads, ourselves; a zombie is its parent's to reap
		case uid > 0 && (p.ruid == uid || p.euid == uid):
		case p.loginuid != unsetLoginUID && p.loginuid != me.loginuid:
		default:
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// killSessions kills the selected processes: SIGTERM, then SIGKILL to those
// still there after KillGrace. Processes started meanwhile get the same,
// for a few rounds. It returns how many it signalled.
func (o *Ops) killSessions(ctx context.Context, uid int64) (int, error) {
	root, self := o.procRoot(), o.self()
	grace := o.KillGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	type key struct {
		pid   int
		start uint64
	}
	done := map[key]bool{}
	killed := 0
	var left []proc
	for range 3 {
		procs, err := listProcs(root)
		if err != nil {
			return killed, Retryablef("ProcessesUnreadable", err, "unable to list the processes in %s", root)
		}
		sel, err := selectSessions(procs, self, uid)
		if err != nil {
			return killed, Retryablef("ProcessesUnreadable", err, "unable to pick the processes to kill")
		}
		sel = filterProcs(sel, func(p proc) bool { return !done[key{p.pid, p.start}] })
		if len(sel) == 0 {
			break
		}
		var n int
		n, left = o.terminate(ctx, root, sel, grace)
		killed += n
		for _, p := range sel {
			done[key{p.pid, p.start}] = true
		}
		if err := ctx.Err(); err != nil {
			return killed, err
		}
	}
	if len(left) > 0 {
		pids := make([]string, len(left))
		for i, p := range left {
			pids[i] = strconv.Itoa(p.pid)
		}
		return killed, Retryablef("ProcessesSurvived", nil, "%d processes did not exit after SIGKILL: %s", len(left), strings.Join(pids, " "))
	}
	return killed, nil
}

func filterProcs(list []proc, keep func(proc) bool) []proc {
	out := list[:0:0]
	for _, p := range list {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// handle is a process to signal: a pidfd when the kernel has them (a
// reused PID cannot be hit then), else the PID.
type handle struct {
	proc
	fd int
}

// killWait is how long the processes have to go after SIGKILL.
const killWait = 5 * time.Second

func (o *Ops) terminate(ctx context.Context, root string, sel []proc, grace time.Duration) (signalled int, left []proc) {
	var hs []handle
	defer func() {
		for _, h := range hs {
			if h.fd >= 0 {
				unix.Close(h.fd)
			}
		}
	}()
	for _, p := range sel {
		h, ok := open(root, p)
		if !ok {
			continue
		}
		if err := h.signal(syscall.SIGTERM); err != nil {
			if !errors.Is(err, unix.ESRCH) {
				o.log().Warn("unable to signal a process", "pid", p.pid, "error", err)
			}
			if h.fd >= 0 {
				unix.Close(h.fd)
			}
			continue
		}
		hs = append(hs, h)
	}
	signalled = len(hs)
	rest := waitExit(ctx, root, hs, grace)
	for _, h := range rest {
		o.log().Info("a process ignored SIGTERM: killing it", "pid", h.pid)
		_ = h.signal(syscall.SIGKILL)
	}
	for _, h := range waitExit(ctx, root, rest, killWait) {
		left = append(left, h.proc)
	}
	return signalled, left
}

// open gets a handle on p, unless it is gone or its PID now names another process.
func open(root string, p proc) (handle, bool) {
	fd, err := unix.PidfdOpen(p.pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return handle{}, false
	case err != nil:
		fd = -1 // an older kernel: signal by PID
	}
	now, err := readProc(root, p.pid)
	if err != nil || now.start != p.start {
		if fd >= 0 {
			unix.Close(fd)
		}
		return handle{}, false
	}
	return handle{proc: p, fd: fd}, true
}

func (h handle) signal(sig syscall.Signal) error {
	if h.fd >= 0 {
		return unix.PidfdSendSignal(h.fd, sig, nil, 0)
	}
	return unix.Kill(h.pid, sig)
}

func (h handle) exited(root string) bool {
	if h.fd >= 0 {
		fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0
	}
	if errors.Is(unix.Kill(h.pid, 0), unix.ESRCH) {
		return true
	}
	p, err := readProc(root, h.pid)
	return err != nil || p.start != h.start || p.state == 'Z'
}

// waitExit waits up to d for the processes to exit and returns those left.
func waitExit(ctx context.Context, root string, hs []handle, d time.Duration) []handle {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var rest []handle
		for _, h := range hs {
			if !h.exited(root) {
				rest = append(rest, h)
			}
		}
		if len(rest) == 0 || !time.Now().Before(deadline) {
			return rest
		}
		hs = rest
		select {
		case <-ctx.Done():
			return rest
		case <-tick.C:
		}
	}
}
