package hostchan

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/puddle/v2"

	"github.com/remotegpu/remotegpu/store"
)

// waiters wakes the long polls of a machine when it gets a command. Every
// api replica LISTENs on store.ChannelHostCommands on a connection of its
// own (started with the first poll), so a command issued by any worker
// reaches the replica that holds the agent's request at once.
type waiters struct {
	once sync.Once
	mu   sync.Mutex
	m    map[string]chan struct{}
	// keysChanged is told of every machine whose agent keys changed.
	keysChanged func(machineID string)
}

// start begins listening (once); later calls do nothing.
func (w *waiters) start(st *store.Store) {
	w.once.Do(func() { go w.listen(st) })
}

// watch returns a channel that is closed at the machine's next command.
func (w *waiters) watch(st *store.Store, machineID string) <-chan struct{} {
	w.start(st)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan struct{}{}
	}
	ch, ok := w.m[machineID]
	if !ok {
		ch = make(chan struct{})
		w.m[machineID] = ch
	}
	return ch
}

func (w *waiters) wake(machineID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.m[machineID]; ok {
		close(ch)
		delete(w.m, machineID)
	}
}

// wakeAll lets every poll look again (after notifications may have been lost).
func (w *waiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, ch := range w.m {
		close(ch)
		delete(w.m, id)
	}
}

// listen keeps the LISTEN connection up until the store is closed.
func (w *waiters) listen(st *store.Store) {
	backoff := time.Second
	for {
		err := w.listenOnce(st, func() { backoff = time.Second })
		if errors.Is(err, puddle.ErrClosedPool) {
			return
		}
		slog.Warn("host commands: notification connection lost; reconnecting", "err", err, "in", backoff)
		w.wakeAll()
		if w.keysChanged != nil {
			w.keysChanged("") // changes may have been missed: forget every cached key
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (w *waiters) listenOnce(st *store.Store, connected func()) error {
	ctx := context.Background()
	pc, err := st.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // ours alone: the pool neither reuses nor waits for it
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+store.ChannelHostCommands+"; LISTEN "+store.ChannelAgentKeys); err != nil {
		return err
	}
	connected()
	w.wakeAll() // whatever was issued while no one listened
	for {
		// Wake up now and then to notice a closed pool (tests close theirs).
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if wctx.Err() != nil {
				if poolClosed(st) {
					return puddle.ErrClosedPool
				}
				continue
			}
			return err
		}
		if n.Channel == store.ChannelAgentKeys {
			if w.keysChanged != nil {
				w.keysChanged(n.Payload)
			}
			continue
		}
		w.wake(n.Payload)
	}
}

// poolClosed tells whether the store's pool was closed.
func poolClosed(st *store.Store) bool {
	c, err := st.Pool.Acquire(context.Background())
	if err == nil {
		c.Release()
		return false
	}
	return errors.Is(err, puddle.ErrClosedPool)
}
