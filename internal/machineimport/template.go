package machineimport

import (
	"fmt"
	"strconv"

	"github.com/xuri/excelize/v2"

	"github.com/remotegpu/remotegpu/internal/fleet"
)

// ContentType of an .xlsx workbook.
const ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Template builds the import workbook: the 机器 sheet with the header, an
// example row, drop-downs for region and GPU model from the catalog (kept on
// a hidden "lists" sheet), number checks, column widths and a frozen
// header; and the 说明 sheet explaining each column.
func Template(cfg fleet.Config) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetMachines); err != nil {
		return nil, err
	}
	if err := buildMachines(f, cfg); err != nil {
		return nil, fmt.Errorf("unable to build the machines sheet: %w", err)
	}
	if err := buildNotes(f, cfg); err != nil {
		return nil, fmt.Errorf("unable to build the notes sheet: %w", err)
	}
	if err := buildLists(f, cfg.Catalog); err != nil {
		return nil, fmt.Errorf("unable to build the lists sheet: %w", err)
	}
	f.SetActiveSheet(0)
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func colName(i int) string {
	n, _ := excelize.ColumnNumberToName(i + 1)
	return n
}

func buildMachines(f *excelize.File, cfg fleet.Config) error {
	const s = SheetMachines
	border := []excelize.Border{{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1}}
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "1F1F1F"}, Border: border,
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}})
	if err != nil {
		return err
	}
	required, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "C00000"}, Border: border,
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FCE4D6"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}})
	if err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": versions and IPs stay as typed
	if err != nil {
		return err
	}
	sampleText, err := f.NewStyle(&excelize.Style{NumFmt: 49, Font: &excelize.Font{Italic: true, Color: "808080"}})
	if err != nil {
		return err
	}
	sampleNum, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Italic: true, Color: "808080"}})
	if err != nil {
		return err
	}
	sample := SampleRow(cfg.Catalog)
	for i, c := range Columns {
		col := colName(i)
		if err := f.SetColWidth(s, col, col, c.Width); err != nil {
			return err
		}
		if c.Text {
			if err := f.SetColStyle(s, col, text); err != nil {
				return err
			}
		}
		cell := col + "1"
		if err := f.SetCellStr(s, cell, c.HeaderText()); err != nil {
			return err
		}
		st := header
		if c.Required {
			st = required
		}
		if err := f.SetCellStyle(s, cell, cell, st); err != nil {
			return err
		}
		cell = col + "2"
		v := sample[c.Field]
		if c.Int && v != "" {
			n, _ := strconv.Atoi(v)
			err = f.SetCellInt(s, cell, int64(n))
		} else {
			err = f.SetCellStr(s, cell, v)
		}
		if err != nil {
			return err
		}
		st = sampleNum
		if c.Text {
			st = sampleText
		}
		if err := f.SetCellStyle(s, cell, cell, st); err != nil {
			return err
		}
	}
	if err := f.SetRowHeight(s, 1, 22); err != nil {
		return err
	}
	if err := f.SetPanes(s, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A3", ActiveCell: "A3", Pane: "bottomLeft"}}}); err != nil {
		return err
	}
	last := strconv.Itoa(MaxRows + 2)
	rangeOf := func(field string) string {
		for i, c := range Columns {
			if c.Field == field {
				return colName(i) + "2:" + colName(i) + last
			}
		}
		panic("no column " + field)
	}
	// drop-downs from the lists sheet
	if len(cfg.Catalog.Regions) > 0 {
		region := excelize.NewDataValidation(true)
		region.Sqref = rangeOf("region")
		region.SetSqrefDropList(fmt.Sprintf("%s!$A$2:$A$%d", SheetLists, len(cfg.Catalog.Regions)+1))
		region.SetError(excelize.DataValidationErrorStyleWarning, "地区", "请从下拉列表中选择地区（也可填写地区代码）")
		if err := f.AddDataValidation(s, region); err != nil {
			return err
		}
	}
	if len(cfg.Catalog.GPUModels) > 0 {
		gpu := excelize.NewDataValidation(true)
		gpu.Sqref = rangeOf("gpuModel")
		gpu.SetSqrefDropList(fmt.Sprintf("%s!$B$2:$B$%d", SheetLists, len(cfg.Catalog.GPUModels)+1))
		gpu.SetError(excelize.DataValidationErrorStyleWarning, "GPU型号", "型号不在目录中，确定使用吗？")
		if err := f.AddDataValidation(s, gpu); err != nil {
			return err
		}
	}
	for _, n := range []struct {
		field    string
		min, max int
		title    string
	}{{"gpuMemoryGb", 1, 1024, "显存(GB)：整数 1–1024"}, {"gpuCount", 1, 64, "GPU数量：整数 1–64"},
		{"cpuCores", 0, 4096, "CPU核数：整数 0–4096"}, {"sshPort", 1, 65535, "SSH端口：整数 1–65535"}} {
		dv := excelize.NewDataValidation(true)
		dv.Sqref = rangeOf(n.field)
		if err := dv.SetRange(n.min, n.max, excelize.DataValidationTypeWhole, excelize.DataValidationOperatorBetween); err != nil {
			return err
		}
		dv.SetError(excelize.DataValidationErrorStyleStop, "数值超出范围", n.title)
		if err := f.AddDataValidation(s, dv); err != nil {
			return err
		}
	}
	return nil
}

