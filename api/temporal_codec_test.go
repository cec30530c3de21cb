package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
)

// testTemporalUI is TEMPORAL_UI_URL in every test server: the one origin the codec answers cross-origin.
const testTemporalUI = "http://127.0.0.1:8233"

// codecCall is one raw request to the codec endpoint.
type codecCall struct {
	method, path string
	bearer       string
	cookie       *http.Cookie
	origin       string
	body         []byte
}

func (e *env) codec(c codecCall) *http.Response {
	e.t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.body == nil && c.method == http.MethodPost {
		c.body = []byte(`{"payloads":[]}`)
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// codecSession asks for the Temporal UI cookie as s and returns it.
func (s *session) codecSession() (*http.Cookie, api.TemporalCodecSession) {
	s.e.t.Helper()
	r := s.must(200, "POST", "/api/admin/temporal-codec/session", nil)
	var data api.TemporalCodecSession
	r.decode(s.e.t, &data)
	resp := http.Response{Header: r.Header}
	for _, c := range resp.Cookies() {
		if c.Name == "remotegpu_temporal_codec" {
			return c, data
		}
	}
	s.e.t.Fatalf("no codec cookie in %v", r.Header.Values("Set-Cookie"))
	return nil, data
}

// The codec endpoint is a plain route (TestTenantIsolation walks only
// OpenAPI operations): who may use it, from where, and for how long.
func TestTemporalCodecAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	admin, owner := e.login("admin1"), e.login("owner-a")
	const decode = "/api/temporal-codec/decode"

	cookie, sess := admin.codecSession()
	if !cookie.HttpOnly || cookie.Path != "/api/temporal-codec" || cookie.MaxAge <= 0 || cookie.MaxAge > 3600 {
		t.Fatalf("cookie %+v: want HttpOnly, path /api/temporal-codec, at most an hour", cookie)
	}
	if sess.TemporalUIURL != testTemporalUI || !strings.HasSuffix(sess.CodecEndpoint, "/api/temporal-codec") ||
		time.Until(sess.ExpiresAt) > time.Hour || time.Until(sess.ExpiresAt) < 50*time.Minute {
		t.Fatalf("session %+v", sess)
	}
	var audited int
	countAudit := func() int {
		var n int
		if err := e.st.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM audit_logs WHERE action = 'temporal_codec.session' AND actor_id = $1`, e.fx.admin.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if audited = countAudit(); audited != 1 {
		t.Fatalf("session audited %d times, want 1", audited)
	}
	// customers cannot have one
	owner.must(403, "POST", "/api/admin/temporal-codec/session", nil)
	e.anon().must(401, "POST", "/api/admin/temporal-codec/session", nil)

	accessCookie := &http.Cookie{Name: "remotegpu_temporal_codec", Value: admin.access}
	for _, c := range []struct {
		name string
		call codecCall
		want int
	}{
		{"anonymous", codecCall{path: decode}, 401},
		{"customer's token", codecCall{path: decode, bearer: owner.access}, 403},
		{"admin's token (CLI)", codecCall{path: decode, bearer: admin.access}, 200},
		{"admin's token, encode", codecCall{path: "/api/temporal-codec/encode", bearer: admin.access}, 200},
		{"cookie from the Temporal UI", codecCall{path: decode, cookie: cookie, origin: testTemporalUI}, 200},
		{"cookie without an Origin", codecCall{path: decode, cookie: cookie}, 200},
		{"cookie from another site", codecCall{path: decode, cookie: cookie, origin: "https://evil.example"}, 403},
		{"token from another site", codecCall{path: decode, bearer: admin.access, origin: "http://localhost:8233"}, 403},
		{"access token as the cookie", codecCall{path: decode, cookie: accessCookie}, 401},
		{"cookie as a bearer token", codecCall{path: decode, bearer: cookie.Value}, 401},
		{"forged cookie", codecCall{path: decode, cookie: &http.Cookie{Name: cookie.Name, Value: cookie.Value[:len(cookie.Value)-2] + "xx"}}, 401},
		{"GET", codecCall{method: http.MethodGet, path: decode, bearer: admin.access}, 405},
		{"unknown operation", codecCall{path: "/api/temporal-codec/other", bearer: admin.access}, 404},
		{"malformed body", codecCall{path: decode, bearer: admin.access, body: []byte("{")}, 400},
	} {
		resp := e.codec(c.call)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		if c.call.origin == testTemporalUI {
			if acao != testTemporalUI || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("%s: CORS headers %v", c.name, resp.Header)
			}
		} else if acao != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", c.name, acao)
		}
	}

	// the browser's preflight: no credentials, answered for the UI's origin only
	pre := e.codec(codecCall{method: http.MethodOptions, path: decode, origin: testTemporalUI})
	if pre.StatusCode != 204 || pre.Header.Get("Access-Control-Allow-Origin") != testTemporalUI ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "x-namespace") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if pre := e.codec(codecCall{method: http.MethodOptions, path: decode, origin: "https://evil.example"}); pre.StatusCode != 403 ||
		pre.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another site: %d %v", pre.StatusCode, pre.Header)
	}

	// codec calls are not audited
	if n := countAudit(); n != audited {
		t.Errorf("audit entries went from %d to %d", audited, n)
	}
	var all int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_logs WHERE action LIKE 'temporal_codec%'`).Scan(&all)
	if all != 1 {
		t.Errorf("%d temporal_codec audit entries, want the session's only", all)
	}

	// the cookie ends with its hour, and with the login session
	e.offset = 61 * time.Minute
	if r := e.codec(codecCall{path: decode, cookie: cookie}); r.StatusCode != 401 {
		t.Errorf("cookie after an hour: %d, want 401", r.StatusCode)
	}
	e.offset = 0
	admin.must(200, "POST", "/api/auth/logout", map[string]any{"refreshToken": admin.refresh})
	if r := e.codec(codecCall{path: decode, cookie: cookie}); r.StatusCode != 401 {
		t.Errorf("cookie after logout: %d, want 401", r.StatusCode)
	}
}

// A real workflow through the real Temporal server: the history holds no
// readable e-mail address or name, and an admin reads them back through
// the codec endpoint (as the Temporal UI and the CLI do).
func TestTemporalPayloadsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{temporal: true})
	admin := e.login("admin1")
	var sent api.SentNotification
	admin.must(202, "POST", "/api/admin/customers/"+e.fx.tenantA.ID+"/notifications",
		map[string]any{"title": "维护通知", "content": "本周六 02:00 维护", "level": "info", "sendEmail": true}).decode(t, &sent)

	// A client without the codec sees what the Temporal server stores.
	raw, err := client.Dial(client.Options{HostPort: e.cfg.TemporalAddress, Namespace: e.cfg.TemporalNamespace})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := raw.GetWorkflow(ctx, sent.WorkflowID, "").Get(ctx, nil); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	var all []byte
	var payloads []*commonpb.Payload
	var deliverResult *commonpb.Payloads
	it := raw.GetWorkflowHistory(ctx, sent.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proto.Marshal(ev)
		all = append(all, b...)
		err = proxy.VisitPayloads(ctx, ev, proxy.VisitPayloadsOptions{SkipSearchAttributes: true,
			Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
				payloads = append(payloads, p...)
				return p, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && deliverResult == nil {
			deliverResult = a.GetResult() // the first activity: DeliverNotification, the recipients
		}
	}
	if len(payloads) < 4 || deliverResult == nil {
		t.Fatalf("%d payloads in the history, deliver result %v", len(payloads), deliverResult)
	}
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != payloadcodec.Encoding {
			t.Errorf("payload %d is not encrypted: %s", i, p.GetMetadata())
		}
		b, _ := proto.Marshal(p)
		for _, s := range []string{"owner-a", "member-a", "example.test"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("payload %d holds %q", i, s)
			}
		}
	}
	for _, s := range []string{"owner-a@example.test", "member-a@example.test"} {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("the history holds %q", s)
		}
	}

	// An admin decodes them: with the access token (the CLI) and with the cookie from the UI's origin.
	cookie, _ := admin.codecSession()
	for name, modify := range map[string]func(*http.Request) error{
		"bearer": func(r *http.Request) error { r.Header.Set("Authorization", "Bearer "+admin.access); return nil },
		"cookie": func(r *http.Request) error { r.AddCookie(cookie); r.Header.Set("Origin", testTemporalUI); return nil },
	} {
		remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: e.srv.URL + "/api/temporal-codec", ModifyRequest: modify})
		plain, err := remote.Decode(deliverResult.Payloads)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		var res activities.DeliverResult
		if err := converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: plain}, &res); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]string{}
		for _, r := range res.Recipients {
			got[r.Email] = r.Name
		}
		if got["owner-a@example.test"] != "owner-a" || got["member-a@example.test"] != "member-a" {
			t.Fatalf("%s: decoded recipients %+v", name, res.Recipients)
		}
	}
	// anyone else gets nothing out of it
	owner := e.login("owner-a")
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: e.srv.URL + "/api/temporal-codec",
		ModifyRequest: func(r *http.Request) error { r.Header.Set("Authorization", "Bearer "+owner.access); return nil }})
	if _, err := remote.Decode(deliverResult.Payloads); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("a customer decoded: %v", err)
	}

	// The Temporal CLI, pointed at the endpoint, shows the history decoded.
	cli := os.Getenv("TEMPORAL_CLI_PATH")
	if cli == "" {
		t.Fatal("TEMPORAL_CLI_PATH is not set: run the tests with `make test` (or `bin/remotegpu testenv -- go test ./...`)")
	}
	show := func(extra ...string) string {
		args := append([]string{"workflow", "show", "--workflow-id", sent.WorkflowID, "--address", e.cfg.TemporalAddress,
			"--namespace", e.cfg.TemporalNamespace, "--output", "json"}, extra...)
		out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := payloadData(t, show()); strings.Contains(out, "owner-a@example.test") {
		t.Error("temporal workflow show without the codec prints the address")
	}
	out := payloadData(t, show("--codec-endpoint", e.srv.URL+"/api/temporal-codec", "--codec-auth", "Bearer "+admin.access))
	if !strings.Contains(out, "owner-a@example.test") {
		t.Errorf("temporal workflow show with the codec endpoint: no address in the payloads\n%.2000s", out)
	}
}

// payloadData is every payload's data (base64 in the CLI's JSON) of a history the CLI printed, decoded and joined.
func payloadData(t *testing.T, cliJSON string) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(cliJSON), &doc); err != nil {
		t.Fatalf("CLI output: %v\n%.500s", err, cliJSON)
	}
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "data" {
					d, _ := base64.StdEncoding.DecodeString(s)
					b.Write(d)
					b.WriteByte('\n')
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return b.String()
}
