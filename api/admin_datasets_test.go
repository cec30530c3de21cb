package api_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/remotegpu/remotegpu/api"
)

func TestAdminDatasetLibrary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	d := e.datasets(t)
	fx := e.fx
	pub := d.create("", "", "imagenet-mini", "public")
	draft := d.create("", "", "draft", "private")
	custA := d.create(fx.tenantA.ID, fx.memberA.ID, "a-data", "private")
	custB := d.create(fx.tenantB.ID, fx.ownerB.ID, "b-data", "team")
	d.file(draft, "docs/readme.md", []byte("# draft"))
	admin, member := e.login("admin1"), e.login("member-a")

	var p struct {
		List  []api.AdminDatasetItem `json:"list"`
		Total int                    `json:"total"`
	}
	names := func(tab string) []string {
		admin.must(200, "GET", "/api/admin/datasets?sortBy=name&tab="+tab, nil).decode(t, &p)
		out := []string{}
		for _, it := range p.List {
			out = append(out, it.Name)
		}
		return out
	}
	sameNames(t, "public tab", names("public"), "draft", "imagenet-mini")
	sameNames(t, "customer tab", names("customer"), "a-data", "b-data")
	sameNames(t, "pending tab", names("pending"))
	if r := admin.do("GET", "/api/admin/datasets?tab=other", nil); r.Status != 400 {
		t.Fatalf("a bad tab: %d", r.Status)
	}
	admin.must(200, "GET", "/api/admin/datasets?tab=customer", nil).decode(t, &p)
	if p.List[0].TenantName == "" || !p.List[0].CanEdit {
		t.Fatalf("customer tab row: %+v", p.List[0])
	}

	// publishing: the platform's datasets only
	if r := admin.do("POST", "/api/admin/datasets/"+custA+"/set-public", nil); r.Status != 409 {
		t.Fatalf("a customer's dataset made public: %d", r.Status)
	}
	sameNames(t, "customers' public list", listNames(t, member, "/api/customer/datasets/public"), "imagenet-mini")
	var it api.DatasetItem
	admin.must(200, "POST", "/api/admin/datasets/"+draft+"/set-public", nil).decode(t, &it)
	if it.Access != "public" || dsAuditCount(t, e, "dataset.set_public", draft) != 1 {
		t.Fatalf("set-public: %+v", it)
	}
	sameNames(t, "customers' public list after", listNames(t, member, "/api/customer/datasets/public?sortBy=name"), "draft", "imagenet-mini")
	admin.must(200, "POST", "/api/admin/datasets/"+pub+"/set-private", nil)
	sameNames(t, "customers' public list at last", listNames(t, member, "/api/customer/datasets/public"), "draft")
	member.must(404, "GET", "/api/customer/datasets/"+pub, nil)
	// a public dataset is read-only to customers
	member.must(200, "GET", "/api/customer/datasets/"+draft, nil).decode(t, &it)
	if it.CanEdit || !it.Public {
		t.Fatalf("a customer's view of a public dataset: %+v", it)
	}
	if r := member.do("PUT", "/api/customer/datasets/"+draft, map[string]any{"name": "mine now"}); r.Status != 403 {
		t.Fatalf("a customer edits a public dataset: %d", r.Status)
	}

	// the admin edits and reads any dataset
	admin.must(200, "PUT", "/api/admin/datasets/"+custB, map[string]any{"description": "checked by the platform"}).decode(t, &it)
	if it.Description != "checked by the platform" || it.Access != "team" || dsAuditCount(t, e, "dataset.admin_update", custB) != 1 {
		t.Fatalf("admin edit: %+v", it)
	}
	if r := admin.do("PUT", "/api/admin/datasets/"+custB, map[string]any{"access": "public"}); r.Status != 400 {
		t.Fatalf("admin made a customer's dataset public by edit: %d", r.Status)
	}
	admin.must(200, "GET", "/api/admin/datasets/"+custA, nil)
	var files entryPage
	admin.must(200, "GET", "/api/admin/datasets/"+draft+"/files?dir=docs", nil).decode(t, &files)
	if files.Total != 1 || files.List[0].Path != "docs/readme.md" {
		t.Fatalf("admin files: %+v", files)
	}
	if r := admin.do("GET", "/api/admin/datasets/"+draft+"/preview/"+url.PathEscape("docs/readme.md"), nil); r.Status != 200 || string(r.Data) != "# draft" {
		t.Fatalf("admin preview: %d %q", r.Status, r.Data)
	}
	var link api.DownloadLink
	admin.must(200, "POST", "/api/admin/datasets/"+draft+"/download-link", map[string]any{"path": "docs/readme.md"}).decode(t, &link)
	if r := e.anon().do("GET", link.URL, nil); r.Status != 200 || string(r.Data) != "# draft" {
		t.Fatalf("admin download: %d %q", r.Status, r.Data)
	}
	// a customer's ticket is no admin's: the ticket names its user
	member.must(403, "POST", "/api/admin/datasets/"+draft+"/download-link", nil)

	admin.must(200, "DELETE", "/api/admin/datasets/"+custB, nil)
	admin.must(404, "GET", "/api/admin/datasets/"+custB, nil)
	if dsAuditCount(t, e, "dataset.admin_delete", custB) != 1 {
		t.Fatal("the admin's delete is not audited")
	}
	var deleted int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM datasets WHERE id = $1 AND deleted_at IS NOT NULL`, custB).Scan(&deleted); err != nil || deleted != 1 {
		t.Fatalf("deleted: %d %v", deleted, err)
	}
}