func buildLists(f *excelize.File, cat fleet.Catalog) error {
	const s = SheetLists
	if _, err := f.NewSheet(s); err != nil {
		return err
	}
	if err := f.SetSheetRow(s, "A1", &[]any{"地区", "GPU型号", "地区代码"}); err != nil {
		return err
	}
	for i, r := range cat.Regions {
		if err := f.SetSheetRow(s, "A"+strconv.Itoa(i+2), &[]any{r.Name}); err != nil {
			return err
		}
		if err := f.SetCellStr(s, "C"+strconv.Itoa(i+2), r.Code); err != nil {
			return err
		}
	}
	for i, g := range cat.GPUModels {
		if err := f.SetCellStr(s, "B"+strconv.Itoa(i+2), g); err != nil {
			return err
		}
	}
	return f.SetSheetVisible(s, false)
}

func buildNotes(f *excelize.File, cfg fleet.Config) error {
	const s = SheetNotes
	if _, err := f.NewSheet(s); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	if err != nil {
		return err
	}
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}}})
	if err != nil {
		return err
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	for col, w := range map[string]float64{"A": 16, "B": 24, "C": 8, "D": 60, "E": 50} {
		if err := f.SetColWidth(s, col, col, w); err != nil {
			return err
		}
	}
	row := 1
	put := func(vals ...any) error {
		err := f.SetSheetRow(s, "A"+strconv.Itoa(row), &vals)
		row++
		return err
	}
	if err := put("机器批量导入说明"); err != nil {
		return err
	}
	if err := f.SetCellStyle(s, "A1", "A1", bold); err != nil {
		return err
	}
	pattern := cfg.SSHDomainPattern
	if pattern == "" {
		pattern = "{name}.{region}.ssh.{base}"
	}
	base := cfg.BaseDomain
	if base == "" {
		base = "remotegpu.local"
	}
	rules := []string{
		"1. 在“机器”工作表中每行填写一台机器；表头不可修改，列的顺序可以调整，不认识的列会被忽略。带 * 的列为必填。",
		"2. 第 2 行（灰色斜体）是示例；原样保留时导入会忽略它，也可以直接覆盖或删除。",
		fmt.Sprintf("3. 文件须为 .xlsx，不超过 %d MB，最多 %d 行数据；不支持公式（请粘贴为数值），不支持加密的工作簿。", MaxFileBytes>>20, MaxRows),
		"4. 上传后先预览：逐行逐格校验，显示将创建、无效（附原因）与重复（将跳过）的行；确认后才开始导入。",
		"5. 机器名称不区分大小写且须唯一：与已有机器同名、或与文件中前面的行同名的行会被跳过。重复上传同一文件不会重复创建机器。",
		fmt.Sprintf("6. SSH 域名留空时按规则 %s 生成（基础域名 %s，地区代码见下表）；SSH 密码留空时生成强随机密码，加密保存，不会在导入结果中显示。", pattern, base),
	}
	for _, r := range rules {
		if err := put(r); err != nil {
			return err
		}
	}
	row++
	hdr := row
	if err := put("列名", "字段名（英文表头也可用）", "必填", "说明", "留空时"); err != nil {
		return err
	}
	if err := f.SetCellStyle(s, "A"+strconv.Itoa(hdr), "E"+strconv.Itoa(hdr), head); err != nil {
		return err
	}
	first := row
	for _, c := range Columns {
		req := ""
		if c.Required {
			req = "是"
		}
		if err := put(c.HeaderText(), c.Field, req, c.Note, c.IfEmpty); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(s, "A"+strconv.Itoa(first), "E"+strconv.Itoa(row-1), wrap); err != nil {
		return err
	}
	row++
	hdr = row
	if err := put("地区", "地区代码", "", "可选的 GPU 型号"); err != nil {
		return err
	}
	if err := f.SetCellStyle(s, "A"+strconv.Itoa(hdr), "E"+strconv.Itoa(hdr), head); err != nil {
		return err
	}
	n := max(len(cfg.Catalog.Regions), len(cfg.Catalog.GPUModels))
	for i := 0; i < n; i++ {
		var name, code, gpu string
		if i < len(cfg.Catalog.Regions) {
			name, code = cfg.Catalog.Regions[i].Name, cfg.Catalog.Regions[i].Code
		}
		if i < len(cfg.Catalog.GPUModels) {
			gpu = cfg.Catalog.GPUModels[i]
		}
		if err := put(name, code, "", gpu); err != nil {
			return err
		}
	}
	return nil
}
