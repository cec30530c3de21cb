package tasklogs

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// frame is one message of Docker's multiplexed log stream.
func frame(stream byte, ts time.Time, text string) []byte {
	payload := []byte(text)
	if !ts.IsZero() {
		payload = append([]byte(ts.Format(time.RFC3339Nano)+" "), payload...)
	}
	hdr := make([]byte, 8)
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

func readLines(t *testing.T, stream []byte) ([]agentproto.LogLine, error) {
	t.Helper()
	var got []agentproto.LogLine
	err := newLineReader(bytes.NewReader(stream), func(l agentproto.LogLine) error {
		got = append(got, l)
		return nil
	}).run(context.Background())
	return got, err
}

func TestLineReader(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	t1 := t0.Add(time.Second)
	long := strings.Repeat("é", MaxLineBytes/2+10) // 2 bytes each: more than the cap
	var s []byte
	for _, f := range [][]byte{
		frame(frameStdout, t0, "one\n"),
		frame(frameStderr, t0, "err part "),      // a partial message (a long line Docker split)
		frame(frameStdout, t1, "two\nthree\r\n"), // two lines in one message, CRLF
		frame(frameStderr, t1, "end\n"),
		frame(frameStdout, t1, "bad \xff nul \x00\n"),
		frame(frameStdout, t1, long+"\n"),
		frame(frameStdout, time.Time{}, "no time\n"),
		frame(frameStderr, t1, "unfinished"),
	} {
		s = append(s, f...)
	}
	got, err := readLines(t, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []agentproto.LogLine{
		{Time: t0, Stream: "stdout", Text: "one"},
		{Time: t1, Stream: "stdout", Text: "two"},
		{Time: t1, Stream: "stdout", Text: "three"},
		{Time: t0, Stream: "stderr", Text: "err part end"},
		{Time: t1, Stream: "stdout", Text: "bad \uFFFD nul \uFFFD"},
		{Time: t1, Stream: "stdout", Text: long[:MaxLineBytes]},
		{Time: t1, Stream: "stdout", Text: long[MaxLineBytes:]},
		{Stream: "stdout", Text: "no time"},
		{Time: t1, Stream: "stderr", Text: "unfinished"}, // at the end of the log
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.Time.IsZero() && !g.Time.IsZero() { // stamped when read
			g.Time = time.Time{}
		}
		if !g.Time.Equal(w.Time) || g.Stream != w.Stream || g.Text != w.Text {
			t.Errorf("line %d: got %+v, want %+v", i, g, w)
		}
	}

	// The daemon's own error in the stream is the reader's.
	if _, err := readLines(t, append(frame(frameStdout, t0, "a\n"), frame(frameSystem, time.Time{}, "disk on fire")...)); err == nil ||
		!strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("system frame: %v", err)
	}
	// A stream cut in the middle of a frame fails rather than ending clean.
	if _, err := readLines(t, frame(frameStdout, t0, "a\n")[:10]); err == nil {
		t.Error("a cut frame read as a clean end")
	}
}

func TestCut(t *testing.T) {
	b := []byte("aé€") // 1 + 2 + 3 bytes
	for n, want := range map[int]int{0: 0, 1: 1, 2: 1, 3: 3, 4: 3, 5: 3, 6: 6, 9: 6} {
		if got := cut(b, n); got != want {
			t.Errorf("cut(%d) = %d, want %d", n, got, want)
		}
	}
}
