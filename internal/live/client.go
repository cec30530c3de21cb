package live

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/remotegpu/remotegpu/internal/caller"
)

// peer is a socket as the fan-out sees it: whose it is, and how to queue
// it a frame or close it. Only client implements it (tests: a recorder).
type peer interface {
	principal() *caller.Principal
	offer(pm *websocket.PreparedMessage)
	kick(code int, reason string)
}

// client is one socket: the handler's goroutine reads (control frames,
// pongs), one goroutine writes what the service queues.
type client struct {
	conn    *websocket.Conn
	p       *caller.Principal
	machine string
	send    chan *websocket.PreparedMessage
	done    chan struct{} // closed when the read side ended
	once    sync.Once
	closing atomic.Bool
}

func (c *client) principal() *caller.Principal { return c.p }

// offer queues a frame without ever waiting: a full queue drops the client.
func (c *client) offer(pm *websocket.PreparedMessage) {
	if c.closing.Load() {
		return
	}
	select {
	case c.send <- pm:
	default:
		c.kick(CloseSlowConsumer, "slow consumer: frames were not read in time")
	}
}

// kick closes the socket with a close frame: sent as soon as the writer is
// free (at most a second), then the connection is cut once the peer answers
// or a second later.
func (c *client) kick(code int, reason string) {
	c.once.Do(func() {
		c.closing.Store(true)
		go func() {
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			t := time.NewTimer(2 * time.Second)
			defer t.Stop()
			select {
			case <-c.done:
			case <-t.C:
			}
			_ = c.conn.Close()
		}()
	})
}

// run serves the socket until it ends.
func (c *client) run(t Tuning) {
	go c.write(t)
	c.conn.SetReadLimit(4096)
	_ = c.conn.SetReadDeadline(time.Now().Add(t.PongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(t.PongWait)) })
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			break
		}
	}
	c.closing.Store(true)
	close(c.done)
	_ = c.conn.Close()
}

func (c *client) write(t Tuning) {
	ping := time.NewTicker(t.PingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case pm := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(t.WriteTimeout))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				_ = c.conn.Close()
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(t.WriteTimeout)); err != nil {
				_ = c.conn.Close()
				return
			}
		}
	}
}
