package eval

import "github.com/remotegpu/remotegpu/internal/apperr"

// Codes of the stored alert texts. The console translates them
// (web/src/locales/codes/alerting.ts); Texts below are the same texts for
// the mails, which the worker writes without the console.
const (
	CodeGPUTemperature    = "alerting.gpuTemperature"
	CodeDiskUsage         = "alerting.diskUsage"
	CodeDiskUsageOn       = "alerting.diskUsageOn"
	CodeMemoryUsage       = "alerting.memoryUsage"
	CodeOffline           = "alerting.offline"
	CodeLeaseCleanupStuck = "alerting.leaseCleanupStuck"
)

// Text is a message as a code and its figures (vue-i18n named parameters).
type Text struct {
	Code   string
	Params map[string]any
}

// Template is one message in both languages, with {name} placeholders.
type Template struct{ Zh, En string }

// Texts are the alert texts and the words of the alert mail, by code.
var Texts = map[string]Template{
	CodeGPUTemperature:    {"GPU {gpu} 温度 {value} °C ≥ {threshold} °C，持续 {seconds} 秒", "GPU {gpu} temperature {value} °C ≥ {threshold} °C for {seconds} s"},
	CodeDiskUsage:         {"磁盘使用率 {value}% ≥ {threshold}%，持续 {seconds} 秒", "disk usage {value}% ≥ {threshold}% for {seconds} s"},
	CodeDiskUsageOn:       {"磁盘使用率 ({mount}) {value}% ≥ {threshold}%，持续 {seconds} 秒", "disk usage ({mount}) {value}% ≥ {threshold}% for {seconds} s"},
	CodeMemoryUsage:       {"内存使用率 {value}% ≥ {threshold}%，持续 {seconds} 秒", "memory usage {value}% ≥ {threshold}% for {seconds} s"},
	CodeOffline:           {"机器离线，已 {seconds} 秒以上没有上报数据", "machine offline: no data for {seconds} s or more"},
	CodeLeaseCleanupStuck: {"租期结束 {minutes} 分钟后清理仍未完成，待主机确认：{steps}", "the end-of-lease cleanup is not done after {minutes} minutes; waiting for the host to confirm: {steps}"},

	"alerting.level.critical":       {"严重", "critical"},
	"alerting.level.warning":        {"警告", "warning"},
	"alerting.level.info":           {"提示", "info"},
	"alerting.type.gpu_temperature": {"GPU温度", "GPU temperature"},
	"alerting.type.disk_usage":      {"磁盘空间", "disk usage"},
	"alerting.type.memory_usage":    {"内存使用率", "memory usage"},
	"alerting.type.offline":         {"离线", "offline"},
	"alerting.type.lease_cleanup":   {"租期清理超时", "lease cleanup overdue"},
}

// English is the text in English (what alerts keep in message, for mail and API clients).
func (t Text) English() string { return render(t, false) }

// Chinese is the text in Chinese (the mails to admins).
func (t Text) Chinese() string { return render(t, true) }

func render(t Text, zh bool) string {
	tpl, ok := Texts[t.Code]
	if !ok {
		return t.Code
	}
	if zh {
		return apperr.Format(tpl.Zh, t.Params)
	}
	return apperr.Format(tpl.En, t.Params)
}
