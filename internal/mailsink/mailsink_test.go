package mailsink_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/mailsink"
)

func startSink(t *testing.T) *mailsink.Sink {
	t.Helper()
	s, err := mailsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func senderFor(s *mailsink.Sink) mail.Sender {
	return mail.New(mail.Config{Host: s.Host(), Port: s.Port(), From: "RemoteGPU 平台 <noreply@remotegpu.test>", TLS: mail.TLSNone, Timeout: 5 * time.Second})
}

func TestSendThroughMailPackage(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	sender := senderFor(sink)

	tests := []struct {
		name string
		msg  mail.Message
	}{
		{"text and html", mail.Message{To: []string{"alice@acme.test"}, Subject: "机器即将到期 — GPU lease expiring",
			Text: "您好，\n您的机器将于 3 天后到期。\nYour machine expires in 3 days. ünïcödé = 100%",
			HTML: "<p>您好，</p><p>您的机器将于 <b>3 天</b>后到期。</p>"}},
		{"text only", mail.Message{To: []string{"bob@acme.test"}, Subject: "纯文本", Text: "只有文本。\nLine two, a long one: " + strings.Repeat("长", 200)}},
		{"html only", mail.Message{To: []string{"carol@globex.test"}, Subject: "HTML only", HTML: "<h1>标题</h1>"}},
		{"several recipients", mail.Message{To: []string{"dave@globex.test", "Erin <erin@acme.test>"}, Subject: "群发", Text: "大家好"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sender.Send(t.Context(), tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			for _, to := range tt.msg.To {
				got, ok := sink.Latest(to)
				if !ok {
					t.Fatalf("no mail for %s", to)
				}
				if got.Subject != tt.msg.Subject {
					t.Errorf("subject = %q, want %q", got.Subject, tt.msg.Subject)
				}
				if strings.TrimRight(got.Text, "\n") != tt.msg.Text {
					t.Errorf("text = %q, want %q", got.Text, tt.msg.Text)
				}
				if strings.TrimRight(got.HTML, "\n") != tt.msg.HTML {
					t.Errorf("html = %q, want %q", got.HTML, tt.msg.HTML)
				}
				if got.From != "noreply@remotegpu.test" || got.HeaderFrom != "RemoteGPU 平台 <noreply@remotegpu.test>" {
					t.Errorf("from = %q, header from = %q", got.From, got.HeaderFrom)
				}
				if got.ParseError != "" {
					t.Errorf("parse error %s", got.ParseError)
				}
			}
		})
	}

	t.Run("rendered password reset", func(t *testing.T) {
		msg, err := mail.Build(mail.TemplatePasswordReset, mail.PasswordReset{Name: "王小明", Code: "482913"}, "bob@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		since := time.Now()
		if err := sender.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := sink.WaitFor(ctx, "BOB@acme.test", since)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != msg.Subject || !strings.Contains(got.Subject, "密码重置") {
			t.Errorf("subject = %q", got.Subject)
		}
		for _, want := range []string{"482913", "王小明", "10 分钟", "10 minutes"} {
			if !strings.Contains(got.Text, want) || !strings.Contains(got.HTML, want) {
				t.Errorf("text or html lacks %q:\n%s\n%s", want, got.Text, got.HTML)
			}
		}
	})

	t.Run("credentials are not sent in clear text", func(t *testing.T) {
		s := mail.New(mail.Config{Host: sink.Host(), Port: sink.Port(), Username: "dev", Password: "dev", From: "noreply@remotegpu.test", TLS: mail.TLSNone})
		err := s.Send(t.Context(), mail.Message{To: []string{"auth@acme.test"}, Subject: "auth", Text: "ok"})
		if err == nil {
			t.Fatal("Send offered PLAIN credentials without TLS")
		}
		if strings.Contains(err.Error(), "dev") && strings.Contains(err.Error(), "password") {
			t.Errorf("error mentions credentials: %v", err)
		}
	})

	t.Run("AUTH PLAIN accepted", func(t *testing.T) {
		auth := smtp.PlainAuth("", "dev", "anything", sink.Host())
		raw := "From: a@b\r\nTo: auth@acme.test\r\nSubject: auth\r\n\r\nok\r\n"
		if err := smtp.SendMail(sink.Addr(), auth, "a@b", []string{"auth@acme.test"}, []byte(raw)); err != nil {
			t.Fatalf("SendMail with AUTH PLAIN: %v", err)
		}
		if m, ok := sink.Latest("auth@acme.test"); !ok || m.Text != "ok\n" {
			t.Errorf("Latest = %+v, %v", m, ok)
		}
	})

	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		s := mail.New(mail.Config{Host: sink.Host(), Port: sink.Port(), From: "noreply@remotegpu.test", TLS: mail.TLSStartTLS})
		if err := s.Send(t.Context(), mail.Message{To: []string{"tls@acme.test"}, Subject: "x", Text: "x"}); err == nil {
			t.Error("Send without STARTTLS succeeded with TLS starttls")
		}
		if _, ok := sink.Latest("tls@acme.test"); ok {
			t.Error("mail delivered in clear text")
		}
	})
}

// Hand-written messages in encodings go-mail does not produce.
func TestParseMIME(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("测试主题")
	gbkBody, _ := simplifiedchinese.GBK.NewEncoder().String("GBK 正文")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	tests := []struct {
		name                string
		raw                 string
		subject, text, html string
		attachments         []string
	}{
		{
			name:    "plain, no MIME",
			raw:     "From: a@b\r\nTo: plain@test\r\nSubject: hello\r\n\r\nline 1\r\nline 2\r\n",
			subject: "hello", text: "line 1\nline 2\n",
		},
		{
			name: "GBK base64 subject and body",
			raw: "From: a@b\r\nTo: gbk@test\r\nSubject: =?GBK?B?" + b64(gbk) + "?=\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(gbkBody) + "\r\n",
			subject: "测试主题", text: "GBK 正文",
		},
		{
			name: "mixed with alternative, quoted-printable and an attachment",
			raw: "From: a@b\r\nTo: mixed@test\r\nSubject: =?UTF-8?Q?=E4=BD=A0=E5=A5=BD?= world\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=OUTER\r\n\r\n" +
				"--OUTER\r\nContent-Type: multipart/alternative; boundary=INNER\r\n\r\n" +
				"--INNER\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"=E4=BD=A0=E5=A5=BD, a soft=\r\n break\r\n" +
				"--INNER\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64("<p>你好</p>")[:8] + "\r\n" + b64("<p>你好</p>")[8:] + "\r\n" +
				"--INNER--\r\n" +
				"--OUTER\r\nContent-Type: application/pdf; name=\"=?UTF-8?B?" + b64("合同.pdf") + "?=\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n" +
				"--OUTER--\r\n",
			subject: "你好 world", text: "你好, a soft break", html: "<p>你好</p>", attachments: []string{"合同.pdf"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := strings.TrimPrefix(strings.SplitN(strings.SplitN(tt.raw, "To: ", 2)[1], "\r\n", 2)[0], "")
			if err := smtp.SendMail(sink.Addr(), nil, "a@b", []string{to}, []byte(tt.raw)); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			got, ok := sink.Latest(to)
			if !ok {
				t.Fatal("no mail")
			}
			if got.ParseError != "" {
				t.Errorf("parse error: %s", got.ParseError)
			}
			if got.Subject != tt.subject || got.Text != tt.text || got.HTML != tt.html {
				t.Errorf("got subject %q text %q html %q\nwant subject %q text %q html %q", got.Subject, got.Text, got.HTML, tt.subject, tt.text, tt.html)
			}
			if strings.Join(got.Attachments, "|") != strings.Join(tt.attachments, "|") {
				t.Errorf("attachments = %q, want %q", got.Attachments, tt.attachments)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	sender := senderFor(sink)
	for _, m := range []mail.Message{
		{To: []string{"alice@acme.test"}, Subject: "first <script>", Text: "one & two", HTML: `<p onclick="x()">一 "quoted"</p>`},
		{To: []string{"bob@acme.test"}, Subject: "second 第二", Text: "two"},
	} {
		if err := sender.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sink.Handler())
	t.Cleanup(srv.Close)

	get := func(t *testing.T, path string) (int, string, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}

	t.Run("json", func(t *testing.T) {
		code, ct, body := get(t, "/dev/mail.json")
		if code != 200 || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("status %d, type %s", code, ct)
		}
		var msgs []mailsink.Message
		if err := json.Unmarshal([]byte(body), &msgs); err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[0].Subject != "second 第二" || msgs[1].Subject != "first <script>" {
			t.Fatalf("messages not newest first: %+v", msgs)
		}
		if msgs[1].ID == "" || msgs[1].ReceivedAt.IsZero() || msgs[1].To[0] != "alice@acme.test" {
			t.Errorf("message fields: %+v", msgs[1])
		}
	})
	t.Run("json filtered", func(t *testing.T) {
		_, _, body := get(t, "/dev/mail.json?to=ALICE@acme.test")
		var msgs []mailsink.Message
		if err := json.Unmarshal([]byte(body), &msgs); err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].To[0] != "alice@acme.test" {
			t.Fatalf("filtered: %+v", msgs)
		}
		_, _, body = get(t, "/dev/mail.json?to=nobody@x")
		if strings.TrimSpace(body) != "[]" {
			t.Errorf("no match gives %s, want []", body)
		}
	})
	t.Run("page", func(t *testing.T) {
		code, ct, body := get(t, "/dev/mail")
		if code != 200 || !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("status %d, type %s", code, ct)
		}
		for _, want := range []string{"second 第二", "first &lt;script&gt;", "one &amp; two", "srcdoc=", "sandbox", "setInterval", "5000"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Index(body, "second 第二") > strings.Index(body, "first &lt;script&gt;") {
			t.Error("page not newest first")
		}
		if strings.Contains(body, "<script>\n") && strings.Count(body, "<script>") != 1 {
			t.Error("subject not escaped")
		}
		if strings.Contains(body, `onclick="x()"`) {
			t.Error("HTML body not escaped into srcdoc")
		}
	})
	t.Run("mounted with chi", func(t *testing.T) {
		r := chi.NewRouter()
		r.Mount("/dev", sink.Handler())
		for _, path := range []string{"/dev/mail", "/dev/mail.json"} {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "second") {
				t.Errorf("GET %s through chi: %d", path, rec.Code)
			}
		}
	})
	t.Run("other paths", func(t *testing.T) {
		if code, _, _ := get(t, "/dev/other"); code != http.StatusNotFound {
			t.Errorf("status %d, want 404", code)
		}
		res, err := http.Post(srv.URL+"/dev/mail", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST status %d, want 405", res.StatusCode)
		}
	})
}

func TestWaitAndClose(t *testing.T) {
	t.Parallel()
	sink := startSink(t)
	sender := senderFor(sink)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	since := time.Now()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = sender.Send(context.Background(), mail.Message{To: []string{"later@acme.test"}, Subject: "later", Text: "x"})
	}()
	got, err := sink.WaitFor(ctx, "later@acme.test", since)
	if err != nil || got.Subject != "later" {
		t.Fatalf("WaitFor = %+v, %v", got, err)
	}

	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := sink.WaitFor(short, "never@acme.test", since); err == nil {
		t.Error("WaitFor without mail returned no error")
	}

	sink.Clear()
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("%d messages after Clear", n)
	}
	if err := sink.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := sink.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := sink.Wait(t.Context(), nil); err == nil {
		t.Error("Wait after Close returned no error")
	}
	if err := sender.Send(t.Context(), mail.Message{To: []string{"x@y"}, Subject: "x", Text: "x"}); err == nil {
		t.Error("Send to a closed sink succeeded")
	}
}
