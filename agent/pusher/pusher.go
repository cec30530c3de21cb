package pusher

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// MaxChunk is the most samples one request carries.
const MaxChunk = 500

// Sender posts one batch of samples (the Client).
type Sender interface {
	PostSamples(ctx context.Context, samples []agentproto.Sample) (int, error)
}

// Pusher sends the samples Add is given to the api in batches. While the
// api is unreachable they wait in the bounded Buffer and the Pusher retries
// with exponential backoff and jitter; once a batch goes through, the
// backlog follows at once, oldest first, in chunks of at most Chunk.
type Pusher struct {
	Sender Sender
	Buffer *Buffer
	Chunk  int // MaxChunk when zero or larger
	// NewBackOff makes the retry schedule; by default 1 s doubling to
	// 1 min, ±50 % jitter, never giving up.
	NewBackOff func() backoff.BackOff
	Log        *slog.Logger

	once       sync.Once
	notify     chan struct{}
	dropMu     sync.Mutex
	dropLogged time.Time
}

// DefaultBackOff is the retry schedule of a Pusher with no NewBackOff.
func DefaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxInterval = time.Minute
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

func (p *Pusher) init() {
	p.once.Do(func() {
		p.notify = make(chan struct{}, 1)
		if p.Log == nil {
			p.Log = slog.Default()
		}
	})
}

// New returns a Pusher with a buffer of the given bound.
func New(s Sender, bound int, log *slog.Logger) *Pusher {
	p := &Pusher{Sender: s, Buffer: NewBuffer(bound), Log: log}
	p.init()
	return p
}

// Add queues a sample for sending; it never blocks. When the buffer is
// full the oldest sample is dropped, counted and logged.
func (p *Pusher) Add(s agentproto.Sample) {
	p.init()
	if p.Buffer.Add(s) {
		// Once a minute at most: an outage drops one sample every interval.
		p.dropMu.Lock()
		now := time.Now()
		if now.Sub(p.dropLogged) >= time.Minute {
			p.dropLogged = now
			p.Log.Warn("sample buffer full: dropping the oldest samples", "buffered", p.Buffer.Len(), "dropped_total", p.Buffer.Dropped())
		}
		p.dropMu.Unlock()
	}
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends (then returns nil) or the api rejects the agent
// token (then returns ErrUnauthorized).
func (p *Pusher) Run(ctx context.Context) error {
	p.init()
	newBO := p.NewBackOff
	if newBO == nil {
		newBO = DefaultBackOff
	}
	bo := newBO()
	var wait *time.Timer
	var retry <-chan time.Time
	outage, failures := time.Time{}, 0
	for {
		if retry == nil && p.Buffer.Len() > 0 {
			sent, err := p.flush(ctx)
			switch {
			case err == nil:
				if failures > 0 {
					p.Log.Info("the api is reachable again; backlog sent", "after", time.Since(outage).Round(time.Second),
						"failed_attempts", failures, "sent", sent, "dropped_total", p.Buffer.Dropped())
				}
				bo.Reset()
				failures = 0
			case errors.Is(err, ErrUnauthorized):
				return err
			case ctx.Err() != nil:
				return nil
			default:
				if failures == 0 {
					outage = time.Now()
				}
				failures++
				d := bo.NextBackOff()
				if d == backoff.Stop {
					d = time.Minute
				}
				p.Log.Warn("unable to push samples; keeping them and retrying", "in", d.Round(time.Millisecond),
					"buffered", p.Buffer.Len(), "attempt", failures, "error", err)
				if wait == nil {
					wait = time.NewTimer(d)
				} else {
					wait.Reset(d)
				}
				retry = wait.C
			}
		}
		select {
		case <-ctx.Done():
			if wait != nil {
				wait.Stop()
			}
			return nil
		case <-p.notify:
		case <-retry:
			retry = nil
		}
	}
}

// flush sends the buffer, oldest first, until it is empty or a batch fails.
func (p *Pusher) flush(ctx context.Context) (int, error) {
	chunk := p.Chunk
	if chunk <= 0 || chunk > MaxChunk {
		chunk = MaxChunk
	}
	sent := 0
	for {
		batch, mark := p.Buffer.Peek(chunk)
		if len(batch) == 0 {
			return sent, nil
		}
		if _, err := p.Sender.PostSamples(ctx, batch); err != nil {
			if rejected(err) {
				// The api will never take this batch: keeping it would
				// block every later one.
				p.Log.Error("the api rejected a batch of samples; dropping it", "samples", len(batch), "error", err)
				p.Buffer.Ack(mark)
				continue
			}
			return sent, err
		}
		p.Buffer.Ack(mark)
		sent += len(batch)
	}
}

// rejected tells an answer that says the batch itself is wrong (a bug on one
// side or the other), as opposed to the api being unavailable.
func rejected(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		return true
	}
	return false
}
