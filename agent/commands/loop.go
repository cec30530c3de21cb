// Package commands runs the host commands the api hands the agent
// (agentproto/commands.go): it long-polls for them, runs each in its own
// goroutine (one after another for commands sharing a serial key),
// heartbeats while they run (a heartbeat's answer can cancel one), and
// reports each result until the api accepts it. The work itself is done
// by a Handler per kind (kinds.go).
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// API is the api side of the channel (*pusher.Client).
type API interface {
	PollCommands(ctx context.Context, running []string, wait time.Duration) ([]agentproto.Command, error)
	CommandSecret(ctx context.Context, id string) (string, error)
	CommandHeartbeat(ctx context.Context, id string, progress json.RawMessage) (bool, error)
	CommandResult(ctx context.Context, id string, r agentproto.ResultRequest) error
}

// Handler does one kind of command and returns its result (sent as JSON).
// An error is reported as the command's failure (a *hostops.Error says its
// type and whether it is permanent).
type Handler func(ctx context.Context, c *Call) (any, error)

// Defaults.
const (
	DefaultWait = 25 * time.Second
	// DefaultHeartbeat is used for a command that names no interval.
	DefaultHeartbeat = 15 * time.Second
	// MaxRunning bounds the commands in flight (the poll's running list).
	MaxRunning = 1000
)

// Loop polls and runs the host commands. Set the fields, then Run it once.
type Loop struct {
	API      API
	Handlers map[string]Handler
	// Wait is how long a poll may be held (DefaultWait when zero).
	Wait time.Duration
	// HeartbeatUnit is what a command's HeartbeatSeconds counts (a second
	// when zero; tests shorten it).
	HeartbeatUnit time.Duration
	// NewBackOff makes the retry schedule of polls, secret fetches and
	// reports (pusher.DefaultBackOff when nil).
	NewBackOff func() backoff.BackOff
	Log        *slog.Logger

	mu      sync.Mutex
	running map[string]*task   // delivered and not yet reported
	serial  map[string][]*task // by serial key: the running one first, then those waiting
	freed   chan struct{}
	fatal   context.CancelCauseFunc
	// onForget is called when a command leaves the running list (tests).
	onForget func(id string)
}

// errCancelled is the cause of a command's context when the api asked to stop it.
var errCancelled = errors.New("cancelled by the control plane")

// task is one delivered command.
type task struct {
	call   *Call
	ctx    context.Context
	cancel context.CancelCauseFunc
	turn   chan struct{} // closed when it may run
}

func (l *Loop) log() *slog.Logger {
	if l.Log == nil {
		return slog.Default()
	}
	return l.Log
}

func (l *Loop) backOff() backoff.BackOff {
	if l.NewBackOff != nil {
		return l.NewBackOff()
	}
	return pusher.DefaultBackOff()
}

// Run polls and runs commands until ctx ends (nil) or the api rejects the
// agent token (pusher.ErrUnauthorized). Commands still running then are
// dropped unreported: the api delivers them again after a restart.
func (l *Loop) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.mu.Lock()
	l.running, l.serial, l.freed, l.fatal = map[string]*task{}, map[string][]*task{}, make(chan struct{}, 1), cancel
	l.mu.Unlock()
	wait := l.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	var wg sync.WaitGroup
	bo := l.backOff()
	failures := 0
	for ctx.Err() == nil {
		if !l.roomToRun(ctx) {
			break
		}
		started := time.Now()
		cmds, err := l.API.PollCommands(ctx, l.runningIDs(), wait)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, pusher.ErrUnauthorized):
			cancel(err)
		case err != nil:
			failures++
			d := bo.NextBackOff()
			l.log().Warn("unable to poll for host commands; retrying", "in", d.Round(time.Millisecond), "attempt", failures, "error", err)
			sleep(ctx, d)
		default:
			if failures > 0 {
				l.log().Info("polling for host commands again", "after_failures", failures)
			}
			failures = 0
			bo.Reset()
			for _, c := range cmds {
				l.start(ctx, &wg, c)
			}
			if len(cmds) == 0 && time.Since(started) < time.Second {
				// An api that does not hold the poll: do not hammer it.
				sleep(ctx, time.Second/2+rand.N(time.Second))
			}
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); errors.Is(err, pusher.ErrUnauthorized) {
		return err
	}
	return nil
}

// roomToRun waits while MaxRunning commands are in flight.
func (l *Loop) roomToRun(ctx context.Context) bool {
	for {
		l.mu.Lock()
		n := len(l.running)
		l.mu.Unlock()
		if n < MaxRunning {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-l.freed:
		}
	}
}

func (l *Loop) runningIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.running))
	for id := range l.running {
		ids = append(ids, id)
	}
	return ids
}

