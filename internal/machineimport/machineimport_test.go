package machineimport

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/remotegpu/remotegpu/internal/fleet"
)

var testCfg = fleet.Config{Catalog: fleet.DefaultCatalog, BaseDomain: "gpu.test"}

// fill opens the template and writes rows (field → value) from row 3 on, below the example.
func fill(t testing.TB, rows []map[string]any) []byte {
	t.Helper()
	tpl, err := Template(testCfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(tpl))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, r := range rows {
		for j, c := range Columns {
			v, ok := r[c.Field]
			if !ok {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(j+1, i+3)
			if err := f.SetCellValue(SheetMachines, cell, v); err != nil {
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

func machine(i int) map[string]any {
	return map[string]any{"name": fmt.Sprintf("gpu-%03d", i), "region": "上海", "gpuModel": "H100", "gpuMemoryGb": 80, "gpuCount": 8,
		"cudaVersion": "12.4", "internalIp": fmt.Sprintf("10.0.0.%d", i%250+1)}
}

// sheet builds a workbook from a grid of cells (first row the header).
func sheet(t testing.TB, name string, grid [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if name != "Sheet1" {
		if err := f.SetSheetName("Sheet1", name); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range grid {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		row := r
		if err := f.SetSheetRow(name, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reason(t *testing.T, err error) *FileError {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("want a FileError, got %v", err)
	}
	return fe
}

func TestTemplateRoundTrip(t *testing.T) {
	t.Parallel()
	tpl, err := Template(testCfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(tpl))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.GetSheetList(); strings.Join(got, ",") != "机器,说明,lists" {
		t.Fatalf("sheets %v", got)
	}
	if v, _ := f.GetSheetVisible(SheetLists); v {
		t.Fatal("lists sheet is visible")
	}
	header, _ := f.GetRows(SheetMachines)
	if len(header) != 2 || header[0][0] != "名称*" || header[0][4] != "显存(GB)*" || header[0][17] != "SSH密码" || len(header[0]) != 18 {
		t.Fatalf("header %v", header)
	}
	panes, _ := f.GetPanes(SheetMachines)
	if !panes.Freeze || panes.YSplit != 1 {
		t.Fatalf("panes %+v", panes)
	}
	dvs, _ := f.GetDataValidations(SheetMachines)
	lists := map[string]string{}
	for _, dv := range dvs {
		if dv.Type == "list" {
			lists[dv.Sqref] = dv.Formula1
		}
	}
	if lists["B2:B5002"] != "lists!$A$2:$A$8" || lists["D2:D5002"] != "lists!$B$2:$B$10" {
		t.Fatalf("drop-downs %v", lists)
	}
	if w, _ := f.GetColWidth(SheetMachines, "N"); w < 20 {
		t.Fatalf("SSH domain column width %v", w)
	}
	notes, _ := f.GetRows(SheetNotes)
	if len(notes) < len(Columns)+8 || !strings.Contains(strings.Join(notes[8], "|"), "留空时") {
		t.Fatalf("notes %v", notes)
	}
	f.Close()

	// the template alone holds only the example: nothing to import
	if _, err := Parse(tpl, testCfg.Catalog); reason(t, err).Reason != ReasonEmpty {
		t.Fatalf("template alone: %v", err)
	}

	rows := []map[string]any{machine(1), machine(2), machine(3)}
	rows[1]["sshHost"], rows[1]["sshPassword"], rows[1]["sshPort"], rows[1]["region"] = "h2.example.com", "S3cret-pass", 2222, "beijing"
	rows[2]["gpuCount"] = "eight"
	data := fill(t, rows)
	p, err := Parse(data, testCfg.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if !p.SampleSkipped || len(p.Rows) != 3 || p.Rows[0].Row != 3 || p.Rows[0].Values["gpuMemoryGb"] != "80" || p.Rows[0].Values["cudaVersion"] != "12.4" {
		t.Fatalf("parsed %+v", p)
	}
	res := Check(p, testCfg, map[string]bool{})
	if res[0].Status != StatusValid || res[0].Spec.SSHHost != "gpu-001.shanghai.ssh.gpu.test" || len(res[0].Spec.SSHPassword) < 12 ||
		res[0].Values["sshPassword"] != Masked || res[0].Values["sshHost"] != res[0].Spec.SSHHost {
		t.Fatalf("row 3: %+v", res[0])
	}
	if !contains(res[0].Generated, "sshHost") || !contains(res[0].Generated, "sshPassword") || contains(res[0].Generated, "name") {
		t.Fatalf("generated %v", res[0].Generated)
	}
	if res[1].Status != StatusValid || res[1].Spec.SSHPassword != "S3cret-pass" || res[1].Spec.SSHPort != 2222 || res[1].Spec.Region != "北京" ||
		res[1].Values["sshPassword"] != Masked || contains(res[1].Generated, "sshPassword") {
		t.Fatalf("row 4: %+v", res[1])
	}
	if res[2].Status != StatusInvalid || len(res[2].Errors) != 1 || res[2].Errors[0].Field != "gpuCount" || res[2].Errors[0].Cell != "F5" {
		t.Fatalf("row 5: %+v", res[2])
	}
}

func TestHeadersInAnyOrderAndEnglish(t *testing.T) {
	t.Parallel()
	data := sheet(t, "Machines", [][]any{
		{"gpu_count", "Notes", "GPU Model", "name", "REGION", "gpuMemoryGb", "SSH端口"},
		{4, "ignored", "A800", "a-1", "杭州", 80, ""},
		{},
		{2, "", "L40S", "a-2", "hangzhou", "48.0", 2200},
	})
	p, err := Parse(data, testCfg.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 2 || p.Rows[1].Row != 4 || p.Cols["gpuCount"] != "A" || p.Cols["sshPort"] != "G" {
		t.Fatalf("parsed %+v", p)
	}
	res := Check(p, testCfg, nil)
	for _, r := range res {
		if r.Status != StatusValid {
			t.Fatalf("row %d: %+v", r.Row, r.Errors)
		}
	}
	if res[1].Spec.GPUMemoryGB != 48 || res[1].Spec.SSHPort != 2200 || res[0].Spec.SSHPort != 22 {
		t.Fatalf("specs %+v %+v", res[0].Spec, res[1].Spec)
	}
}

func TestDuplicateNames(t *testing.T) {
	t.Parallel()
	bad := machine(9)
	bad["name"], bad["gpuCount"] = "GPU-002", 0 // invalid first: does not claim the name
	rows := []map[string]any{machine(1), machine(2), bad, machine(1), machine(3)}
	rows[3]["name"] = "GPU-001"
	rows = append(rows, machine(2))
	p, err := Parse(fill(t, rows), testCfg.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	res := Check(p, testCfg, map[string]bool{"gpu-003": true})
	want := []string{StatusValid, StatusValid, StatusInvalid, StatusDuplicate, StatusDuplicate, StatusDuplicate}
	for i, r := range res {
		if r.Status != want[i] {
			t.Fatalf("row %d: %s %v, want %s", r.Row, r.Status, r.Errors, want[i])
		}
	}
	if res[3].Errors[0].Code != "machines.import.sameNameAsRow" || res[3].Errors[0].Params["row"] != 3 || res[3].Errors[0].Cell != "A6" || res[3].Spec.SSHPassword != "" {
		t.Fatalf("in-file duplicate %+v", res[3])
	}
	if res[4].Errors[0].Code != CodeNameExists {
		t.Fatalf("existing duplicate %+v", res[4])
	}
	if got := p.Names(); len(got) != 6 || got[2] != "GPU-002" {
		t.Fatalf("names %v", got)
	}
}

func TestFormulasRefused(t *testing.T) {
	t.Parallel()
	data := fill(t, []map[string]any{machine(1), machine(2)})
	f, _ := excelize.OpenReader(bytes.NewReader(data))
	_ = f.SetCellFormula(SheetMachines, "E3", "=40*2")
	_ = f.SetCellFormula(SheetMachines, "A4", `=CONCAT("gpu-","x")`)
	_ = f.SetCellFormula(SheetMachines, "T9", `=1/0`) // outside the columns and rows: still refused
	buf, _ := f.WriteToBuffer()
	_, err := Parse(buf.Bytes(), testCfg.Catalog)
	fe := reason(t, err)
	if fe.Reason != ReasonFormulas || strings.Join(fe.Cells, ",") != "E3,A4,T9" || !strings.Contains(fe.Message, "E3, A4, T9") {
		t.Fatalf("%+v", fe)
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	w, _ := zw.Create("readme.txt")
	_, _ = w.Write([]byte("not a workbook"))
	_ = zw.Close()
	good := fill(t, []map[string]any{machine(1)})
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 600)...)
	encrypted := append(append([]byte{}, ole...), utf16le("EncryptedPackage")...)

	tooMany := [][]any{{"名称*", "地区*", "GPU型号*", "显存(GB)*", "GPU数量*"}}
	for i := 0; i <= MaxRows; i++ {
		tooMany = append(tooMany, []any{"m-" + strconv.Itoa(i), "北京", "H100", 80, 8})
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		reason  string
		columns []string
	}{
		{"empty file", nil, ReasonEmpty, nil},
		{"csv", []byte("名称,地区\ngpu-1,北京\n"), ReasonNotXLSX, nil},
		{"xls", ole, ReasonNotXLSX, nil},
		{"encrypted", encrypted, ReasonEncrypted, nil},
		{"zip without workbook", zipBuf.Bytes(), ReasonNotXLSX, nil},
		{"truncated", good[:len(good)/2], ReasonCorrupt, nil},
		{"too large", make([]byte, MaxFileBytes+1), ReasonTooLarge, nil},
		{"empty sheet", sheet(t, "Sheet1", nil), ReasonEmpty, nil},
		{"header only", sheet(t, "Sheet1", [][]any{{"名称*", "地区*", "GPU型号*", "显存(GB)*", "GPU数量*"}}), ReasonEmpty, nil},
		{"missing columns", sheet(t, "Sheet1", [][]any{{"名称", "GPU型号", "备注"}, {"a", "H100", ""}}), ReasonMissingColumns, []string{"地区", "显存(GB)", "GPU数量"}},
		{"repeated column", sheet(t, "Sheet1", [][]any{{"名称", "地区", "GPU型号", "显存", "GPU数量", "name"}, {"a"}}), ReasonDuplicateColumns, nil},
		{"too many rows", sheet(t, "Sheet1", tooMany), ReasonTooManyRows, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, testCfg.Catalog)
			fe := reason(t, err)
			if fe.Reason != tc.reason || fe.Message == "" {
				t.Fatalf("%+v, want %s", fe, tc.reason)
			}
			if tc.columns != nil && strings.Join(fe.Columns, ",") != strings.Join(tc.columns, ",") {
				t.Fatalf("columns %v, want %v", fe.Columns, tc.columns)
			}
		})
	}
	// exactly MaxRows rows is fine
	if p, err := Parse(sheet(t, "Sheet1", tooMany[:MaxRows+1]), testCfg.Catalog); err != nil || len(p.Rows) != MaxRows {
		t.Fatalf("%d rows: %v", MaxRows, err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func BenchmarkParseCheck1000(b *testing.B) {
	rows := make([]map[string]any, 1000)
	for i := range rows {
		rows[i] = machine(i)
	}
	data := fill(b, rows)
	b.ResetTimer()
	for range b.N {
		p, err := Parse(data, testCfg.Catalog)
		if err != nil {
			b.Fatal(err)
		}
		Check(p, testCfg, nil)
	}
}
