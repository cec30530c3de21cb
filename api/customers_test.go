package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

type tenantPage struct {
	List     []store.Tenant `json:"list"`
	Total    int            `json:"total"`
	Page     int            `json:"page"`
	PageSize int            `json:"pageSize"`
}

func TestCustomerLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")

	body := map[string]any{"name": "赵六", "company": "Initech 科技", "email": "contact@initech.test", "phone": "+86 138-0000",
		"owner": map[string]any{"username": "initech-owner", "name": "赵六", "email": "zhao@initech.test"}}
	var created api.CreatedCustomer
	admin.must(201, "POST", "/api/admin/customers", body).decode(t, &created)
	if created.InitialPassword == "" || created.Owner.Role != "owner" || created.Customer.Status != "active" || created.Customer.Code == "" {
		t.Fatalf("created %+v", created)
	}
	// the generated password works, once given to the owner
	e.loginWith("initech-owner", created.InitialPassword)

	// duplicates are 409 with the field named
	dup := admin.must(409, "POST", "/api/admin/customers", body)
	if !strings.Contains(string(dup.Data), "body.company") {
		t.Fatalf("409 does not name the field: %s", dup.Data)
	}
	body["company"] = "Other Co"
	admin.must(409, "POST", "/api/admin/customers", body) // username taken
	// weak chosen password is a 400 at the field
	body["owner"] = map[string]any{"username": "other-owner", "email": "o@other.test", "password": "123"}
	r := admin.must(400, "POST", "/api/admin/customers", body)
	if !strings.Contains(string(r.Data), "body.owner.password") {
		t.Fatalf("400 does not name the field: %s", r.Data)
	}
	// bad email is rejected by validation
	admin.must(400, "POST", "/api/admin/customers", map[string]any{"name": "x", "company": "y", "email": "not-an-email", "owner": map[string]any{"username": "zzz"}})

	// list: search, status filter (named and as filters JSON), sort, pagination
	var page tenantPage
	admin.must(200, "GET", "/api/admin/customers?keyword=initech", nil).decode(t, &page)
	if page.Total != 1 || page.List[0].ID != created.Customer.ID || page.List[0].UserCount != 1 {
		t.Fatalf("search: %+v", page)
	}
	admin.must(200, "POST", "/api/admin/customers/"+e.fx.tenantB.ID+"/disable", nil)
	admin.must(200, "GET", "/api/admin/customers?status=disabled", nil).decode(t, &page)
	if page.Total != 1 || page.List[0].ID != e.fx.tenantB.ID || page.List[0].Status != "disabled" {
		t.Fatalf("status filter: %+v", page)
	}
	admin.must(200, "GET", "/api/admin/customers?filters="+url.QueryEscape(`{"status":"active"}`), nil).decode(t, &page)
	if page.Total != 2 {
		t.Fatalf("filters JSON: total %d", page.Total)
	}
	admin.must(400, "GET", "/api/admin/customers?filters=notjson", nil)
	admin.must(200, "GET", "/api/admin/customers?sortBy=company&order=desc&page=1&pageSize=2", nil).decode(t, &page)
	if page.Total != 3 || len(page.List) != 2 || page.PageSize != 2 || page.List[0].Company < page.List[1].Company {
		t.Fatalf("sort/page: %+v", page)
	}
	admin.must(200, "GET", "/api/admin/customers?sortBy=company&order=desc&page=2&pageSize=2", nil).decode(t, &page)
	if len(page.List) != 1 || page.Page != 2 {
		t.Fatalf("page 2: %+v", page)
	}
	admin.must(400, "GET", "/api/admin/customers?pageSize=1000", nil)

	// detail, edit, users
	var detail api.CustomerDetail
	admin.must(200, "GET", "/api/admin/customers/"+created.Customer.ID, nil).decode(t, &detail)
	if len(detail.Users) != 1 || detail.Users[0].Username != "initech-owner" {
		t.Fatalf("detail %+v", detail)
	}
	var upd store.Tenant
	admin.must(200, "PUT", "/api/admin/customers/"+created.Customer.ID, map[string]any{"name": "赵六", "company": "Initech Global",
		"email": "c@initech.test", "phone": "", "remark": "VIP"}).decode(t, &upd)
	if upd.Company != "Initech Global" || upd.Remark != "VIP" {
		t.Fatalf("update %+v", upd)
	}
	var cu api.CreatedUser
	admin.must(201, "POST", "/api/admin/customers/"+created.Customer.ID+"/users", map[string]any{"username": "initech-dev",
		"email": "dev@initech.test", "role": "member", "password": "Dev-Passw0rd"}).decode(t, &cu)
	if cu.InitialPassword != "" || cu.User.Role != "member" {
		t.Fatalf("created user %+v", cu)
	}
	var u store.User
	admin.must(200, "PUT", fmt.Sprintf("/api/admin/customers/%s/users/%s", created.Customer.ID, cu.User.ID),
		map[string]any{"name": "Dev", "email": "dev@initech.test", "phone": "", "role": "owner", "status": "active"}).decode(t, &u)
	if u.Role != "owner" {
		t.Fatalf("role not changed: %+v", u)
	}
	// a user of another customer is not reachable through this one
	admin.must(404, "PUT", fmt.Sprintf("/api/admin/customers/%s/users/%s", created.Customer.ID, e.fx.ownerA.ID),
		map[string]any{"name": "x", "email": "x@x.test", "phone": "", "role": "owner", "status": "active"})

	// the audit log has the creation, the update with before/after, and the role change
	var logs struct {
		List  []store.AuditLog `json:"list"`
		Total int              `json:"total"`
	}
	admin.must(200, "GET", "/api/admin/audit-logs?tenantId="+created.Customer.ID, nil).decode(t, &logs)
	seen := map[string]store.AuditLog{}
	for _, l := range logs.List {
		seen[l.Action] = l
	}
	for _, a := range []string{"customer.create", "customer.update", "user.create", "user.role_change"} {
		if _, ok := seen[a]; !ok {
			t.Errorf("audit lacks %s (%d entries)", a, logs.Total)
		}
	}
	if rc := seen["user.role_change"]; rc.Detail["before"] != "member" || rc.Detail["after"] != "owner" || rc.ActorName != "admin1" {
		t.Errorf("role change entry %+v", rc)
	}
	admin.must(200, "GET", "/api/admin/audit-logs?action=auth.&success=true", nil).decode(t, &logs)
	if logs.Total == 0 {
		t.Error("no successful auth.* entries")
	}
	admin.must(400, "GET", "/api/admin/audit-logs?tenantId=nope", nil)
	admin.must(400, "GET", "/api/admin/audit-logs?from=yesterday", nil)

	// delete removes the customer and its accounts
	admin.must(200, "DELETE", "/api/admin/customers/"+created.Customer.ID, nil)
	admin.must(404, "GET", "/api/admin/customers/"+created.Customer.ID, nil)
	admin.must(404, "DELETE", "/api/admin/customers/"+created.Customer.ID, nil)
	e.anon().must(401, "POST", "/api/auth/login", map[string]any{"username": "initech-owner", "password": created.InitialPassword})
}

