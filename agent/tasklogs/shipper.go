// Package tasklogs ships the logs of task containers to the api
// (agentproto.PathTaskLogs): for each attempt's container it follows
// Docker's log from the start, asks the api where to go on (a batch with no
// lines), skips the lines the api has, and posts the rest in batches of up
// to 5,000 lines or 200 ms, each with the offset of its first line, until
// the container has ended and every line is stored. Failed posts are
// retried without losing lines; while they fail the shipper stops reading
// from Docker, which keeps the log, so memory stays bounded.
package tasklogs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// API is the api side (*pusher.Client).
type API interface {
	PostTaskLogs(ctx context.Context, taskID string, batch agentproto.TaskLogBatch) (agentproto.TaskLogAck, error)
}

// Docker is the part of the Docker client the shipper uses (*client.Client).
type Docker interface {
	ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
}

// Defaults.
const (
	BatchLines = 5000
	BatchWait  = 200 * time.Millisecond
	// keepDone is how long a finished attempt is remembered (for Shipped).
	keepDone = time.Hour
)

// Shipper ships the logs of the task containers it is told to follow. Set
// the fields, then Run it; Follow and Shipped may be called at any time.
type Shipper struct {
	API    API
	Docker Docker
	// MachineID, when set, limits the containers Run resumes to the ones
	// labelled with it (demo agents share one Docker daemon).
	MachineID string
	// BatchLines and BatchWait bound a batch (the defaults when zero).
	BatchLines int
	BatchWait  time.Duration
	// NewBackOff makes the retry schedule (pusher.DefaultBackOff when nil).
	NewBackOff func() backoff.BackOff
	Log        *slog.Logger

	mu      sync.Mutex
	ctx     context.Context // Run's; nil until Run starts
	stopped bool            // Run is waiting for the shippers to end
	wg      sync.WaitGroup
	follows map[string]*follow // by container name
}

// follow is the shipping of one attempt's log.
type follow struct {
	taskID      string
	attempt     int
	containerID string
	started     bool
	done        chan struct{} // closed when the shipping ended
	shipped     bool          // every line is stored; valid once done is closed
	doneAt      time.Time
}

func (s *Shipper) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func (s *Shipper) backOff() backoff.BackOff {
	if s.NewBackOff != nil {
		return s.NewBackOff()
	}
	return pusher.DefaultBackOff()
}

