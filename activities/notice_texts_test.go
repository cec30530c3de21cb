package activities

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/store"
)

type mailBox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (m *mailBox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// Every code has a text in each language the mail shows.
func TestNoticeTextsComplete(t *testing.T) {
	for code, langs := range noticeTexts {
		for _, lang := range NoticeLanguages {
			if _, ok := langs[lang]; !ok {
				t.Errorf("%s has no %s text", code, lang)
			}
		}
	}
	end := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	title, content, ok := NoticeMailText(NoticeLeaseExpiring, ExpiringNoticeParams("gpu-01", "A100", 8, end))
	if !ok || title != "机器即将到期：gpu-01 / Machine lease ending soon: gpu-01" ||
		!strings.Contains(content, "（8 × A100）将于 2026-03-01 08:30 UTC 到期") ||
		!strings.Contains(content, "\n\nYour lease of machine gpu-01 (8 × A100) ends on 2026-03-01 08:30 UTC.") {
		t.Fatalf("mail text %v %q %q", ok, title, content)
	}
	if _, _, ok := NoticeMailText("notices.nope", nil); ok {
		t.Fatal("an unknown code has a text")
	}
}

func TestTaskDoneNotice(t *testing.T) {
	code, params := TaskDoneNotice("t1", "train", store.TaskFailed, "tasks.reason.exitCode", map[string]any{"code": 2})
	if code != NoticeTaskFailed || params["name"] != "train" || params["status"] != "failed" || params["statusReason"] != "tasks.reason.exitCode" ||
		params["taskId"] != "t1" || params["reason"] != nil {
		t.Fatalf("failed: %s %v", code, params)
	}
	code, params = TaskDoneNotice("t1", "train", store.TaskStopped, ReasonStoppedByAdmin, map[string]any{"reason": "maintenance"})
	if code != NoticeTaskStoppedByAdmin || params["reason"] != "maintenance" {
		t.Fatalf("admin stop: %s %v", code, params)
	}
	if title, content := englishNotice(code, params); title != "Task stopped: train" ||
		content != "Your task train was stopped by a platform administrator. Reason: maintenance" {
		t.Fatalf("admin stop text %q %q", title, content)
	}
	if code, _ := TaskDoneNotice("t1", "train", store.TaskSucceeded, "", nil); code != NoticeTaskSucceeded {
		t.Fatalf("succeeded: %s", code)
	}
}

// NotifyTaskDone stores the notice's code and params (with an English
// text), and its mail is rendered from the code in both languages.
func TestNotifyTaskDoneStoresCode(t *testing.T) {
	f := newAllocFixture(t)
	ctx := context.Background()
	var taskID string
	if err := f.st.Pool.QueryRow(ctx, `INSERT INTO tasks (tenant_id, created_by, name, type, machine_id, gpu_count, image, command,
			notify_in_app, notify_mail, status, status_reason, status_params)
		VALUES ($1, $2, 'train-1', 'training', $3, 1, 'img', 'true', false, true, 'stopped', $4, '{"reason": "maintenance"}') RETURNING id`,
		f.tenantID, f.owner.ID, f.machineID, ReasonStoppedByAdmin).Scan(&taskID); err != nil {
		t.Fatal(err)
	}
	a := &Tasks{Store: f.st}
	res, err := a.NotifyTaskDone(ctx, NotifyTaskDoneInput{TaskID: taskID})
	if err != nil || res.Skipped || res.Owners != 1 || len(res.Recipients) != 1 {
		t.Fatalf("notice %+v %v", res, err)
	}
	list, _, _, err := f.st.ListNotifications(ctx, f.tenantID, f.owner.ID, false, store.Page{Page: 1, PageSize: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("notifications %+v %v", list, err)
	}
	n := list[0]
	wantParams := map[string]any{"taskId": taskID, "name": "train-1", "status": "stopped", "statusReason": ReasonStoppedByAdmin,
		"statusParams": map[string]any{"reason": "maintenance"}, "reason": "maintenance"}
	if n.Code != NoticeTaskStoppedByAdmin || !reflect.DeepEqual(n.Params, wantParams) || n.Title != "Task stopped: train-1" ||
		n.Content != "Your task train-1 was stopped by a platform administrator. Reason: maintenance" || n.Level != "warning" {
		t.Fatalf("notification %+v", n)
	}

	box := &mailBox{}
	nt := &Notifications{Store: f.st, Mail: box}
	if err := nt.MailNotification(ctx, MailInput{BatchID: res.BatchID, To: "owner@acme.test", Name: "Owner"}); err != nil {
		t.Fatal(err)
	}
	if len(box.sent) != 1 {
		t.Fatalf("%d mails", len(box.sent))
	}
	m := box.sent[0]
	if !strings.Contains(m.Subject, "任务已停止：train-1 / Task stopped: train-1") ||
		!strings.Contains(m.Text, "您的任务 train-1 已被平台管理员停止。原因：maintenance") ||
		!strings.Contains(m.Text, "Your task train-1 was stopped by a platform administrator. Reason: maintenance") {
		t.Fatalf("mail %q\n%s", m.Subject, m.Text)
	}

	// A message written by an admin has no code: listed and mailed with its text.
	b := &store.NotificationBatch{TenantID: f.tenantID, Title: "Maintenance", Content: "Tonight.", Level: "info"}
	if err := f.st.CreateNotificationBatch(ctx, b, f.owner.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DeliverNotification(ctx, b.ID, []string{f.owner.ID}); err != nil {
		t.Fatal(err)
	}
	if err := nt.MailNotification(ctx, MailInput{BatchID: b.ID, To: "owner@acme.test", Name: "Owner"}); err != nil {
		t.Fatal(err)
	}
	if m := box.sent[1]; !strings.Contains(m.Subject, "Maintenance") || !strings.Contains(m.Text, "Tonight.") {
		t.Fatalf("admin mail %q\n%s", m.Subject, m.Text)
	}
	list, _, _, err = f.st.ListNotifications(ctx, f.tenantID, f.owner.ID, false, store.Page{Page: 1, PageSize: 10})
	if err != nil || len(list) != 2 {
		t.Fatalf("notifications %+v %v", list, err)
	}
	for _, n := range list {
		if n.Title == "Maintenance" && (n.Code != "" || len(n.Params) != 0) {
			t.Fatalf("admin notification %+v", n)
		}
	}
}

// Every code the activities store has its title and content in both of the
// console's languages (web/src/locales/codes/notices.ts: zh, then en).
func TestNoticeCodesInConsole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "web", "src", "locales", "codes", "notices.ts"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, "export const en")
	if i < 0 {
		t.Fatal("no en block in notices.ts")
	}
	for code := range noticeTexts {
		key := "\n  " + strings.TrimPrefix(code, "notices.") + ": {\n    title: "
		if !strings.Contains(src[:i], key) || !strings.Contains(src[i:], key) {
			t.Errorf("%s: no title in both languages in notices.ts", code)
		}
	}
}
