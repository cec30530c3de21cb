package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

func newPublicKey(t *testing.T, comment string) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))) + " " + comment
}

func TestSSHKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	s := e.login("member-a")
	pk := newPublicKey(t, "laptop")
	var k store.SSHKey
	s.must(201, "POST", "/api/customer/ssh-keys", map[string]any{"name": "Laptop", "publicKey": pk}).decode(t, &k)
	if !strings.HasPrefix(k.Fingerprint, "SHA256:") || k.KeyType != "ssh-ed25519" || k.Comment != "laptop" {
		t.Fatalf("key %+v", k)
	}
	r := s.must(409, "POST", "/api/customer/ssh-keys", map[string]any{"name": "Again", "publicKey": pk})
	if !strings.Contains(r.Message, k.Fingerprint) || !strings.Contains(string(r.Data), `"reason":"accounts.duplicateSSHKey"`) ||
		!strings.Contains(string(r.Data), `"fingerprint":"`+k.Fingerprint+`"`) {
		t.Fatalf("duplicate message %q %s", r.Message, r.Data)
	}
	r = s.must(400, "POST", "/api/customer/ssh-keys", map[string]any{"name": "Bad", "publicKey": "ssh-rsa not-a-key"})
	if !strings.Contains(string(r.Data), "body.publicKey") || !strings.Contains(string(r.Data), `"reason":"accounts.invalidSSHKey"`) {
		t.Fatalf("400 without field: %s", r.Data)
	}
	// the same key may belong to another user
	e.login("owner-a").must(201, "POST", "/api/customer/ssh-keys", map[string]any{"name": "Shared", "publicKey": pk})
	var keys api.Page[store.SSHKey]
	s.must(200, "GET", "/api/customer/ssh-keys", nil).decode(t, &keys)
	if len(keys.List) != 1 || keys.Total != 1 || keys.List[0].ID != k.ID || keys.Page != 1 {
		t.Fatalf("list %+v", keys)
	}
	s.must(200, "DELETE", "/api/customer/ssh-keys/"+k.ID, nil)
	s.must(404, "DELETE", "/api/customer/ssh-keys/"+k.ID, nil)
	s.must(200, "GET", "/api/customer/ssh-keys", nil).decode(t, &keys)
	if len(keys.List) != 0 || keys.Total != 0 {
		t.Fatalf("deleted key still listed")
	}
}

func TestProfileAndAvatar(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	s := e.login("owner-a")
	var me api.Me
	s.must(200, "PUT", "/api/customer/profile", map[string]any{"name": "新名字", "email": "new-a@example.test", "phone": "13900000000", "currentPassword": testPassword}).decode(t, &me)
	if me.Name != "新名字" || me.Email != "new-a@example.test" || me.Phone != "13900000000" {
		t.Fatalf("profile %+v", me)
	}
	s.must(409, "PUT", "/api/customer/profile", map[string]any{"name": "x", "email": "owner-b@example.test", "phone": "", "currentPassword": testPassword})
	s.must(400, "PUT", "/api/customer/profile", map[string]any{"name": "x", "email": "not-mail", "phone": ""})

	s.must(404, "GET", "/api/customer/profile/avatar", nil)
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var pngBytes bytes.Buffer
	_ = png.Encode(&pngBytes, img)
	s.must(200, "POST", "/api/customer/profile/avatar", formFile(t, "a.png", "image/png", pngBytes.Bytes())).decode(t, &me)
	if !me.HasAvatar {
		t.Fatal("hasAvatar false after upload")
	}
	r := s.must(200, "GET", "/api/customer/profile/avatar", nil)
	if !bytes.Equal(r.Data, pngBytes.Bytes()) || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("avatar back: %d bytes, %s", len(r.Data), r.Header.Get("Content-Type"))
	}
	// a text file that claims to be a PNG is refused by its bytes
	s.must(400, "POST", "/api/customer/profile/avatar", formFile(t, "x.png", "image/png", []byte("hello, not an image")))
	// too big
	big := append(append([]byte{}, pngBytes.Bytes()...), make([]byte, 2<<20)...)
	s.must(400, "POST", "/api/customer/profile/avatar", formFile(t, "big.png", "image/png", big))
	s.must(413, "POST", "/api/customer/profile/avatar", formFile(t, "huge.png", "image/png", make([]byte, 3<<20)))
	// another user of the same tenant has no avatar
	e.login("member-a").must(404, "GET", "/api/customer/profile/avatar", nil)
}

func formFile(t *testing.T, name, ct string, data []byte) multipartBody {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	h["Content-Type"] = []string{ct}
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = w.Close()
	return multipartBody{data: buf.Bytes(), contentType: w.FormDataContentType()}
}

func TestSendNotificationWorkflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	since := time.Now()
	var sent api.SentNotification
	admin.must(202, "POST", "/api/admin/customers/"+e.fx.tenantA.ID+"/notifications",
		map[string]any{"title": "维护通知", "content": "本周六 02:00 维护", "level": "warning", "sendEmail": true}).decode(t, &sent)
	if sent.WorkflowID != "notification:"+sent.BatchID {
		t.Fatalf("workflow id %q", sent.WorkflowID)
	}
	// both users of tenant A get the mail; nobody of tenant B does
	for _, to := range []string{"owner-a@example.test", "member-a@example.test"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		m, err := e.sink.WaitFor(ctx, to, since)
		cancel()
		if err != nil {
			t.Fatalf("no mail to %s: %v", to, err)
		}
		if !strings.Contains(m.Subject+m.Text, "维护通知") {
			t.Fatalf("mail %q / %q", m.Subject, m.Text)
		}
	}
	var batches struct {
		List []store.NotificationBatch `json:"list"`
	}
	waitFor(t, "batch sent", func() bool {
		admin.must(200, "GET", "/api/admin/customers/"+e.fx.tenantA.ID+"/notifications", nil).decode(t, &batches)
		return len(batches.List) == 1 && batches.List[0].Status == "sent"
	})
	if batches.List[0].Recipients != 2 {
		t.Fatalf("batch %+v", batches.List[0])
	}
	if _, ok := e.sink.Latest("owner-b@example.test"); ok {
		t.Fatal("tenant B got tenant A's mail")
	}

	owner := e.login("owner-a")
	var page api.NotificationPage
	owner.must(200, "GET", "/api/customer/notifications", nil).decode(t, &page)
	if page.Total != 1 || page.Unread != 1 || page.List[0].Title != "维护通知" {
		t.Fatalf("notifications %+v", page)
	}
	owner.must(200, "POST", "/api/customer/notifications/"+page.List[0].ID+"/read", nil)
	owner.must(200, "GET", "/api/customer/notifications?unread=true", nil).decode(t, &page)
	if page.Total != 0 || page.Unread != 0 {
		t.Fatalf("after read %+v", page)
	}
	member := e.login("member-a")
	var marked api.MarkedRead
	member.must(200, "POST", "/api/customer/notifications/read-all", nil).decode(t, &marked)
	if marked.Marked != 1 {
		t.Fatalf("read-all marked %d", marked.Marked)
	}
	e.login("owner-b").must(200, "GET", "/api/customer/notifications", nil).decode(t, &page)
	if page.Total != 0 {
		t.Fatal("tenant B sees tenant A's notification")
	}
}
