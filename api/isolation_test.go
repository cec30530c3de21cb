package api_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/store"
)

// TestTenantIsolation walks every operation of the OpenAPI document: each
// customer operation with an ID in its path, called by a user of tenant A
// with tenant B's IDs, answers 404; each admin operation called by a
// customer answers 403. A new endpoint is covered the day it is added; one
// with an ID kind this test does not know fails it until it is taught.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	ctx := context.Background()
	fx := e.fx

	// resources of tenant B, by path parameter context
	keyB := store.SSHKey{Name: "b", KeyType: "ssh-ed25519", PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:b"}
	if err := e.st.CreateSSHKey(ctx, fx.tenantB.ID, fx.ownerB.ID, &keyB); err != nil {
		t.Fatal(err)
	}
	batch := store.NotificationBatch{TenantID: fx.tenantB.ID, Title: "t", Content: "c", Level: "info"}
	if err := e.st.CreateNotificationBatch(ctx, &batch, fx.admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DeliverNotification(ctx, batch.ID, []string{fx.ownerB.ID, fx.memberB.ID}); err != nil {
		t.Fatal(err)
	}
	var notifB string
	if err := e.st.Pool.QueryRow(ctx, `SELECT id FROM notifications WHERE user_id = $1`, fx.ownerB.ID).Scan(&notifB); err != nil {
		t.Fatal(err)
	}
	machineB := &store.Machine{Name: "b-machine", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "b.example", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := e.st.CreateMachine(ctx, machineB, ""); err != nil {
		t.Fatal(err)
	}
	allocB, err := e.st.CreateAllocation(ctx, fx.tenantB.ID, machineB.ID, 1, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.ActivateAllocation(ctx, allocB, time.Now(), time.Now().AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	taskB, err := e.st.CreateTask(ctx, store.TaskSpec{TenantID: fx.tenantB.ID, Name: "b-task", Type: "training", MachineID: machineB.ID,
		GPUCount: 1, Image: "img", Command: "true", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	datasetB, err := e.st.CreateDataset(ctx, store.NewDataset{TenantID: fx.tenantB.ID, CreatedBy: fx.ownerB.ID, Name: "b-data", Type: "text",
		Access: store.AccessTeam, Source: "upload", Status: store.DatasetAvailable})
	if err != nil {
		t.Fatal(err)
	}
	mountB, err := e.st.CreateDatasetMount(ctx, store.NewDatasetMount{TenantID: fx.tenantB.ID, DatasetID: datasetB, MachineID: machineB.ID,
		Path: "/data/b"})
	if err != nil {
		t.Fatal(err)
	}
	idsOfB := map[string]string{
		"/api/customer/datasets/{id}/mounts":            datasetB,
		"/api/customer/datasets/{id}/mount":             datasetB,
		"/api/customer/datasets/{id}/unmount":           datasetB,
		"/api/customer/datasets/mounts/{id}":            mountB,
		"/api/customer/tasks/{id}":                      taskB,
		"/api/customer/tasks/{id}/details":              taskB,
		"/api/customer/tasks/{id}/stop":                 taskB,
		"/api/customer/tasks/{id}/restart":              taskB,
		"/api/customer/tasks/{id}/logs":                 taskB,
		"/api/customer/tasks/{id}/metrics":              taskB,
		"/api/customer/tasks/{id}/outputs":              taskB,
		"/api/customer/tasks/{id}/outputs/download":     taskB,
		"/api/customer/machines/{id}/tasks":             machineB.ID,
		"/api/customer/machines/{id}":                   machineB.ID,
		"/api/customer/machines/{id}/reveal-password":   machineB.ID,
		"/api/customer/machines/{id}/connection-events": machineB.ID,
		"/api/customer/ssh-keys/{id}":                   keyB.ID,
		"/api/customer/notifications/{id}/read":         notifB,
		"/api/customer/monitoring/{machineId}/realtime": machineB.ID,
		"/api/customer/machines/{id}/monitoring":        machineB.ID,
		"/api/customer/machines/{id}/processes":         machineB.ID,
		// datasets: tenant B's team dataset (a nested path parameter gets the same ID)
		"/api/customer/datasets/{id}":                    datasetB,
		"/api/customer/datasets/{id}/files":              datasetB,
		"/api/customer/datasets/{id}/files/rename":       datasetB,
		"/api/customer/datasets/{id}/preview/{filePath}": datasetB,
		"/api/customer/datasets/{id}/download-link":      datasetB,
		"/api/customer/datasets/{id}/tasks":              datasetB,
		"/api/customer/datasets/{id}/shares":             datasetB,
		"/api/customer/datasets/{id}/share":              datasetB,
		"/api/customer/datasets/{id}/shares/{shareId}":   datasetB,
	}

	// bodies that pass validation, so the 404 comes from the tenant check
	validBody := map[string]any{"/api/customer/machines/{id}/connection-events": map[string]any{"kind": "copy_command"},
		"/api/customer/datasets/{id}":              map[string]any{"name": "x"},
		"/api/customer/datasets/{id}/files/rename": map[string]any{"from": "a", "to": "b"},
		"/api/customer/datasets/{id}/share":        map[string]any{"tenantCodes": []string{"tenant-a"}},
		"/api/customer/datasets/{id}/mount":        map[string]any{"machineId": machineB.ID, "path": "/data/a"},
		"/api/customer/datasets/{id}/unmount":      map[string]any{"mountId": mountB}}
	// dataset uploads (docs/datasets.md)
	for _, p := range []string{"/api/customer/datasets/{id}/uploads", "/api/customer/datasets/{id}/uploads/{uploadId}/parts/{n}",
		"/api/customer/datasets/{id}/uploads/{uploadId}/complete", "/api/customer/datasets/{id}/finish"} {
		idsOfB[p] = datasetB
	}
	validBody["/api/customer/datasets/{id}/uploads"] = map[string]any{"files": []map[string]any{{"path": "a.txt", "size": 1, "md5": "0cc175b9c0f1b6a831c399e269772661"}}}
	doc := api.New(api.Deps{}).API().OpenAPI()
	customerA := e.login("owner-a")
	memberA := e.login("member-a")
	param := regexp.MustCompile(`\{[^}]+\}`)
	var customerOps, adminOps int
	for path, item := range doc.Paths {
		for _, mo := range []struct {
			method string
			op     *huma.Operation
		}{{http.MethodGet, item.Get}, {http.MethodPost, item.Post}, {http.MethodPut, item.Put}, {http.MethodDelete, item.Delete}, {http.MethodPatch, item.Patch}} {
			if mo.op == nil {
				continue
			}
			switch {
			case strings.HasPrefix(path, "/api/admin/"):
				adminOps++
				// every ID a valid UUID of a real object: the role check must come first
				p := param.ReplaceAllString(path, fx.tenantA.ID)
				for _, s := range []*session{customerA, memberA} {
					if r := s.do(mo.method, p, map[string]any{}); r.Status != http.StatusForbidden {
						t.Errorf("%s %s as a customer: %d, want 403", mo.method, path, r.Status)
					}
				}
				if r := e.anon().do(mo.method, p, map[string]any{}); r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s anonymous: %d, want 401", mo.method, path, r.Status)
				}
			case strings.HasPrefix(path, "/api/customer/"):
				customerOps++
				if r := e.anon().do(mo.method, param.ReplaceAllString(path, fx.tenantA.ID), map[string]any{}); r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s anonymous: %d, want 401", mo.method, path, r.Status)
				}
				if !param.MatchString(path) {
					continue
				}
				id, known := idsOfB[path]
				if !known {
					t.Errorf("%s %s: the isolation test does not know which of tenant B's IDs to use; add it to idsOfB", mo.method, path)
					continue
				}
				if r := customerA.do(mo.method, param.ReplaceAllString(path, id), validBody[path]); r.Status != http.StatusNotFound {
					t.Errorf("%s %s with tenant B's id as tenant A: %d, want 404", mo.method, path, r.Status)
				}
			}
		}
	}
	if customerOps < 10 || adminOps < 15 {
		t.Fatalf("walked only %d customer and %d admin operations", customerOps, adminOps)
	}
	// tenant B's objects are untouched
	keys, _, _ := e.st.ListSSHKeys(ctx, fx.tenantB.ID, fx.ownerB.ID, store.Page{})
	if len(keys) != 1 {
		t.Fatalf("tenant B's key was deleted through tenant A")
	}
	_, _, unread, _ := e.st.ListNotifications(ctx, fx.tenantB.ID, fx.ownerB.ID, false, store.Page{})
	if unread != 1 {
		t.Fatalf("tenant B's notification was marked read through tenant A")
	}
	// tenant B's machine is B's alone; A's lists do not show it
	var mine struct {
		Total int `json:"total"`
	}
	customerA.must(200, "GET", "/api/customer/machines", nil).decode(t, &mine)
	if mine.Total != 0 {
		t.Fatal("tenant A lists tenant B's machine")
	}
	// tenant B's dataset is untouched
	if d, err := e.st.GetDataset(ctx, store.DatasetScope{Admin: true}, datasetB); err != nil || d.Name != "b-data" || d.Access != store.AccessTeam {
		t.Fatalf("tenant B's dataset changed through tenant A: %+v %v", d, err)
	}
	// tenant B's task is untouched and A's lists do not show it
	if tk, err := e.st.GetTask(ctx, store.TaskScope{All: true}, taskB, false); err != nil || tk.Status != store.TaskQueued {
		t.Fatalf("tenant B's task changed through tenant A: %+v %v", tk, err)
	}
	customerA.must(200, "GET", "/api/customer/tasks", nil).decode(t, &mine)
	if mine.Total != 0 {
		t.Fatal("tenant A lists tenant B's task")
	}
	ownerB := e.login("owner-b")
	ownerB.must(200, "GET", "/api/customer/machines", nil).decode(t, &mine)
	if mine.Total != 1 {
		t.Fatal("tenant B does not see its machine")
	}
	ownerB.must(200, "GET", "/api/customer/machines/"+machineB.ID, nil)
	// admins reach admin operations and not customer ones
	admin := e.login("admin1")
	admin.must(403, "GET", "/api/customer/profile", nil)
	admin.must(200, "GET", "/api/admin/customers", nil)
}