// start takes a delivered command: it runs at once, or after the commands
// of its serial key delivered before it.
func (l *Loop) start(ctx context.Context, wg *sync.WaitGroup, cmd agentproto.Command) {
	l.mu.Lock()
	if _, dup := l.running[cmd.ID]; dup || cmd.ID == "" {
		l.mu.Unlock()
		return
	}
	t := &task{call: &Call{Command: cmd, api: l.API, newBackOff: l.backOff}, turn: make(chan struct{})}
	t.ctx, t.cancel = context.WithCancelCause(ctx)
	l.running[cmd.ID] = t
	if cmd.Serial == "" {
		close(t.turn)
	} else {
		q := l.serial[cmd.Serial]
		if len(q) == 0 {
			close(t.turn)
		}
		l.serial[cmd.Serial] = append(q, t)
	}
	l.mu.Unlock()
	l.log().Info("host command received", "command", cmd.ID, "kind", cmd.Kind, "serial", cmd.Serial)
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.run(ctx, t)
	}()
}

// run heartbeats the command from delivery to the end of its work, runs
// it in its turn and reports it.
func (l *Loop) run(ctx context.Context, t *task) {
	defer l.forget(t)
	defer t.cancel(nil)
	hbCtx, stopHB := context.WithCancel(t.ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		l.heartbeat(hbCtx, t)
	}()
	var (
		result any
		err    error
		ran    bool
	)
	select {
	case <-t.turn:
		if t.ctx.Err() == nil {
			ran = true
			result, err = l.execute(t)
		}
	case <-t.ctx.Done():
	}
	l.nextInSerial(t)
	stopHB()
	<-hbDone
	if ctx.Err() != nil {
		return // the agent stops: the api hands the command out again later
	}
	req := outcome(t, ran, result, err)
	if req.Status == agentproto.ResultFailed {
		l.log().Warn("host command failed", "command", t.call.ID, "kind", t.call.Kind, "type", req.Error.Type,
			"permanent", req.Error.Permanent, "error", req.Error.Message)
	}
	l.report(ctx, t.call.ID, req)
}

// execute runs the handler; a panic is the command's failure, not the agent's end.
func (l *Loop) execute(t *task) (result any, err error) {
	h := l.Handlers[t.call.Kind]
	if h == nil {
		return nil, unknownKind(t.call.Kind)
	}
	defer func() {
		if p := recover(); p != nil {
			l.log().Error("host command handler panicked", "command", t.call.ID, "kind", t.call.Kind, "panic", p)
			err = errors.New("the agent failed while running the command (panic); see its log")
		}
	}()
	return h(t.ctx, t.call)
}

// nextInSerial lets the next command of the same serial key run.
func (l *Loop) nextInSerial(t *task) {
	key := t.call.Serial
	if key == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.serial[key]
	for i, x := range q {
		if x == t {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(l.serial, key)
		return
	}
	l.serial[key] = q
	select {
	case <-q[0].turn:
	default:
		close(q[0].turn)
	}
}

// forget drops a reported (or abandoned) command from the running list.
func (l *Loop) forget(t *task) {
	l.mu.Lock()
	delete(l.running, t.call.ID)
	l.mu.Unlock()
	select {
	case l.freed <- struct{}{}:
	default:
	}
	if l.onForget != nil {
		l.onForget(t.call.ID)
	}
}

func (l *Loop) heartbeat(ctx context.Context, t *task) {
	unit := l.HeartbeatUnit
	if unit <= 0 {
		unit = time.Second
	}
	every := time.Duration(t.call.HeartbeatSeconds) * unit
	if every <= 0 {
		every = DefaultHeartbeat / time.Second * unit
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cancel, err := l.API.CommandHeartbeat(ctx, t.call.ID, t.call.progressJSON())
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, pusher.ErrUnauthorized):
			l.fatal(err)
			return
		case err != nil:
			l.log().Warn("unable to heartbeat a host command; working on", "command", t.call.ID, "kind", t.call.Kind, "error", err)
		case cancel:
			l.log().Info("the control plane cancelled a host command", "command", t.call.ID, "kind", t.call.Kind)
			t.cancel(errCancelled)
			return
		}
	}
}

// report sends the result until the api takes it, refuses it for good, or the agent stops.
func (l *Loop) report(ctx context.Context, id string, req agentproto.ResultRequest) {
	bo := l.backOff()
	for attempt := 1; ; attempt++ {
		err := l.API.CommandResult(ctx, id, req)
		switch {
		case err == nil:
			l.log().Info("host command reported", "command", id, "status", req.Status)
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, pusher.ErrUnauthorized):
			l.fatal(err)
			return
		case !pusher.Retryable(err):
			// 404: not this machine's; 409: completed already. Trying again will not change that.
			l.log().Error("the api refused a host command's result", "command", id, "status", req.Status, "error", err)
			return
		}
		d := bo.NextBackOff()
		l.log().Warn("unable to report a host command's result; retrying", "command", id, "in", d.Round(time.Millisecond), "attempt", attempt, "error", err)
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
