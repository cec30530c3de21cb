package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/alerting/eval"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/mailsink"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// newAlert stores a machine with an open critical GPU temperature alert and an admin.
func newAlert(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := context.Background()
	m := &store.Machine{Name: "hot-1", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "hot-1.test", SSHPort: 22,
		SSHUser: "root", SSHPasswordEnc: []byte{1}, Status: "online"}
	if err := st.CreateMachine(ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("Passw0rd-Test")
	for _, u := range []*store.User{
		{Username: "ops", Name: "运维", Email: "ops@example.test", Role: "admin", AuthSource: "local", PasswordHash: hash},
		{Username: "nomail", Name: "No Mail", Role: "admin", AuthSource: "local", PasswordHash: hash},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	th, v := 85.0, 93.5
	ch, err := st.ApplyAlertActions(ctx, map[string]eval.Actions{m.ID: {Open: []eval.NewAlert{{
		Key: eval.Key{Type: eval.TypeGPUTemp, GPU: 1}, Level: eval.LevelCritical, Threshold: &th, Value: &v, Duration: time.Minute,
		StartedAt: time.Now().Add(-time.Minute), OpenedAt: time.Now(),
		Message: eval.Message(eval.Rule{Type: eval.TypeGPUTemp, Threshold: 85, Duration: time.Minute}, eval.Key{Type: eval.TypeGPUTemp, GPU: 1}, 93.5, "")}}}})
	if err != nil || len(ch) != 1 {
		t.Fatalf("%+v %v", ch, err)
	}
	return ch[0].ID
}

func TestAlertNotice(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	id := newAlert(t, st)
	a := &Alerts{Store: st}
	n, err := a.LoadAlertNotice(context.Background(), AlertNoticeInput{AlertID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Recipients) != 1 || n.Recipients[0].Email != "ops@example.test" || n.Webhook {
		t.Fatalf("notice %+v", n)
	}
	_, err = a.LoadAlertNotice(context.Background(), AlertNoticeInput{AlertID: "00000000-0000-0000-0000-000000000000"})
	wantNonRetryable(t, err, "NotFound")
}

func TestMailAlert(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	id := newAlert(t, st)
	sink, err := mailsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	a := &Alerts{Store: st, Mail: mail.New(mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "RemoteGPU <no-reply@remotegpu.test>"})}
	if err := a.MailAlert(context.Background(), MailAlertInput{AlertID: id, To: "ops@example.test", Name: "运维",
		ConsoleURL: "https://console.test/admin/monitoring/alerts"}); err != nil {
		t.Fatal(err)
	}
	m, ok := sink.Latest("ops@example.test")
	if !ok || !strings.Contains(m.Subject, "hot-1") || !strings.Contains(m.Text, "GPU 1 温度 93.5 °C ≥ 85 °C，持续 60 秒") ||
		!strings.Contains(m.Text, "GPU 1 temperature 93.5 °C ≥ 85 °C for 60 s") || !strings.Contains(m.Text, "https://console.test/admin/monitoring/alerts") {
		t.Fatalf("mail %+v", m)
	}
	// no mail server configured: a permanent failure, not endless retries
	off := &Alerts{Store: st, Mail: mail.New(mail.Config{})}
	wantNonRetryable(t, off.MailAlert(context.Background(), MailAlertInput{AlertID: id, To: "ops@example.test"}), "MailDisabled")
}

func TestPostAlertWebhook(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	id := newAlert(t, st)
	var mu sync.Mutex
	status := http.StatusNoContent
	var got AlertWebhookPayload
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		header = r.Header.Clone()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()
	a := &Alerts{Store: st, WebhookURL: srv.URL + "/hook"}
	if err := a.PostAlertWebhook(ctx, AlertWebhookInput{AlertID: id, ConsoleURL: "https://console.test/x"}); err != nil {
		t.Fatal(err)
	}
	if got.Event != "alert.opened" || got.Alert.ID != id || got.Alert.MachineName != "hot-1" || got.Alert.Level != "critical" ||
		*got.Alert.Value != 93.5 || got.URL != "https://console.test/x" || header.Get("Content-Type") != "application/json" ||
		header.Get("Idempotency-Key") != "alert-opened:"+id {
		t.Fatalf("payload %+v, header %v", got, header)
	}
	for _, c := range []struct {
		status    int
		retryable bool
	}{{500, true}, {503, true}, {429, true}, {400, false}, {404, false}} {
		mu.Lock()
		status = c.status
		mu.Unlock()
		err := a.PostAlertWebhook(ctx, AlertWebhookInput{AlertID: id})
		if err == nil {
			t.Fatalf("%d: no error", c.status)
		}
		if !c.retryable {
			wantNonRetryable(t, err, "WebhookRefused")
		} else if isNonRetryable(err) {
			t.Fatalf("%d: %v is not retried", c.status, err)
		}
	}
	// no URL: nothing to do
	if err := (&Alerts{Store: st}).PostAlertWebhook(ctx, AlertWebhookInput{AlertID: id}); err != nil {
		t.Fatal(err)
	}
}

func isNonRetryable(err error) bool {
	var ae interface{ NonRetryable() bool }
	return errors.As(err, &ae) && ae.NonRetryable()
}