func TestAnnouncements(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin := e.login("admin1")
	var a store.Announcement
	admin.must(201, "POST", "/api/admin/announcements", map[string]any{"title": "维护通知", "content": "周六维护", "level": "warning", "published": true}).decode(t, &a)
	admin.must(201, "POST", "/api/admin/announcements", map[string]any{"title": "Draft", "content": "", "level": "info", "published": false})
	var page struct {
		List  []store.Announcement `json:"list"`
		Total int                  `json:"total"`
	}
	e.anon().must(200, "GET", "/api/public/announcements", nil).decode(t, &page)
	if page.Total != 1 || page.List[0].Title != "维护通知" {
		t.Fatalf("public sees %+v", page)
	}
	admin.must(200, "GET", "/api/admin/announcements", nil).decode(t, &page)
	if page.Total != 2 {
		t.Fatalf("admin sees %d", page.Total)
	}
	admin.must(200, "PUT", "/api/admin/announcements/"+a.ID, map[string]any{"title": "维护通知", "content": "改期", "level": "info", "published": false})
	e.anon().must(200, "GET", "/api/public/announcements", nil).decode(t, &page)
	if page.Total != 0 {
		t.Fatalf("unpublished still public: %+v", page)
	}
	admin.must(200, "DELETE", "/api/admin/announcements/"+a.ID, nil)
	admin.must(404, "DELETE", "/api/admin/announcements/"+a.ID, nil)
	var st api.PublicStatus
	e.anon().must(200, "GET", "/api/public/status", nil).decode(t, &st)
	if st.LDAP.Enabled || st.Maintenance {
		t.Fatalf("status without LDAP: %+v", st)
	}
}
