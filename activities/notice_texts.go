package activities

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/remotegpu/remotegpu/store"
)

// The codes of the system notices. The notice stores its code and params;
// the console translates them (web/src/locales/codes/notices.ts, title and
// content under the code) and the mail renders them from noticeTexts below.
// The stored title and content are the English text, for old clients.
const (
	NoticeLeaseExpiring      = "notices.leaseExpiring"
	NoticeTaskSucceeded      = "notices.taskSucceeded"
	NoticeTaskFailed         = "notices.taskFailed"
	NoticeTaskStopped        = "notices.taskStopped"
	NoticeTaskStoppedByAdmin = "notices.taskStoppedByAdmin"
)

// Languages of the notice texts, in the order a mail shows them.
const (
	LangZH = "zh-CN"
	LangEN = "en"
)

// NoticeLanguages is the order in which a mail shows a coded notice.
var NoticeLanguages = []string{LangZH, LangEN}

type noticeText struct{ title, content string }

// noticeTexts are the texts of each code, one language each. Their data is
// the notice's params plus endAtText (endAt as "2006-01-02 15:04 UTC") and
// statusText (the task status in the language).
var noticeTexts = map[string]map[string]noticeText{
	NoticeLeaseExpiring: {
		LangZH: {"机器即将到期：{{.machine}}",
			"您租用的机器 {{.machine}}（{{.gpuCount}} × {{.gpuModel}}）将于 {{.endAtText}} 到期，到期后机器将被回收，其上的任务会被停止。如需继续使用，请联系管理员续期。"},
		LangEN: {"Machine lease ending soon: {{.machine}}",
			"Your lease of machine {{.machine}} ({{.gpuCount}} × {{.gpuModel}}) ends on {{.endAtText}}. The machine is then reclaimed and the tasks on it are stopped; " +
				"contact your administrator to renew it."},
	},
	NoticeTaskSucceeded: {
		LangZH: {"任务已完成：{{.name}}", "您的任务 {{.name}} 已结束，状态：{{.statusText}}。详情与日志请在任务详情页查看。"},
		LangEN: {"Task succeeded: {{.name}}", "Your task {{.name}} has ended with the status {{.statusText}}. Its details and logs are on the task page."},
	},
	NoticeTaskFailed: {
		LangZH: {"任务失败：{{.name}}", "您的任务 {{.name}} 已结束，状态：{{.statusText}}。详情与日志请在任务详情页查看。"},
		LangEN: {"Task failed: {{.name}}", "Your task {{.name}} has ended with the status {{.statusText}}. Its details and logs are on the task page."},
	},
	NoticeTaskStopped: {
		LangZH: {"任务已停止：{{.name}}", "您的任务 {{.name}} 已结束，状态：{{.statusText}}。详情与日志请在任务详情页查看。"},
		LangEN: {"Task stopped: {{.name}}", "Your task {{.name}} has ended with the status {{.statusText}}. Its details and logs are on the task page."},
	},
	NoticeTaskStoppedByAdmin: {
		LangZH: {"任务已停止：{{.name}}", "您的任务 {{.name}} 已被平台管理员停止。原因：{{.reason}}"},
		LangEN: {"Task stopped: {{.name}}", "Your task {{.name}} was stopped by a platform administrator. Reason: {{.reason}}"},
	},
}

var taskStatusText = map[string]map[string]string{
	LangZH: {store.TaskSucceeded: "成功", store.TaskFailed: "失败", store.TaskStopped: "已停止"},
	LangEN: {store.TaskSucceeded: store.TaskSucceeded, store.TaskFailed: store.TaskFailed, store.TaskStopped: store.TaskStopped},
}

// NoticeText renders a coded notice in one language; ok is false for an
// unknown code or language.
func NoticeText(code, lang string, params map[string]any) (title, content string, ok bool) {
	t, ok := noticeTexts[code][lang]
	if !ok {
		return "", "", false
	}
	data := make(map[string]any, len(params)+2)
	for k, v := range params {
		data[k] = v
	}
	if s, _ := params["endAt"].(string); s != "" {
		if at, err := time.Parse(time.RFC3339, s); err == nil {
			data["endAtText"] = at.UTC().Format("2006-01-02 15:04 UTC")
		} else {
			data["endAtText"] = s
		}
	}
	if s, _ := params["status"].(string); s != "" {
		data["statusText"] = s
		if v, ok := taskStatusText[lang][s]; ok {
			data["statusText"] = v
		}
	}
	title, err1 := render(t.title, data)
	content, err2 := render(t.content, data)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return title, content, true
}

func render(text string, data map[string]any) (string, error) {
	tpl, err := template.New("").Option("missingkey=zero").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// NoticeMailText is a coded notice's mail subject and body: each language's
// title joined, and each language's content as its own block. ok is false
// for an unknown code (the caller mails the stored text).
func NoticeMailText(code string, params map[string]any) (title, content string, ok bool) {
	var titles, blocks []string
	for _, lang := range NoticeLanguages {
		t, c, ok := NoticeText(code, lang, params)
		if !ok {
			return "", "", false
		}
		titles, blocks = append(titles, t), append(blocks, c)
	}
	return strings.Join(titles, " / "), strings.Join(blocks, "\n\n"), true
}

// englishNotice is the stored (fallback) text of a coded notice.
func englishNotice(code string, params map[string]any) (string, string) {
	title, content, ok := NoticeText(code, LangEN, params)
	if !ok {
		panic(fmt.Sprintf("no English text for notice %s", code))
	}
	return title, content
}
