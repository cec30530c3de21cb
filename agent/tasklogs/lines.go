package tasklogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// MaxLineBytes caps a line (agentproto.LogLine.Text); a longer one is
// shipped as several.
const MaxLineBytes = 16 << 10

// Docker's multiplexed stream: each frame is an 8-byte header (stream,
// 3 zero bytes, big-endian payload size) and the payload. With Timestamps
// every log message is one frame starting "<RFC3339Nano> ".
const (
	frameStdout = 1
	frameStderr = 2
	frameSystem = 3 // an error of the daemon, in the stream
)

// lineReader turns Docker's log stream into lines, in the order Docker
// returns them, each stream's unfinished line kept apart.
type lineReader struct {
	r       *bufio.Reader
	frame   []byte
	pending [3]partial // by frame stream
	// emit takes every line; it may block (backpressure) and stops the
	// reading with its error.
	emit func(agentproto.LogLine) error
}

type partial struct {
	text []byte
	t    time.Time
}

func newLineReader(r io.Reader, emit func(agentproto.LogLine) error) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), emit: emit}
}

// run reads until the stream ends (nil: a clean end, the unfinished lines
// are emitted too) or fails.
func (lr *lineReader) run(ctx context.Context) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(lr.r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return lr.flush()
			}
			return err
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		if int(size) > cap(lr.frame) {
			lr.frame = make([]byte, size)
		}
		lr.frame = lr.frame[:size]
		if _, err := io.ReadFull(lr.r, lr.frame); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		stream := hdr[0]
		switch stream {
		case frameStdout, frameStderr:
		case frameSystem:
			return fmt.Errorf("the Docker daemon: %s", bytes.TrimSpace(lr.frame))
		default:
			return fmt.Errorf("unexpected stream %d in the container log (a TTY container?)", stream)
		}
		if err := lr.add(stream, lr.frame); err != nil {
			return err
		}
	}
}

// add takes one message: its time, then text that may end lines.
func (lr *lineReader) add(stream byte, msg []byte) error {
	t := time.Now().UTC()
	if ts, rest, ok := bytes.Cut(msg, []byte{' '}); ok {
		if parsed, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
			t, msg = parsed.UTC(), rest
		}
	}
	p := &lr.pending[stream]
	for len(msg) > 0 {
		if len(p.text) == 0 {
			p.t = t
		}
		i := bytes.IndexByte(msg, '\n')
		chunk := msg
		if i >= 0 {
			chunk = msg[:i]
		}
		// A line longer than the cap goes out in pieces.
		for len(p.text)+len(chunk) > MaxLineBytes {
			n := cut(chunk, MaxLineBytes-len(p.text))
			p.text = append(p.text, chunk[:n]...)
			if err := lr.ship(stream, p); err != nil {
				return err
			}
			p.t, chunk = t, chunk[n:]
		}
		p.text = append(p.text, chunk...)
		if i < 0 {
			return nil
		}
		if err := lr.ship(stream, p); err != nil {
			return err
		}
		msg = msg[i+1:]
	}
	return nil
}

// cut is where to split b to keep at most n bytes and whole UTF-8 characters.
func cut(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

func (lr *lineReader) ship(stream byte, p *partial) error {
	s := agentproto.StreamStdout
	if stream == frameStderr {
		s = agentproto.StreamStderr
	}
	text := strings.TrimSuffix(string(p.text), "\r")
	// The api stores text: valid UTF-8 without NUL (PostgreSQL refuses it).
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), "\x00", "\uFFFD")
	p.text = p.text[:0]
	return lr.emit(agentproto.LogLine{Time: p.t, Stream: s, Text: text})
}

// flush emits the unfinished lines at the end of the log.
func (lr *lineReader) flush() error {
	for stream := range lr.pending {
		if p := &lr.pending[stream]; len(p.text) > 0 {
			if err := lr.ship(byte(stream), p); err != nil {
				return err
			}
		}
	}
	return nil
}
