// Package mailsink is an SMTP server for development and tests: it accepts
// every message (no TLS; AUTH PLAIN is offered and accepts any
// credentials), keeps the last 200 in memory and shows them on a small web
// page. It never relays anything.
package mailsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Capacity is how many messages the sink keeps; older ones are dropped.
const Capacity = 200

// MaxMessageBytes is the largest message the sink accepts.
const MaxMessageBytes = 25 << 20

// Message is one received mail.
type Message struct {
	ID string `json:"id"`
	// From is the envelope sender (MAIL FROM); HeaderFrom the decoded From
	// header, e.g. "RemoteGPU <noreply@remotegpu.test>".
	From       string `json:"from"`
	HeaderFrom string `json:"headerFrom,omitempty"`
	// To are the envelope recipients (RCPT TO).
	To          []string  `json:"to"`
	Subject     string    `json:"subject"`
	Text        string    `json:"text"`
	HTML        string    `json:"html"`
	Attachments []string  `json:"attachments,omitempty"` // file names
	ReceivedAt  time.Time `json:"receivedAt"`
	Size        int       `json:"size"`
	// ParseError is set when the MIME structure could not be read; Text
	// then holds the raw message.
	ParseError string `json:"parseError,omitempty"`
}

// Sink is a running SMTP sink.
type Sink struct {
	srv *smtp.Server
	ln  net.Listener

	mu      sync.Mutex
	msgs    []Message     // oldest first
	seq     int           // last ID
	changed chan struct{} // closed and replaced on every new message
	closed  bool

	serveDone chan struct{}
	log       *slog.Logger // nil: slog.Default()
}

// Start listens on addr (e.g. "127.0.0.1:1025"; port 0 picks a free one)
// and serves SMTP until Close.
func Start(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("unable to listen for SMTP on %s: %w", addr, err)
	}
	s := &Sink{ln: ln, changed: make(chan struct{}), serveDone: make(chan struct{})}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mailsink.localhost"
	srv.MaxMessageBytes = MaxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(slogWriter{}, "", 0)
	s.srv = srv
	go func() {
		defer close(s.serveDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			slog.Error("mail sink stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the sink listens on (host:port).
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Host and Port split Addr, for a mail.Config.
func (s *Sink) Host() string { h, _, _ := net.SplitHostPort(s.Addr()); return h }

// Port is the TCP port of Addr.
func (s *Sink) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server and wakes every Wait.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.changed)
	s.mu.Unlock()
	err := s.srv.Close()
	<-s.serveDone
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

// Messages returns the kept messages, newest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[len(s.msgs)-1-i] = clone(m)
	}
	return out
}

// Latest returns the newest message with to among its recipients
// (case-insensitive; "Name <addr>" is accepted).
func (s *Sink) Latest(to string) (Message, bool) {
	want := normAddr(to)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if hasRecipient(s.msgs[i], want) {
			return clone(s.msgs[i]), true
		}
	}
	return Message{}, false
}

// Wait returns the newest message for which match reports true, waiting
// for new messages until ctx ends. A nil match accepts any message.
func (s *Sink) Wait(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			if match == nil || match(s.msgs[i]) {
				m := clone(s.msgs[i])
				s.mu.Unlock()
				return m, nil
			}
		}
		changed, closed := s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return Message{}, errors.New("mail sink closed")
		}
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("no matching mail: %w", ctx.Err())
		case <-changed:
		}
	}
}

// WaitFor waits for a message to the recipient to that arrives at or after
// since (pass the time before triggering the mail).
func (s *Sink) WaitFor(ctx context.Context, to string, since time.Time) (Message, error) {
	want := normAddr(to)
	return s.Wait(ctx, func(m Message) bool { return hasRecipient(m, want) && !m.ReceivedAt.Before(since) })
}

// Clear forgets every message.
func (s *Sink) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

func (s *Sink) add(m Message) {
	s.mu.Lock()
	s.seq++
	m.ID = fmt.Sprintf("%d", s.seq)
	s.msgs = append(s.msgs, m)
	if len(s.msgs) > Capacity {
		s.msgs = append(s.msgs[:0:0], s.msgs[len(s.msgs)-Capacity:]...)
	}
	if !s.closed {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	logger := s.log
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("dev mail", "id", m.ID, "to", strings.Join(m.To, ", "), "subject", m.Subject)
}

func clone(m Message) Message {
	m.To = append([]string(nil), m.To...)
	m.Attachments = append([]string(nil), m.Attachments...)
	return m
}

func hasRecipient(m Message, want string) bool {
	for _, r := range m.To {
		if normAddr(r) == want {
			return true
		}
	}
	return false
}

func normAddr(a string) string {
	a = strings.TrimSpace(a)
	if i := strings.LastIndex(a, "<"); i >= 0 {
		a = strings.TrimSuffix(a[i+1:], ">")
	}
	return strings.ToLower(strings.TrimSpace(a))
}

type backend struct{ s *Sink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{sink: b.s}, nil }

type session struct {
	sink *Sink
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parse(raw)
	m.From = s.from
	m.To = append([]string(nil), s.to...)
	m.ReceivedAt = time.Now()
	m.Size = len(raw)
	s.sink.add(m)
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }

// slogWriter turns go-smtp's log lines into slog warnings.
type slogWriter struct{}

func (slogWriter) Write(p []byte) (int, error) {
	slog.Warn("mail sink", "msg", string(bytes.TrimSpace(p)))
	return len(p), nil
}
