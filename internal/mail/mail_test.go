package mail_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/mailsink"
)

// Not parallel: it swaps the default slog logger.
func TestDisabled(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	err := mail.New(mail.Config{}).Send(t.Context(), mail.Message{To: []string{"a@b.test"}, Subject: "hi", Text: "secret body"})
	if !errors.Is(err, mail.ErrDisabled) {
		t.Fatalf("err = %v, want ErrDisabled", err)
	}
	out := buf.String()
	if !strings.Contains(out, "mail disabled") || !strings.Contains(out, "a@b.test") || !strings.Contains(out, "hi") {
		t.Errorf("log = %q", out)
	}
	if strings.Contains(out, "secret body") {
		t.Errorf("log contains the body: %q", out)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  mail.Config
		ok   bool
	}{
		{"disabled", mail.Config{}, true},
		{"minimal", mail.Config{Host: "smtp.example.com", From: "noreply@example.com"}, true},
		{"named from", mail.Config{Host: "smtp.example.com", From: "RemoteGPU <noreply@example.com>", TLS: "TLS"}, true},
		{"no from", mail.Config{Host: "smtp.example.com"}, false},
		{"bad from", mail.Config{Host: "smtp.example.com", From: "not an address"}, false},
		{"bad tls", mail.Config{Host: "smtp.example.com", From: "a@b.test", TLS: "ssl3"}, false},
		{"bad port", mail.Config{Host: "smtp.example.com", From: "a@b.test", Port: 70000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				// New must not hide the mistake.
				sendErr := mail.New(tt.cfg).Send(t.Context(), mail.Message{To: []string{"x@y.test"}, Text: "x"})
				if sendErr == nil || errors.Is(sendErr, mail.ErrDisabled) {
					t.Errorf("Send with invalid config = %v", sendErr)
				}
			}
		})
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	sink, err := mailsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	sender := mail.New(mail.Config{Host: sink.Host(), Port: sink.Port(), From: "RemoteGPU <noreply@remotegpu.test>", TLS: "none"})

	t.Run("rendered notification", func(t *testing.T) {
		msg, err := mail.Build(mail.TemplateNotification, mail.Notification{
			Title: "机器即将到期", Content: "您租用的 8×H100 机器将于 2026-12-01 到期。\n请及时续租。", CompanyName: "Acme 科技", URL: "https://console.example.com/allocations/42",
		}, "alice@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if err := sender.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got, ok := sink.Latest("alice@acme.test")
		if !ok {
			t.Fatal("no mail")
		}
		if got.Subject != "[RemoteGPU] 机器即将到期" {
			t.Errorf("subject %q", got.Subject)
		}
		for _, want := range []string{"Acme 科技", "8×H100", "请及时续租", "https://console.example.com/allocations/42"} {
			if !strings.Contains(got.Text, want) || !strings.Contains(got.HTML, want) {
				t.Errorf("mail lacks %q", want)
			}
		}
	})

	t.Run("invalid messages", func(t *testing.T) {
		for name, m := range map[string]mail.Message{
			"no recipient":  {Subject: "x", Text: "x"},
			"empty body":    {To: []string{"a@b.test"}, Subject: "x"},
			"bad recipient": {To: []string{"not an address"}, Text: "x"},
		} {
			if err := sender.Send(t.Context(), m); err == nil {
				t.Errorf("%s: Send succeeded", name)
			}
		}
	})
}

func TestSendUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := time.Now()
	err = mail.New(mail.Config{Host: "127.0.0.1", Port: port, From: "a@b.test", TLS: "none", Timeout: 2 * time.Second}).
		Send(t.Context(), mail.Message{To: []string{"x@y.test"}, Text: "x"})
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	if got := strings.Join(mail.Templates(), ","); got != "notification,password_reset" {
		t.Errorf("Templates() = %s", got)
	}

	t.Run("password reset", func(t *testing.T) {
		t.Parallel()
		subject, text, html, err := mail.Render(mail.TemplatePasswordReset, mail.PasswordReset{Code: "012345"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(subject, "密码重置") || !strings.Contains(subject, "Password reset") || strings.Contains(subject, "\n") {
			t.Errorf("subject %q", subject)
		}
		first, _, _ := strings.Cut(text, "\n")
		if !strings.ContainsRune(first, '您') {
			t.Errorf("first line %q is not Chinese", first)
		}
		if zh, en := strings.Index(text, "验证码"), strings.Index(text, "Your code"); zh < 0 || en < 0 || zh > en {
			t.Errorf("Chinese should come before English:\n%s", text)
		}
		for _, want := range []string{"012345", "10 分钟", "10 minutes"} {
			if !strings.Contains(text, want) || !strings.Contains(html, want) {
				t.Errorf("lacks %q", want)
			}
		}
		_, text, _, _ = mail.Render(mail.TemplatePasswordReset, &mail.PasswordReset{Code: "999999", ValidMinutes: 15})
		if !strings.Contains(text, "15 分钟") {
			t.Errorf("ValidMinutes ignored:\n%s", text)
		}
	})

	t.Run("notification escapes HTML", func(t *testing.T) {
		t.Parallel()
		subject, text, html, err := mail.Render(mail.TemplateNotification, mail.Notification{
			Title: "Alert\n<b>GPU</b> hot", Content: `temp > 90 & "rising"`, CompanyName: "<Acme>",
		})
		if err != nil {
			t.Fatal(err)
		}
		if subject != "[RemoteGPU] Alert <b>GPU</b> hot" {
			t.Errorf("subject %q (one line, not HTML-escaped)", subject)
		}
		if !strings.Contains(text, `temp > 90 & "rising"`) || !strings.Contains(text, "尊敬的 <Acme> 用户") {
			t.Errorf("text should be verbatim:\n%s", text)
		}
		if strings.Contains(html, "<b>GPU</b>") || strings.Contains(html, "<Acme>") || !strings.Contains(html, "temp &gt; 90 &amp;") {
			t.Errorf("html not escaped:\n%s", html)
		}
		if strings.Contains(text, "Details") {
			t.Error("details link without URL")
		}
	})

	t.Run("map data", func(t *testing.T) {
		t.Parallel()
		// The shapes the API and the notification activity pass.
		subject, text, html, err := mail.Render(mail.TemplatePasswordReset, map[string]any{"Name": "Alice", "Username": "alice", "Code": "654321", "Minutes": 15})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"654321", "15 分钟", "15 minutes", "Alice", "alice"} {
			if !strings.Contains(text, want) || !strings.Contains(html, want) {
				t.Errorf("password reset lacks %q:\n%s", want, text)
			}
		}
		if !strings.Contains(subject, "密码重置") {
			t.Errorf("subject %q", subject)
		}
		subject, text, _, err = mail.Render(mail.TemplateNotification, map[string]any{"Name": "Bob", "Title": "GPU 温度过高", "Content": "C", "Level": "warning"})
		if err != nil {
			t.Fatal(err)
		}
		if subject != "[RemoteGPU] [警告 Warning] GPU 温度过高" || !strings.HasPrefix(text, "Bob，您好：") {
			t.Errorf("subject %q text:\n%s", subject, text)
		}
		_, text, _, err = mail.Render(mail.TemplateNotification, map[string]any{"Title": "T"})
		if err != nil || !strings.HasPrefix(text, "您好：") {
			t.Errorf("minimal map: %q, %v", text, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		if _, _, _, err := mail.Render("nope", nil); err == nil {
			t.Error("unknown template rendered")
		}
		if _, _, _, err := mail.Render(mail.TemplateNotification, map[string]any{"Content": "no title"}); err == nil {
			t.Error("notification without title rendered")
		}
		if _, _, _, err := mail.Render(mail.TemplatePasswordReset, mail.PasswordReset{}); err == nil {
			t.Error("password reset without code rendered")
		}
	})
}