// Run resumes shipping the logs of the task containers running now (the
// agent restarted), ships what Follow asks until ctx ends, then waits for
// the shippers to stop.
func (s *Shipper) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	if s.follows == nil {
		s.follows = map[string]*follow{}
	}
	for _, f := range s.follows {
		s.startLocked(f)
	}
	s.mu.Unlock()
	s.resume(ctx)
	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Shipper) resume(ctx context.Context) {
	args := filters.NewArgs(filters.Arg("label", agentproto.LabelTask), filters.Arg("status", "running"))
	if s.MachineID != "" {
		args.Add("label", agentproto.LabelMachine+"="+s.MachineID)
	}
	bo := s.backOff()
	for failures := 0; ; failures++ {
		list, err := s.Docker.ContainerList(ctx, container.ListOptions{Filters: args})
		if err == nil {
			for _, c := range list {
				attempt, _ := strconv.Atoi(c.Labels[agentproto.LabelAttempt])
				if task := c.Labels[agentproto.LabelTask]; task != "" && attempt > 0 {
					s.Follow(task, attempt, c.ID)
				}
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if failures == 0 {
			// Said once: a host without Docker would say it all day.
			s.log().Warn("unable to list the running task containers to ship their logs; retrying", "error", err)
		}
		sleep(ctx, bo.NextBackOff())
	}
}

// Follow ships the attempt's log unless that is under way or done.
func (s *Shipper) Follow(taskID string, attempt int, containerID string) {
	name := agentproto.ContainerName(taskID, attempt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.follows == nil {
		s.follows = map[string]*follow{}
	}
	for k, f := range s.follows {
		if !f.doneAt.IsZero() && time.Since(f.doneAt) > keepDone {
			delete(s.follows, k)
		}
	}
	if f, ok := s.follows[name]; ok && (f.doneAt.IsZero() || f.shipped) {
		return
	}
	f := &follow{taskID: taskID, attempt: attempt, containerID: containerID, done: make(chan struct{})}
	s.follows[name] = f
	if s.ctx != nil {
		s.startLocked(f)
	}
}

func (s *Shipper) startLocked(f *follow) {
	if f.started || s.stopped {
		return
	}
	f.started = true
	ctx := s.ctx
	s.wg.Go(func() {
		shipped := s.ship(ctx, f)
		if ctx.Err() != nil {
			return // the agent stops: not done, a wait keeps waiting
		}
		s.mu.Lock()
		f.shipped, f.doneAt = shipped, time.Now()
		s.mu.Unlock()
		close(f.done)
	})
}

// Shipped waits until the attempt's log is shipped to the end; false when
// ctx ends first, the shipping failed for good, or nobody follows it.
func (s *Shipper) Shipped(ctx context.Context, taskID string, attempt int) bool {
	s.mu.Lock()
	f := s.follows[agentproto.ContainerName(taskID, attempt)]
	s.mu.Unlock()
	if f == nil {
		return false
	}
	select {
	case <-f.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return f.shipped
	case <-ctx.Done():
		return false
	}
}

// errResync: the api expects another offset than the next line; ask again.
var errResync = errors.New("the api expects another offset")

// ship ships the attempt's log until the container ended and every line
// is stored (true), the api refuses the attempt's logs or the container is
// gone (false), or ctx ends.
func (s *Shipper) ship(ctx context.Context, f *follow) bool {
	log := s.log().With("task", f.taskID, "attempt", f.attempt)
	bo := s.backOff()
	// Docker can end a followed log of an exited container before its last
	// lines (seen with dockerd 20.10 under load: the final burst of a
	// script was missing), so once the followed log has ended, the whole
	// log is read once more, not followed, from where the api stands.
	follow := true
	for ctx.Err() == nil {
		next, err := s.post(ctx, f, 0, nil)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("the api refuses the task's logs: not shipping them", "error", err)
			}
			return false
		}
		ended, err := s.stream(ctx, f, next.Next, follow)
		switch {
		case ended && follow:
			follow = false
			continue
		case ended:
			log.Debug("task log shipped")
			return true
		case cerrdefs.IsNotFound(err):
			log.Warn("the task's container is gone: its log is shipped as far as it was read")
			return false
		case ctx.Err() != nil:
			return false
		case errors.Is(err, errResync):
			log.Info("the api expects another offset; asking it where to go on")
			continue
		case err != nil && !pusher.Retryable(err):
			log.Error("the api refuses the task's logs: not shipping them", "error", err)
			return false
		}
		d := bo.NextBackOff()
		log.Warn("following the task's log failed; reading it again", "in", d.Round(time.Millisecond), "error", err)
		sleep(ctx, d)
	}
	return false
}

// stream reads the container's log from the start, skips the first skip
// lines and ships the rest. ended: the log ended and the container is
// not running, so there will be no more lines.
func (s *Shipper) stream(ctx context.Context, f *follow, skip int64, follow bool) (ended bool, err error) {
	rc, err := s.Docker.ContainerLogs(ctx, f.containerID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Timestamps: true})
	if err != nil {
		return false, err
	}
	readCtx, cancel := context.WithCancel(ctx)
	// Room for a fifth of a batch while one is posted: at most a few MiB
	// of lines held, the rest waits in Docker.
	lines := make(chan agentproto.LogLine, s.batchLines()/5)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		var n int64
		readErr <- newLineReader(rc, func(l agentproto.LogLine) error {
			if n++; n <= skip {
				return nil
			}
			select {
			case lines <- l:
				return nil
			case <-readCtx.Done():
				return readCtx.Err()
			}
		}).run(readCtx)
	}()
	defer func() {
		cancel()
		rc.Close()
		for range lines { // let the reader end
		}
	}()
	offset := skip
	for {
		batch, more := s.collect(lines)
		if len(batch) > 0 {
			ack, err := s.post(ctx, f, offset, batch)
			if err != nil {
				return false, err
			}
			if ack.Next != offset+int64(len(batch)) {
				return false, errResync
			}
			offset = ack.Next
		}
		if !more {
			break
		}
	}
	if err := <-readErr; err != nil {
		return false, err
	}
	insp, err := s.Docker.ContainerInspect(ctx, f.containerID)
	if cerrdefs.IsNotFound(err) {
		return true, nil // removed after its log ended
	}
	if err != nil {
		return false, err
	}
	// A log that ends while the container runs (the daemon restarted) goes on.
	return insp.State == nil || !(insp.State.Running || insp.State.Restarting), nil
}

func (s *Shipper) batchLines() int {
	if s.BatchLines > 0 {
		return min(s.BatchLines, BatchLines)
	}
	return BatchLines
}

// collect waits for a line, then takes more until the batch is full or
// BatchWait has passed since the first; more is false once lines is closed.
func (s *Shipper) collect(lines <-chan agentproto.LogLine) (batch []agentproto.LogLine, more bool) {
	l, ok := <-lines
	if !ok {
		return nil, false
	}
	max, wait := s.batchLines(), s.BatchWait
	if wait <= 0 {
		wait = BatchWait
	}
	batch = append(make([]agentproto.LogLine, 0, max), l)
	size := len(l.Text)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(batch) < max && size+MaxLineBytes <= agentproto.MaxTaskLogBatchBytes {
		select {
		case l, ok := <-lines:
			if !ok {
				return batch, false
			}
			batch = append(batch, l)
			size += len(l.Text)
		case <-timer.C:
			return batch, true
		}
	}
	return batch, true
}

// post sends a batch (none: asks where to go on), retrying failures that
// may pass until ctx ends.
func (s *Shipper) post(ctx context.Context, f *follow, offset int64, lines []agentproto.LogLine) (agentproto.TaskLogAck, error) {
	if lines == nil {
		lines = []agentproto.LogLine{}
	}
	batch := agentproto.TaskLogBatch{Attempt: f.attempt, Offset: offset, Lines: lines}
	var bo backoff.BackOff
	for failures := 0; ; failures++ {
		ack, err := s.API.PostTaskLogs(ctx, f.taskID, batch)
		switch {
		case err == nil:
			if failures > 0 {
				s.log().Info("shipping the task's log again", "task", f.taskID, "attempt", f.attempt, "after_failures", failures)
			}
			return ack, nil
		case ctx.Err() != nil:
			return ack, ctx.Err()
		case !pusher.Retryable(err):
			return ack, err
		}
		if bo == nil {
			bo = s.backOff()
		}
		d := bo.NextBackOff()
		if failures == 0 {
			s.log().Warn("unable to ship the task's log; retrying (reading from Docker waits)", "task", f.taskID,
				"attempt", f.attempt, "in", d.Round(time.Millisecond), "error", err)
		}
		sleep(ctx, d)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
