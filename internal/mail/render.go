package mail

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"
)

// Template names for Render.
const (
	TemplatePasswordReset = "password_reset"
	TemplateNotification  = "notification"
)

// PasswordReset is the data of the password_reset template.
type PasswordReset struct {
	Name         string // optional greeting name
	Username     string // optional, shown as the account
	Code         string // the 6-digit code
	ValidMinutes int    // default 10; a map may call it "Minutes"
}

// Notification is the data of the notification template.
type Notification struct {
	Name        string // the recipient, for the greeting (optional)
	CompanyName string // the customer's company, for the greeting when Name is empty (optional)
	Title       string
	Content     string // plain text; line breaks are kept
	Level       string // optional: info, warning or critical; warning and critical are marked in the subject
	URL         string // optional link to the console page
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// Each templates/<name>.tmpl defines "subject", "text" and "html". subject
// and text run through text/template, html through html/template.
type tmpl struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

var templates = mustLoad()

func mustLoad() map[string]tmpl {
	files, err := fs.Glob(templateFS, "templates/*.tmpl")
	if err != nil {
		panic(err)
	}
	out := make(map[string]tmpl, len(files))
	for _, f := range files {
		src, err := templateFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		name := strings.TrimSuffix(path.Base(f), ".tmpl")
		t := tmpl{
			text: texttemplate.Must(texttemplate.New(name).Option("missingkey=error").Funcs(texttemplate.FuncMap(funcs)).Parse(string(src))),
			html: htmltemplate.Must(htmltemplate.New(name).Option("missingkey=error").Funcs(htmltemplate.FuncMap(funcs)).Parse(string(src))),
		}
		for _, part := range []string{"subject", "text", "html"} {
			if t.text.Lookup(part) == nil {
				panic(fmt.Sprintf("mail template %s lacks {{define %q}}", f, part))
			}
		}
		out[name] = t
	}
	return out
}

// Templates lists the names Render knows.
func Templates() []string {
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render executes the template name (TemplatePasswordReset with a
// PasswordReset, TemplateNotification with a Notification, or a map with the
// same keys) and returns the subject (one line), the text body and the HTML
// body.
func Render(name string, data any) (subject, text, html string, err error) {
	t, ok := templates[name]
	if !ok {
		return "", "", "", fmt.Errorf("unable to render mail: no template %q", name)
	}
	data, err = normalize(name, data)
	if err != nil {
		return "", "", "", err
	}
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("unable to render %s subject: %w", name, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := t.text.ExecuteTemplate(&b, "text", data); err != nil {
		return "", "", "", fmt.Errorf("unable to render %s text: %w", name, err)
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := t.html.ExecuteTemplate(&b, "html", data); err != nil {
		return "", "", "", fmt.Errorf("unable to render %s html: %w", name, err)
	}
	html = strings.TrimSpace(b.String()) + "\n"
	return subject, text, html, nil
}

// Build renders the template name into a Message for to.
func Build(name string, data any, to ...string) (Message, error) {
	subject, text, html, err := Render(name, data)
	if err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: subject, Text: text, HTML: html}, nil
}

// normalize turns the data of the known templates into their struct (a map
// with the field names works too, case-insensitively, plus "Minutes" for
// ValidMinutes) and fills defaults.
func normalize(name string, data any) (any, error) {
	switch name {
	case TemplatePasswordReset:
		var d PasswordReset
		switch v := data.(type) {
		case PasswordReset:
			d = v
		case *PasswordReset:
			if v != nil {
				d = *v
			}
		default:
			if err := fromMap(data, &d); err != nil {
				return nil, err
			}
			if d.ValidMinutes == 0 {
				var alias struct{ Minutes int }
				_ = fromMap(data, &alias)
				d.ValidMinutes = alias.Minutes
			}
		}
		if d.ValidMinutes <= 0 {
			d.ValidMinutes = 10
		}
		if d.Code == "" {
			return nil, errors.New("unable to render password_reset: no code")
		}
		return d, nil
	case TemplateNotification:
		var d Notification
		switch v := data.(type) {
		case Notification:
			d = v
		case *Notification:
			if v != nil {
				d = *v
			}
		default:
			if err := fromMap(data, &d); err != nil {
				return nil, err
			}
		}
		if d.Title == "" {
			return nil, errors.New("unable to render notification: no title")
		}
		return d, nil
	}
	return data, nil
}

// fromMap copies a map[string]any (or any JSON-able value) into dst by
// field name.
func fromMap(data any, dst any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("unable to read mail data: %w", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("unable to read mail data: %w", err)
	}
	return nil
}

var funcs = map[string]any{
	// levelTag is the subject prefix of a notification level.
	"levelTag": func(level string) string {
		switch strings.ToLower(level) {
		case "warning", "warn":
			return "[警告 Warning] "
		case "critical", "error", "fatal":
			return "[严重 Critical] "
		}
		return ""
	},
}
