package mailsink

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// Handler serves
//
//	GET /dev/mail       an HTML page listing the messages, newest first,
//	                    refreshing itself every 5 s
//	GET /dev/mail.json  the messages as a JSON array, newest first
//
// Both take an optional ?to=<address> filter. The handler matches the full
// request paths; mount it at the root of a router, for example
// r.Handle("/dev/mail*", sink.Handler()) with chi. It is for development
// only: it shows every mail, including password reset codes.
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dev/mail", s.servePage)
	mux.HandleFunc("GET /dev/mail.json", s.serveJSON)
	return mux
}

func (s *Sink) filtered(r *http.Request) []Message {
	msgs := s.Messages()
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	if to == "" {
		return msgs
	}
	want := normAddr(to)
	out := msgs[:0]
	for _, m := range msgs {
		if hasRecipient(m, want) {
			out = append(out, m)
		}
	}
	return out
}

func (s *Sink) serveJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.filtered(r))
}

func (s *Sink) servePage(w http.ResponseWriter, r *http.Request) {
	msgs := s.filtered(r)
	data := struct {
		Messages []Message
		Latest   string
		To       string
		Capacity int
	}{Messages: msgs, To: r.URL.Query().Get("to"), Capacity: Capacity}
	if len(msgs) > 0 {
		data.Latest = msgs[0].ID
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.Execute(w, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev mail ({{len .Messages}})</title>
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f7fa;color:#303133}
header{background:#304156;color:#fff;padding:12px 20px}
header h1{font-size:18px;margin:0 0 4px}
header p{margin:0;font-size:13px;opacity:.8}
header a{color:#bcd}
main{padding:16px 20px;max-width:1100px}
details{background:#fff;border:1px solid #e4e7ed;border-radius:4px;margin:0 0 8px}
summary{cursor:pointer;padding:10px 12px;display:flex;gap:12px;align-items:baseline}
summary .t{color:#909399;font-size:12px;white-space:nowrap;font-variant-numeric:tabular-nums}
summary .to{color:#606266;min-width:14em}
summary .s{font-weight:600}
.body{padding:0 12px 12px;border-top:1px solid #ebeef5}
.meta{font-size:13px;color:#606266;margin:8px 0}
.meta b{display:inline-block;min-width:6em;color:#303133}
pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;border:1px solid #ebeef5;padding:10px;margin:6px 0;font-size:13px}
iframe{width:100%;height:420px;border:1px solid #ebeef5;background:#fff}
h3{font-size:13px;margin:12px 0 4px;color:#909399;text-transform:uppercase}
.empty{color:#909399;padding:40px 0;text-align:center}
.err{color:#f56c6c}
</style>
</head>
<body data-latest="{{.Latest}}">
<header>
<h1>Dev mail sink</h1>
<p>Mail sent by this development stack lands here and is never delivered. Newest first, last {{.Capacity}} kept, refreshes every 5 s.
{{if .To}}Showing mail to <b>{{.To}}</b> — <a href="mail">show all</a>.{{end}}
<a href="mail.json{{if .To}}?to={{.To}}{{end}}">JSON</a></p>
</header>
<main>
{{range .Messages}}
<details id="m{{.ID}}">
<summary><span class="t">{{.ReceivedAt.Format "2006-01-02 15:04:05"}}</span><span class="to">{{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}}</span><span class="s">{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</span></summary>
<div class="body">
<div class="meta"><b>ID</b> {{.ID}} · {{.Size}} bytes</div>
<div class="meta"><b>From</b> {{if .HeaderFrom}}{{.HeaderFrom}}{{else}}{{.From}}{{end}}</div>
<div class="meta"><b>To</b> {{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}}</div>
{{if .Attachments}}<div class="meta"><b>Attachments</b> {{range $i, $a := .Attachments}}{{if $i}}, {{end}}{{$a}}{{end}}</div>{{end}}
{{if .ParseError}}<div class="meta err"><b>Parse error</b> {{.ParseError}}</div>{{end}}
{{if .Text}}<h3>Text</h3><pre>{{.Text}}</pre>{{end}}
{{if .HTML}}<h3>HTML</h3><iframe sandbox title="HTML body of message {{.ID}}" srcdoc="{{.HTML}}"></iframe>{{end}}
</div>
</details>
{{else}}
<p class="empty">No mail yet.</p>
{{end}}
</main>
<script>
(function () {
  var key = "devmail-open";
  var open = {};
  try { open = JSON.parse(sessionStorage.getItem(key) || "{}"); } catch (e) {}
  document.querySelectorAll("details").forEach(function (d) {
    if (open[d.id]) d.open = true;
    d.addEventListener("toggle", function () {
      if (d.open) open[d.id] = true; else delete open[d.id];
      sessionStorage.setItem(key, JSON.stringify(open));
    });
  });
  var latest = document.body.dataset.latest || "";
  setInterval(function () {
    fetch("mail.json" + location.search, {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (list) {
        var now = list.length ? list[0].id : "";
        if (now !== latest) location.reload();
      })
      .catch(function () {});
  }, 5000);
})();
</script>
</body>
</html>
`))
