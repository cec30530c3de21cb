package mailsink

import (
	"fmt"
	"log/slog"
	"testing"
)

func TestCapacity(t *testing.T) {
	t.Parallel()
	s := &Sink{changed: make(chan struct{}), log: slog.New(slog.DiscardHandler)}
	for i := range Capacity + 5 {
		s.add(Message{To: []string{"a@b"}, Subject: fmt.Sprint(i)})
	}
	msgs := s.Messages()
	if len(msgs) != Capacity {
		t.Fatalf("%d messages kept, want %d", len(msgs), Capacity)
	}
	if msgs[0].Subject != fmt.Sprint(Capacity+4) || msgs[len(msgs)-1].Subject != "5" {
		t.Errorf("kept %s … %s", msgs[0].Subject, msgs[len(msgs)-1].Subject)
	}
	if msgs[0].ID != fmt.Sprint(Capacity+5) {
		t.Errorf("newest ID %s", msgs[0].ID)
	}
	if m, ok := s.Latest("A@B"); !ok || m.ID != msgs[0].ID {
		t.Errorf("Latest = %+v, %v", m, ok)
	}
}
