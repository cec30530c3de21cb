// Package machineimport reads the machine import workbook (requirements
// 2.1.2.3) and builds its template. It knows the columns and the file rules
// (size, formulas, row count, headers); what a valid machine is comes from
// internal/fleet, so the form and the import agree.
package machineimport

import (
	"strings"
	"unicode"

	"github.com/remotegpu/remotegpu/internal/fleet"
)

// Limits of an import file.
const (
	MaxFileBytes = 10 << 20
	MaxRows      = 5000
	// maxUnzipped caps what the workbook may expand to (zip bombs).
	maxUnzipped = 256 << 20
)

// Sheet names of the template.
const (
	SheetMachines = "机器"
	SheetNotes    = "说明"
	SheetLists    = "lists"
)

// Column is one column of the workbook. Field is the JSON name used by
// fleet.FieldError and store.Machine.
type Column struct {
	Field    string
	Header   string // Chinese header without the required mark
	Required bool
	Int      bool
	Text     bool // formatted as text in the template (versions, IPs keep their dots)
	Width    float64
	Note     string
	IfEmpty  string // what happens when the cell is left empty
	Aliases  []string
}

// HeaderText is the header cell of the template: required columns end in *.
func (c Column) HeaderText() string {
	if c.Required {
		return c.Header + "*"
	}
	return c.Header
}

// Columns in template order.
var Columns = []Column{
	{Field: "name", Header: "名称", Required: true, Text: true, Width: 18, Note: "机器名称，全平台唯一（不区分大小写）；字母、数字、点、下划线、连字符，最多 63 位",
		IfEmpty: "必填", Aliases: []string{"机器名称", "主机名"}},
	{Field: "region", Header: "地区", Required: true, Text: true, Width: 10, Note: "从下拉列表选择；也可填写地区代码（如 beijing）",
		IfEmpty: "必填"},
	{Field: "room", Header: "机房位置", Text: true, Width: 18, Note: "机房、机柜等位置描述，最多 100 字", IfEmpty: "留空", Aliases: []string{"机房"}},
	{Field: "gpuModel", Header: "GPU型号", Required: true, Text: true, Width: 14, Note: "从下拉列表选择；目录外的型号会提示但允许填写",
		IfEmpty: "必填", Aliases: []string{"显卡型号"}},
	{Field: "gpuMemoryGb", Header: "显存(GB)", Required: true, Int: true, Width: 10, Note: "每张卡的显存，整数 1–1024",
		IfEmpty: "必填", Aliases: []string{"显存", "显存大小", "显存大小(GB)", "单卡显存(GB)"}},
	{Field: "gpuCount", Header: "GPU数量", Required: true, Int: true, Width: 10, Note: "整数 1–64", IfEmpty: "必填",
		Aliases: []string{"GPU个数", "显卡数量"}},
	{Field: "cudaVersion", Header: "CUDA版本", Text: true, Width: 10, Note: "如 12.4", IfEmpty: "留空", Aliases: []string{"CUDA"}},
	{Field: "driverVersion", Header: "驱动版本", Text: true, Width: 12, Note: "如 550.54.15", IfEmpty: "留空", Aliases: []string{"驱动", "驱动版本号"}},
	{Field: "cpuModel", Header: "CPU型号", Text: true, Width: 24, Note: "最多 128 字", IfEmpty: "留空"},
	{Field: "cpuCores", Header: "CPU核数", Int: true, Width: 9, Note: "整数 0–4096", IfEmpty: "记为 0", Aliases: []string{"CPU核心数"}},
	{Field: "memoryGb", Header: "内存(GB)", Int: true, Width: 10, Note: "整数", IfEmpty: "记为 0", Aliases: []string{"内存", "内存大小"}},
	{Field: "diskGb", Header: "磁盘(GB)", Int: true, Width: 10, Note: "整数", IfEmpty: "记为 0", Aliases: []string{"磁盘", "硬盘", "硬盘(GB)", "磁盘大小"}},
	{Field: "internalIp", Header: "内网IP", Text: true, Width: 14, Note: "IPv4 或 IPv6 地址", IfEmpty: "留空", Aliases: []string{"内网地址"}},
	{Field: "sshHost", Header: "SSH域名", Text: true, Width: 32, Note: "客户连接用的域名或地址",
		IfEmpty: "按配置的规则生成（默认 <名称>.<地区代码>.ssh.<基础域名>）", Aliases: []string{"SSH主机", "SSH地址", "sshDomain"}},
	{Field: "sshPort", Header: "SSH端口", Int: true, Width: 9, Note: "整数 1–65535", IfEmpty: "22"},
	{Field: "containerDomainPrefix", Header: "容器域名前缀", Text: true, Width: 14, Note: "小写字母、数字、连字符", IfEmpty: "由名称生成（小写，其他字符换成连字符）"},
	{Field: "sshUser", Header: "SSH用户名", Text: true, Width: 11, Note: "Linux 用户名", IfEmpty: "root", Aliases: []string{"SSH用户"}},
	{Field: "sshPassword", Header: "SSH密码", Text: true, Width: 16, Note: "8–128 位，不含空白和冒号；加密保存，导入结果中只显示掩码",
		IfEmpty: "生成 16 位强随机密码（加密保存；需要时在机器详情中查看或重置）"},
}

var columnIndex = func() map[string]int {
	m := map[string]int{}
	for i, c := range Columns {
		for _, k := range append([]string{c.Header, c.Field}, c.Aliases...) {
			m[headerKey(k)] = i
		}
	}
	return m
}()

// ColumnByField finds a column by its field name.
func ColumnByField(field string) (Column, bool) {
	for _, c := range Columns {
		if c.Field == field {
			return c, true
		}
	}
	return Column{}, false
}

// headerKey folds a header for matching: letters and digits only, lower
// case, full-width forms folded, so "显存(GB)*", "显存（GB）", "gpu_memory_gb"
// and "gpuMemoryGb" all match.
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// SampleRow is the example row of the template, using the first region and
// GPU model of the catalog. A row equal to it is ignored on import, so a
// template filled below the example imports as expected.
func SampleRow(cat fleet.Catalog) map[string]string {
	region, gpu := "北京", "RTX 4090"
	if len(cat.Regions) > 0 {
		region = cat.Regions[0].Name
	}
	if len(cat.GPUModels) > 0 {
		gpu = cat.GPUModels[0]
	}
	return map[string]string{
		"name": "gpu-example-001", "region": region, "room": "A栋3层-机柜12", "gpuModel": gpu, "gpuMemoryGb": "24", "gpuCount": "8",
		"cudaVersion": "12.4", "driverVersion": "550.54.15", "cpuModel": "Intel Xeon Platinum 8358", "cpuCores": "64", "memoryGb": "512",
		"diskGb": "4096", "internalIp": "10.0.1.11", "sshHost": "", "sshPort": "22", "containerDomainPrefix": "", "sshUser": "root", "sshPassword": "",
	}
}
