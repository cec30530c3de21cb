package api_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

// The inbox returns a system notice's code and params with its English
// text, and an admin's message with its text and no code.
func TestNotificationCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	ctx := context.Background()
	params := map[string]any{"machine": "gpu-01", "gpuModel": "A100", "gpuCount": float64(8), "endAt": "2026-03-01T08:30:00Z"}
	b := &store.NotificationBatch{ID: "6f1d1c51-3b0a-4c36-9a8e-1d2f3e4a5b6c", TenantID: e.fx.tenantA.ID, Title: "Machine lease ending soon: gpu-01",
		Content: "Your lease of machine gpu-01 ends.", Code: "notices.leaseExpiring", Params: params, Level: "warning", SenderName: "system"}
	if _, err := e.st.DeliverSystemNotice(ctx, b, []string{e.fx.ownerA.ID}); err != nil {
		t.Fatal(err)
	}
	plain := &store.NotificationBatch{TenantID: e.fx.tenantA.ID, Title: "Maintenance", Content: "Tonight.", Level: "info"}
	if err := e.st.CreateNotificationBatch(ctx, plain, e.fx.admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DeliverNotification(ctx, plain.ID, []string{e.fx.ownerA.ID}); err != nil {
		t.Fatal(err)
	}
	var page api.NotificationPage
	e.login("owner-a").must(200, "GET", "/api/customer/notifications", nil).decode(t, &page)
	if page.Total != 2 {
		t.Fatalf("notifications %+v", page)
	}
	for _, n := range page.List {
		switch n.Title {
		case b.Title:
			if n.Code != "notices.leaseExpiring" || !reflect.DeepEqual(n.Params, params) || n.Content != b.Content {
				t.Fatalf("system notice %+v", n)
			}
		case "Maintenance":
			if n.Code != "" || len(n.Params) != 0 || n.Content != "Tonight." {
				t.Fatalf("admin message %+v", n)
			}
		default:
			t.Fatalf("notification %+v", n)
		}
	}
	// the raw JSON names them too
	var raw struct {
		List []map[string]any `json:"list"`
	}
	e.login("owner-a").must(200, "GET", "/api/customer/notifications", nil).decode(t, &raw)
	for _, n := range raw.List {
		if _, ok := n["code"]; !ok {
			t.Fatalf("no code in %v", n)
		}
		if _, ok := n["params"]; !ok {
			t.Fatalf("no params in %v", n)
		}
	}
}
