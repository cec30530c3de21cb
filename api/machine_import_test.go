package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/machineimport"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
	"github.com/remotegpu/remotegpu/worker"
)

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// importRow is one machine for the template, by column field.
type importRow map[string]any

func importMachine(i int) importRow {
	return importRow{"name": fmt.Sprintf("imp-%03d", i), "region": "北京", "room": "A-3", "gpuModel": "RTX 4090", "gpuMemoryGb": 24, "gpuCount": 8,
		"cudaVersion": "12.4", "driverVersion": "550.54.15", "cpuModel": "EPYC 7763", "cpuCores": 64, "memoryGb": 512, "diskGb": 4096,
		"internalIp": fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}
}

// fillTemplate writes rows into the downloaded template below its example row.
func fillTemplate(t testing.TB, tpl []byte, rows []importRow) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(tpl))
	if err != nil {
		t.Fatalf("the template is not a workbook: %v", err)
	}
	defer f.Close()
	header, err := f.GetRows("机器")
	if err != nil || len(header) == 0 {
		t.Fatalf("template rows: %v %v", header, err)
	}
	col := map[string]int{}
	for j, h := range header[0] {
		for _, c := range machineimport.Columns {
			if h == c.HeaderText() {
				col[c.Field] = j + 1
			}
		}
	}
	if len(col) != len(machineimport.Columns) {
		t.Fatalf("template header %v", header[0])
	}
	for i, r := range rows {
		for field, v := range r {
			cell, _ := excelize.CoordinatesToCellName(col[field], i+3)
			if err := f.SetCellValue("机器", cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type importDetail struct {
	store.MachineImport
	Rows []store.MachineImportRow `json:"rows"`
}

func (s *session) pollImport(t *testing.T, id string) importDetail {
	t.Helper()
	var d importDetail
	waitFor(t, "import "+id+" to finish", func() bool {
		s.must(200, "GET", "/api/admin/machines/import/"+id+"?includeRows=false", nil).decode(t, &d)
		if len(d.Rows) != 0 {
			t.Fatalf("rows returned with includeRows=false")
		}
		return d.Status == "done" || d.Status == "failed"
	})
	s.must(200, "GET", "/api/admin/machines/import/"+id, nil).decode(t, &d)
	return d
}

func TestMachineImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true, objects: true})
	ctx := context.Background()
	admin := e.login("admin1")

	// a machine that exists before the import
	enc, _ := e.box.Seal("Existing-Pass-1")
	existing := &store.Machine{Name: "IMP-005", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "existing.example", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: enc}
	if err := e.st.CreateMachine(ctx, existing, ""); err != nil {
		t.Fatal(err)
	}

	tr := admin.must(200, "GET", "/api/admin/machines/import/template", nil)
	if tr.Header.Get("Content-Type") != xlsxType || !strings.Contains(tr.Header.Get("Content-Disposition"), `attachment; filename="machine-import-template.xlsx"`) {
		t.Fatalf("template headers %v", tr.Header)
	}
	tpl := tr.Data

	// 20 rows: row 3+6 invalid (GPU count), row 3+5 named like the existing machine
	rows := make([]importRow, 20)
	for i := range rows {
		rows[i] = importMachine(i)
	}
	rows[6]["gpuCount"] = "八"
	rows[2]["sshPassword"], rows[2]["sshPort"], rows[2]["sshHost"] = "From-The-File-7", 2202, "imp-002.example.com"
	file := fillTemplate(t, tpl, rows)

	var prev importDetail
	admin.must(201, "POST", "/api/admin/machines/import", formFile(t, "机器清单.xlsx", xlsxType, file)).decode(t, &prev)
	if prev.Status != "previewed" || prev.FileName != "机器清单.xlsx" || prev.Total != 20 || prev.Valid != 18 || prev.Invalid != 1 || prev.Duplicates != 1 || len(prev.Rows) != 20 {
		t.Fatalf("preview %+v", prev.MachineImport)
	}
	bad, dup, r2 := prev.Rows[6], prev.Rows[5], prev.Rows[2]
	if bad.Row != 9 || bad.Status != "invalid" || len(bad.Errors) != 1 || bad.Errors[0].Field != "gpuCount" || bad.Errors[0].Cell != "F9" || bad.Result != "pending" {
		t.Fatalf("invalid row %+v", bad)
	}
	if dup.Status != "duplicate" || dup.Errors[0].Field != "name" {
		t.Fatalf("duplicate row %+v", dup)
	}
	if r2.Status != "valid" || r2.Values["sshPassword"] != "********" || r2.Values["sshPort"] != "2202" {
		t.Fatalf("row 5 %+v", r2)
	}
	if v := prev.Rows[0]; v.Values["sshHost"] != "imp-000.beijing.ssh.gpu.test" || v.Values["sshPassword"] != "********" ||
		!strings.Contains(strings.Join(v.Generated, ","), "sshPassword") {
		t.Fatalf("generated values %+v", v)
	}
	// no password leaves the server, not even the one typed in the file
	raw := admin.must(200, "GET", "/api/admin/machines/import/"+prev.ID, nil).Data
	if bytes.Contains(raw, []byte("From-The-File-7")) || bytes.Contains(tr.Data, []byte("From-The-File-7")) {
		t.Fatal("a password is in the response")
	}
	var stored int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM machine_import_rows WHERE password_enc::text LIKE '%From-The-File%'`).Scan(&stored)
	if stored != 0 {
		t.Fatal("a password is stored in plain text")
	}
	// the file is kept as uploaded
	obj := testObjects(t)
	rd, _, _, err := obj.Get(ctx, objstore.BucketImports, prev.ID+".xlsx")
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(kept, file) {
		t.Fatal("the stored file differs from the upload")
	}

	// confirm, and confirm again at once: one workflow, one set of machines
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := admin.do("POST", "/api/admin/machines/import/"+prev.ID+"/confirm", nil)
			var d importDetail
			if err := json.Unmarshal(r.Data, &d); r.Status != 202 || err != nil || d.Status == "previewed" {
				t.Errorf("confirm: %d %s, status %q", r.Status, r.Message, d.Status)
			}
		}()
	}
	wg.Wait()
	done := admin.pollImport(t, prev.ID)
	if done.Status != "done" || done.Processed != 20 || done.Created != 18 || done.Skipped != 1 || done.Invalid != 1 || done.FinishedAt == nil || done.ConfirmedByName != "admin1" {
		t.Fatalf("done %+v", done.MachineImport)
	}
	byRow := map[int]store.MachineImportRow{}
	for _, r := range done.Rows {
		byRow[r.Row] = r
	}
	if r := byRow[9]; r.Result != "invalid" || !strings.Contains(r.Reason, "F9") {
		t.Fatalf("row 9 %+v", r)
	}
	if r := byRow[8]; r.Result != "skipped" || !strings.HasPrefix(r.Reason, "duplicate") || r.MachineID != nil {
		t.Fatalf("row 8 %+v", r)
	}
	created := byRow[5]
	if created.Result != "created" || created.MachineID == nil {
		t.Fatalf("row 5 %+v", created)
	}
	// the machine exists, masked, with the password of the file sealed
	var m store.Machine
	admin.must(200, "GET", "/api/admin/machines/"+*created.MachineID, nil).decode(t, &m)
	if m.Name != "imp-002" || m.SSHPassword != "********" || m.SSHPort != 2202 || m.SSHHost != "imp-002.example.com" || m.CUDAVersion != "12.4" {
		t.Fatalf("machine %+v", m)
	}
	var revealed api.RevealedPassword
	admin.must(200, "POST", "/api/admin/machines/"+m.ID+"/reveal-password", nil).decode(t, &revealed)
	if revealed.Password != "From-The-File-7" {
		t.Fatalf("revealed %q", revealed.Password)
	}
	var page api.Page[store.Machine]
	admin.must(200, "GET", "/api/admin/machines?keyword=imp-&pageSize=100", nil).decode(t, &page)
	if page.Total != 19 { // 18 imported + the one that existed
		t.Fatalf("machines %d", page.Total)
	}
	for _, m := range page.List {
		if m.SSHPassword != "********" {
			t.Fatalf("unmasked password on %s", m.Name)
		}
	}
	// a confirmation after the end changes nothing
	admin.must(202, "POST", "/api/admin/machines/import/"+prev.ID+"/confirm", nil)
	var count int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM machines`).Scan(&count)
	if count != 19 {
		t.Fatalf("%d machines after a late confirmation", count)
	}

	// the same file again: a new import whose rows all come out skipped (or invalid)
	var again importDetail
	admin.must(201, "POST", "/api/admin/machines/import", formFile(t, "机器清单.xlsx", "application/octet-stream", file)).decode(t, &again)
	if again.ID == prev.ID || again.Valid != 0 || again.Duplicates != 19 || again.Invalid != 1 {
		t.Fatalf("re-sent file %+v", again.MachineImport)
	}
	admin.must(202, "POST", "/api/admin/machines/import/"+again.ID+"/confirm", nil)
	if d := admin.pollImport(t, again.ID); d.Created != 0 || d.Skipped != 19 || d.Status != "done" {
		t.Fatalf("re-sent import %+v", d.MachineImport)
	}
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM machines`).Scan(&count)
	if count != 19 {
		t.Fatalf("%d machines after the re-sent file", count)
	}

	// history and audit
	var hist api.Page[store.MachineImport]
	admin.must(200, "GET", "/api/admin/machines/imports?pageSize=10", nil).decode(t, &hist)
	if hist.Total != 2 || hist.List[0].ID != again.ID {
		t.Fatalf("history %+v", hist)
	}
	admin.must(200, "GET", `/api/admin/machines/imports?filters={"status":"done"}&keyword=机器`, nil).decode(t, &hist)
	if hist.Total != 2 {
		t.Fatalf("filtered history %d", hist.Total)
	}
	var audits api.Page[store.AuditLog]
	admin.must(200, "GET", "/api/admin/audit-logs?action=machine.import&pageSize=50", nil).decode(t, &audits)
	phases := map[string]int{}
	for _, a := range audits.List {
		if a.TargetID == prev.ID {
			phases[fmt.Sprint(a.Detail["phase"])]++
			if a.ActorName != "admin1" || a.Detail["file"] != "机器清单.xlsx" {
				t.Fatalf("audit %+v", a)
			}
		}
	}
	if phases["confirmed"] != 1 || phases["done"] != 1 {
		t.Fatalf("audit phases %v", phases)
	}

	// a failed import is not confirmed again
	if _, err := e.st.Pool.Exec(ctx, `UPDATE machine_imports SET status = 'failed', error = 'boom' WHERE id = $1`, again.ID); err != nil {
		t.Fatal(err)
	}
	admin.must(409, "POST", "/api/admin/machines/import/"+again.ID+"/confirm", nil)
	admin.must(404, "GET", "/api/admin/machines/import/00000000-0000-4000-8000-000000000000", nil)
	admin.must(404, "POST", "/api/admin/machines/import/00000000-0000-4000-8000-000000000000/confirm", nil)
	e.login("owner-a").must(403, "GET", "/api/admin/machines/import/template", nil)
	e.login("owner-a").must(403, "POST", "/api/admin/machines/import", formFile(t, "a.xlsx", xlsxType, file))
}

func TestMachineImportRefusesBadFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{objects: true})
	admin := e.login("admin1")
	tpl := admin.must(200, "GET", "/api/admin/machines/import/template", nil).Data

	withFormula := func() []byte {
		f, _ := excelize.OpenReader(bytes.NewReader(fillTemplate(t, tpl, []importRow{importMachine(1), importMachine(2)})))
		defer f.Close()
		_ = f.SetCellFormula("机器", "F4", "=4*2")
		_ = f.SetCellFormula("机器", "A3", `="imp-"&"x"`)
		buf, _ := f.WriteToBuffer()
		return buf.Bytes()
	}()
	missingCols := func() []byte {
		f := excelize.NewFile()
		defer f.Close()
		_ = f.SetSheetRow("Sheet1", "A1", &[]any{"名称", "GPU型号"})
		_ = f.SetSheetRow("Sheet1", "A2", &[]any{"a", "H100"})
		buf, _ := f.WriteToBuffer()
		return buf.Bytes()
	}()
	for _, tc := range []struct {
		name, file string
		data       []byte
		status     int
		kind, code string
		detail     string
	}{
		{"text named xlsx", "m.xlsx", []byte("名称,地区\nm1,北京\n"), 400, "not_xlsx", "notXlsx", ""},
		{"empty template", "t.xlsx", tpl, 400, "empty", "noDataRows", ""},
		{"formulas", "f.xlsx", withFormula, 400, "formulas", "formulas", "A3,F4"},
		{"missing columns", "c.xlsx", missingCols, 400, "missing_columns", "missingColumns", "地区,显存(GB),GPU数量"},
		{"truncated", "x.xlsx", tpl[:len(tpl)/3], 400, "corrupt", "damaged", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.must(tc.status, "POST", "/api/admin/machines/import", formFile(t, tc.file, xlsxType, tc.data))
			var p api.ErrorData
			r.decode(t, &p)
			var params struct {
				Params struct {
					Kind           string
					Cells, Columns []string
				}
			}
			r.decode(t, &params)
			if p.Reason != "machines.import."+tc.code || params.Params.Kind != tc.kind || len(p.Errors) != 1 || p.Errors[0].Location != "body.file" ||
				p.Errors[0].Reason != p.Reason || r.Message == "" {
				t.Fatalf("%s: %+v", r.Message, p)
			}
			if got := strings.Join(append(params.Params.Cells, params.Params.Columns...), ","); got != tc.detail {
				t.Fatalf("detail %q, want %q", got, tc.detail)
			}
		})
	}
	// over 10 MB: refused before it is read
	big := append(append([]byte{}, tpl...), make([]byte, machineimport.MaxFileBytes)...)
	admin.must(413, "POST", "/api/admin/machines/import", formFile(t, "big.xlsx", xlsxType, big))
	// just over 10 MB inside the multipart allowance: refused by the handler
	admin.must(413, "POST", "/api/admin/machines/import", formFile(t, "big.xlsx", xlsxType, make([]byte, machineimport.MaxFileBytes+1000)))
	admin.must(400, "POST", "/api/admin/machines/import", multipartBody{data: []byte("--x--\r\n"), contentType: "multipart/form-data; boundary=x"})

	// nothing was saved
	var hist api.Page[store.MachineImport]
	admin.must(200, "GET", "/api/admin/machines/imports", nil).decode(t, &hist)
	if hist.Total != 0 {
		t.Fatalf("%d imports saved from bad files", hist.Total)
	}
}

func testObjects(t testing.TB) *objstore.Store {
	t.Helper()
	obj, err := objstore.New(objstore.Config{Endpoint: os.Getenv("S3_ENDPOINT"), AccessKey: os.Getenv("S3_ACCESS_KEY"), SecretKey: os.Getenv("S3_SECRET_KEY"), BucketPrefix: "test-"})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// BenchmarkMachineImport1000 measures a 1,000-row import end to end against
// the real stack: upload and preview, confirm, and polling until the
// workflow is done. Run with the testenv's environment:
//
//	go test ./api/ -run '^$' -bench MachineImport1000 -benchtime 3x
func BenchmarkMachineImport1000(b *testing.B) {
	srv, token := benchServer(b)
	tplResp := benchDo(b, srv, token, "GET", "/api/admin/machines/import/template", nil, "")
	rows := make([]importRow, 1000)
	for i := range rows {
		rows[i] = importMachine(i)
	}
	var upload, total time.Duration
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		for i := range rows { // new names each round
			rows[i]["name"] = fmt.Sprintf("bench-%d-%04d", n, i)
		}
		file := fillTemplate(b, tplResp, rows)
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		part, _ := w.CreateFormFile("file", "bench.xlsx")
		_, _ = part.Write(file)
		_ = w.Close()
		b.StartTimer()

		start := time.Now()
		var prev importDetail
		benchJSON(b, benchDo(b, srv, token, "POST", "/api/admin/machines/import", body.Bytes(), w.FormDataContentType()), &prev)
		upload += time.Since(start)
		if prev.Valid != 1000 {
			b.Fatalf("preview %+v", prev.MachineImport)
		}
		benchDo(b, srv, token, "POST", "/api/admin/machines/import/"+prev.ID+"/confirm", nil, "")
		for {
			var d importDetail
			benchJSON(b, benchDo(b, srv, token, "GET", "/api/admin/machines/import/"+prev.ID+"?includeRows=false", nil, ""), &d)
			if d.Status == "done" {
				if d.Created != 1000 {
					b.Fatalf("created %d", d.Created)
				}
				break
			}
			if d.Status == "failed" {
				b.Fatalf("import failed: %s", d.Error)
			}
			time.Sleep(20 * time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(upload.Seconds()/float64(b.N), "s-preview/op")
	b.ReportMetric(total.Seconds()/float64(b.N), "s-total/op")
}

// benchServer is the api with a worker on its own task queue over a fresh database, and an admin's token.
func benchServer(b *testing.B) (*httptest.Server, string) {
	b.Helper()
	st, _ := storetest.New(b)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, _ := secrets.New(key)
	payloadKey := make([]byte, 32)
	_, _ = rand.Read(payloadKey)
	cfg := config.Config{SecretsKey: key, TemporalPayloadKey: payloadKey, JWTSecret: []byte("bench-secret-bench-secret-bench-secret"), AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour,
		TemporalTaskQueue: fmt.Sprintf("bench-import-%d", time.Now().UnixNano()), WebDir: b.TempDir(),
		Fleet: config.Fleet{Regions: fleet.DefaultCatalog.Regions, GPUModels: fleet.DefaultCatalog.GPUModels, SSHBaseDomain: "gpu.test"}}
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" || os.Getenv("S3_ENDPOINT") == "" {
		b.Fatal("TEMPORAL_ADDRESS and S3_ENDPOINT are not set: run with `bin/remotegpu testenv -- go test ./api/ -run '^$' -bench MachineImport1000`")
	}
	cfg.TemporalAddress, cfg.TemporalNamespace = addr, envOr("TEMPORAL_NAMESPACE", "default")
	copts, err := payloadcodec.ClientOptions(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.Dial(copts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	w := worker.New(c, cfg.TemporalTaskQueue, worker.Deps{Store: st})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	srv := httptest.NewServer(api.New(api.Deps{Config: cfg, Store: st, Temporal: c, Objects: testObjects(b), Secrets: box}).Handler())
	b.Cleanup(srv.Close)
	hash, _ := auth.HashPassword(testPassword)
	if err := st.CreateUser(context.Background(), &store.User{Username: "bench-admin", Name: "bench", Email: "bench@example.test",
		Role: "admin", AuthSource: "local", PasswordHash: hash}); err != nil {
		b.Fatal(err)
	}
	login, _ := json.Marshal(map[string]string{"username": "bench-admin", "password": testPassword})
	var tp api.TokenPair
	benchJSON(b, benchDo(b, srv, "", "POST", "/api/auth/login", login, "application/json"), &tp)
	return srv, tp.AccessToken
}

func benchDo(b *testing.B, srv *httptest.Server, token, method, path string, body []byte, ct string) []byte {
	b.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

func benchJSON(b *testing.B, raw []byte, v any) {
	b.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || json.Unmarshal(env.Data, v) != nil {
		b.Fatalf("unable to decode %s", raw)
	}
}
