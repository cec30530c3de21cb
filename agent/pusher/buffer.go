package pusher

import (
	"sync"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Buffer keeps the samples not yet accepted by the api, oldest first, up to
// a bound; past it the oldest are dropped (and counted). Safe for
// concurrent use.
type Buffer struct {
	mu      sync.Mutex
	max     int
	items   []entry
	next    uint64
	dropped uint64
}

type entry struct {
	seq uint64
	s   agentproto.Sample
}

// NewBuffer keeps at most bound samples (at least 1).
func NewBuffer(bound int) *Buffer { return &Buffer{max: max(bound, 1)} }

// Add appends a sample and tells whether the oldest one was dropped to make room.
func (b *Buffer) Add(s agentproto.Sample) (dropped bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	b.items = append(b.items, entry{b.next, s})
	if len(b.items) > b.max {
		b.items[0] = entry{}
		b.items = b.items[1:]
		b.dropped++
		return true
	}
	return false
}

// Peek returns up to n of the oldest samples and a mark to Ack them with.
func (b *Buffer) Peek(n int) ([]agentproto.Sample, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, len(b.items))
	out := make([]agentproto.Sample, n)
	for i := range n {
		out[i] = b.items[i].s
	}
	if n == 0 {
		return nil, 0
	}
	return out, b.items[n-1].seq
}

// Ack removes the samples up to the mark Peek gave (those dropped since
// are already gone).
func (b *Buffer) Ack(mark uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for i < len(b.items) && b.items[i].seq <= mark {
		b.items[i] = entry{}
		i++
	}
	b.items = b.items[i:]
}

// Len is how many samples wait.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// Dropped is how many samples were dropped since the start.
func (b *Buffer) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}
