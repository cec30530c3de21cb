package live

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// The live log of a task (/ws/customer/tasks/{id}/logs). Postgres is the
// buffer: each socket keeps a cursor (attempt, last line sent) and reads
// the lines after it when NOTIFY task_logs names its task, a chunk at a
// time, so a task writing thousands of lines a second costs each socket a
// few reads a second and a bounded queue, never a growing one. A socket
// whose queue stays full is dropped (4008); it reconnects with afterN.

// Frame types of the task log socket.
const (
	FrameLines  = "lines"
	FrameStatus = "status"
)

// CloseTaskGone: the task was deleted (or is no longer the caller's).
const CloseTaskGone = 4404

// LogFrame is one frame of the task log socket.
type LogFrame struct {
	Type    string              `json:"type"`
	Attempt int                 `json:"attempt"`
	Lines   []store.TaskLogLine `json:"lines,omitempty"`
	Status  string              `json:"status,omitempty"`
}

// TaskLogs is what the socket reads (internal/tasks).
type TaskLogs interface {
	// Follow checks that the caller (in ctx) may follow the task and says
	// its status and current attempt.
	Follow(ctx context.Context, taskID string) (status string, attempt int, err error)
	FollowLines(ctx context.Context, taskID string, attempt int, afterN int64, limit int) ([]store.TaskLogLine, error)
}

// Chunks of the log socket.
const (
	logChunkLines = 1000
	logChunkBytes = 1 << 20
	// logRecheck reads again without a notification (one may be lost).
	logRecheck = 30 * time.Second
)

type TaskLogsInput struct {
	Authenticate Authenticator
	Roles        []string
	TaskID       string // a UUID
	// Attempt to start with (0: the current one); the socket moves on to
	// each new attempt of the task from its first line.
	Attempt int
	AfterN  int64
}

// follower is one socket following a task.
type follower struct {
	c    *client
	wake chan struct{}
}

// ServeTaskLogs serves a customer's live log of a task: the lines after
// AfterN, then each line as it is stored, and the task's status when it
// changes.
func (s *Service) ServeTaskLogs(w http.ResponseWriter, r *http.Request, in TaskLogsInput) {
	p := s.authenticate(w, r, in.Authenticate, in.Roles)
	if p == nil {
		return
	}
	ctx := caller.WithPrincipal(r.Context(), p)
	if _, _, err := s.TaskLogs.Follow(ctx, in.TaskID); err != nil {
		s.writeError(w, r, err)
		return
	}
	c := s.upgrade(w, r, p, "")
	if c == nil {
		return
	}
	f := &follower{c: c, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	set := s.followers[in.TaskID]
	if set == nil {
		set = map[*follower]struct{}{}
		s.followers[in.TaskID] = set
	}
	set[f] = struct{}{}
	s.mu.Unlock()
	go s.follow(f, p, in)
	c.run(s.Tuning)
	s.mu.Lock()
	delete(set, f)
	if cur, ok := s.followers[in.TaskID]; ok && len(cur) == 0 {
		delete(s.followers, in.TaskID)
	}
	s.mu.Unlock()
}

// follow reads the task's lines after the socket's cursor whenever it is
// woken, until the socket ends.
func (s *Service) follow(f *follower, p *caller.Principal, in TaskLogsInput) {
	attempt, after, status := in.Attempt, in.AfterN, ""
	recheck := time.NewTimer(logRecheck)
	defer recheck.Stop()
	for {
		ctx, cancel := context.WithTimeout(caller.WithPrincipal(s.ctx, p), 10*time.Second)
		more, err := s.followOnce(ctx, f, in.TaskID, &attempt, &after, &status)
		cancel()
		if err != nil {
			if isNotFound(err) {
				f.c.kick(CloseTaskGone, "the task is gone")
			} else if !s.stopOnClosedStore(err) {
				f.c.kick(websocket.CloseInternalServerErr, "unable to read the log")
			}
			return
		}
		if more {
			continue
		}
		select {
		case <-f.c.done:
			return
		case <-s.ctx.Done():
			return
		case <-f.wake:
		case <-recheck.C:
			recheck.Reset(logRecheck)
		}
	}
}

// followOnce sends what is new: the status when it changed, a chunk of
// lines; more tells that another chunk may be waiting.
func (s *Service) followOnce(ctx context.Context, f *follower, taskID string, attempt *int, after *int64, status *string) (bool, error) {
	st, current, err := s.TaskLogs.Follow(ctx, taskID)
	if err != nil {
		return false, err
	}
	if *attempt == 0 {
		*attempt = current
	}
	lines, err := s.TaskLogs.FollowLines(ctx, taskID, *attempt, *after, logChunkLines)
	if err != nil {
		return false, err
	}
	full := len(lines) == logChunkLines
	size := 0
	for i, l := range lines {
		if size += len(l.X) + 64; size > logChunkBytes && i > 0 {
			lines, full = lines[:i], true
			break
		}
	}
	if len(lines) > 0 {
		if !s.send(f, LogFrame{Type: FrameLines, Attempt: *attempt, Lines: lines}) {
			return false, nil
		}
		*after = lines[len(lines)-1].N
	}
	if full {
		return true, nil
	}
	if st != *status {
		if !s.send(f, LogFrame{Type: FrameStatus, Attempt: current, Status: st}) {
			return false, nil
		}
		*status = st
	}
	if current > *attempt {
		// the attempt is over and its lines are sent: on to the next from its start
		*attempt, *after = *attempt+1, 0
		return true, nil
	}
	return false, nil
}

// send queues a frame, waiting while the client's queue is full for at
// most the write timeout (then the client is dropped as a slow consumer).
func (s *Service) send(f *follower, v any) bool {
	pm, err := prepare(v)
	if err != nil {
		return false
	}
	t := time.NewTimer(s.Tuning.WriteTimeout)
	defer t.Stop()
	select {
	case f.c.send <- pm:
		return true
	case <-f.c.done:
	case <-s.ctx.Done():
	case <-t.C:
		f.c.kick(CloseSlowConsumer, "slow consumer: the log was not read in time")
	}
	return false
}

// wakeFollowers tells the sockets of a task that it has news.
func (s *Service) wakeFollowers(taskID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f := range s.followers[taskID] {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// wakeAllFollowers: notifications may have been missed.
func (s *Service) wakeAllFollowers() {
	s.mu.Lock()
	var ids []string
	for id := range s.followers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.wakeFollowers(id)
	}
}
