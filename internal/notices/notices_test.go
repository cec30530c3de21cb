package notices_test

import (
	"context"
	"testing"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/notices"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func code(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

func TestAnnouncementsAreAudited(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	svc := notices.New(st, nil, "")
	ctx := caller.WithPrincipal(context.Background(), &caller.Principal{Username: "admin", Role: "admin"})
	a, err := svc.CreateAnnouncement(ctx, notices.AnnouncementInput{Title: "维护通知", Level: "warning", Published: true})
	if err != nil || a.ID == "" {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err = svc.UpdateAnnouncement(ctx, a.ID, notices.AnnouncementInput{Title: "改期", Level: "info"}); err != nil || a.Published {
		t.Fatalf("%+v %v", a, err)
	}
	if err := svc.DeleteAnnouncement(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteAnnouncement(ctx, a.ID); code(err) != "accounts.announcementNotFound" {
		t.Fatalf("deleting twice: %v", err)
	}
	var n int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action LIKE 'announcement.%'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d audit records (%v)", n, err)
	}
	// without its audit record nothing is published
	if _, err := st.Pool.Exec(context.Background(), `CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
		CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_down();`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAnnouncement(ctx, notices.AnnouncementInput{Title: "x", Level: "info", Published: true}); err == nil {
		t.Fatal("published without its audit record")
	}
	if _, total, _ := st.ListAnnouncements(context.Background(), false, store.Page{}); total != 0 {
		t.Fatalf("%d announcements", total)
	}
}

func TestSendAndInbox(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	svc := notices.New(st, nil, "")
	ctx := context.Background()
	tenant := &store.Tenant{Name: "A", Company: "Acme", Code: "acme", Status: "active"}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	admin := caller.WithPrincipal(ctx, &caller.Principal{Username: "admin", Role: "admin"})
	if _, err := svc.Send(admin, notices.SendInput{TenantID: "00000000-0000-0000-0000-000000000000", Title: "t", Content: "c", Level: "info"}); code(err) != "accounts.customerNotFound" {
		t.Fatalf("unknown customer: %v", err)
	}
	if _, err := svc.Send(admin, notices.SendInput{TenantID: tenant.ID, Title: "t", Content: "c", Level: "info"}); code(err) != "accounts.notifyUnavailable" {
		t.Fatalf("without Temporal: %v", err)
	}
	u := &store.User{TenantID: &tenant.ID, Username: "acme-owner", Role: "owner", AuthSource: "local"}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	owner := caller.WithPrincipal(ctx, &caller.Principal{UserID: u.ID, TenantID: tenant.ID, Role: "owner"})
	if _, err := svc.MarkRead(owner, "00000000-0000-0000-0000-000000000000"); code(err) != "accounts.notificationNotFound" {
		t.Fatalf("unknown notification: %v", err)
	}
	if n, err := svc.MarkRead(owner, ""); err != nil || n != 0 {
		t.Fatalf("read all: %d %v", n, err)
	}
}
