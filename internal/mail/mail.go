// Package mail sends e-mail over SMTP (github.com/wneessen/go-mail) and
// renders the platform's mail templates.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of Config.TLS.
const (
	TLSNone     = "none"     // plain SMTP, no encryption
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
)

// DefaultTimeout bounds each step of a send (dial, each SMTP command).
const DefaultTimeout = 15 * time.Second

// ErrDisabled is returned by the sender of a Config without Host.
var ErrDisabled = errors.New("mail disabled: no SMTP host configured")

// Config describes the SMTP server. An empty Host disables sending.
type Config struct {
	Host string
	// Port defaults to 25 (none), 587 (starttls) or 465 (tls).
	Port int
	// Username and Password enable SMTP AUTH, the mechanism negotiated
	// with the server. Without TLS (TLS none) only challenge mechanisms
	// (SCRAM, CRAM-MD5, NTLM) are used: a password is never sent in clear
	// text, so PLAIN/LOGIN-only servers need starttls or tls.
	Username, Password string
	// From is the sender, "noreply@example.com" or "RemoteGPU <noreply@example.com>".
	From string
	// TLS is none, starttls or tls; empty means starttls.
	TLS string
	// Timeout bounds each step of a send; default DefaultTimeout.
	Timeout time.Duration
}

// Validate reports configuration mistakes (call it at startup).
func (c Config) Validate() error {
	if c.Host == "" {
		return nil
	}
	switch strings.ToLower(c.TLS) {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("mail: TLS must be none, starttls or tls, not %q", c.TLS)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("mail: invalid port %d", c.Port)
	}
	if strings.TrimSpace(c.From) == "" {
		return errors.New("mail: From is required")
	}
	if err := gomail.NewMsg().From(c.From); err != nil {
		return fmt.Errorf("mail: invalid From %q: %w", c.From, err)
	}
	return nil
}

// Message is one mail. At least one of Text and HTML must be set; with
// both, the mail is multipart/alternative.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Sender sends mail.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// New returns a Sender for cfg. Without Host it returns a sender that logs
// "mail disabled" and returns ErrDisabled; with an invalid cfg, one whose
// Send returns the validation error.
func New(cfg Config) Sender {
	if strings.TrimSpace(cfg.Host) == "" {
		return disabled{}
	}
	if err := cfg.Validate(); err != nil {
		return broken{err}
	}
	cfg.TLS = strings.ToLower(cfg.TLS)
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &smtpSender{cfg: cfg}
}

type disabled struct{}

func (disabled) Send(_ context.Context, m Message) error {
	slog.Info("mail disabled", "to", m.To, "subject", m.Subject)
	return ErrDisabled
}

type broken struct{ err error }

func (b broken) Send(context.Context, Message) error { return b.err }

type smtpSender struct {
	cfg Config
}

// Send delivers m in one SMTP session. ctx bounds the dial; each SMTP step
// is bounded by Config.Timeout.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
	}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("unable to configure SMTP client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("unable to send mail to %s via %s:%d: %w", strings.Join(m.To, ", "), s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

func (s *smtpSender) build(m Message) (*gomail.Msg, error) {
	if len(m.To) == 0 {
		return nil, errors.New("unable to send mail: no recipient")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("unable to send mail: empty body")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("unable to set From: %w", err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, fmt.Errorf("unable to set To: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
