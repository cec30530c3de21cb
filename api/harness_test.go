package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/mailsink"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
	"github.com/remotegpu/remotegpu/worker"
)

// env is one test's server over its own database, with a mail sink and
// (on request) a Temporal worker on a task queue of its own.
type env struct {
	t      *testing.T
	st     *store.Store
	api    *api.Server
	srv    *httptest.Server
	sink   *mailsink.Sink
	box    *secrets.Box
	fx     fixture
	cfg    config.Config
	now    time.Time
	offset time.Duration
	// temporal is the client of the test's worker (options.temporal).
	temporal client.Client
	// objects is the object store (options.objects).
	objects *objstore.Store
}

type options struct {
	temporal bool
	objects  bool
	ldap     *ldapauth.Config
	webhook  string // ALERT_WEBHOOK_URL of the worker
	config   func(*config.Config)
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	st, _ := storetest.New(t)
	sink, err := mailsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	e := &env{t: t, st: st, sink: sink}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	e.box = box
	e.cfg = config.Config{
		SecretsKey:        key,
		Fleet:             config.Fleet{Regions: fleet.DefaultCatalog.Regions, GPUModels: fleet.DefaultCatalog.GPUModels, ExpiringNotice: 7 * 24 * time.Hour, SSHBaseDomain: "gpu.test"},
		JWTSecret:         []byte("test-secret-test-secret-test-secret!"),
		AccessTokenTTL:    15 * time.Minute,
		RefreshTokenTTL:   24 * time.Hour,
		TemporalTaskQueue: "test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + fmt.Sprint(time.Now().UnixNano()),
		WebDir:            t.TempDir(),
	}
	// Every test's workflows are sealed with a key of its own: a client
	// without the codec could not read them.
	e.cfg.TemporalPayloadKey = make([]byte, 32)
	_, _ = rand.Read(e.cfg.TemporalPayloadKey)
	e.cfg.TemporalUIURL = testTemporalUI
	if o.ldap != nil {
		e.cfg.LDAP.PasswordResetURL = o.ldap.PasswordResetURL
	}
	if o.config != nil {
		o.config(&e.cfg)
	}
	sender := mail.New(mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "RemoteGPU <no-reply@remotegpu.test>"})
	deps := api.Deps{Config: e.cfg, Store: st, Mail: sender, Secrets: box, Now: func() time.Time { return time.Now().Add(e.offset) }}
	if o.ldap != nil {
		deps.LDAP = ldapauth.New(*o.ldap)
	}
	if o.objects {
		endpoint := os.Getenv("S3_ENDPOINT")
		if endpoint == "" {
			t.Fatal("S3_ENDPOINT is not set: run the tests with `make test` (or `bin/remotegpu testenv -- go test ./...`)")
		}
		obj, err := objstore.New(objstore.Config{Endpoint: endpoint, AccessKey: os.Getenv("S3_ACCESS_KEY"), SecretKey: os.Getenv("S3_SECRET_KEY"), BucketPrefix: "test-"})
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.EnsureBuckets(context.Background(), objstore.BucketAvatars, objstore.BucketTaskOutputs, objstore.BucketDatasets); err != nil {
			t.Fatal(err)
		}
		deps.Objects, e.objects = obj, obj
	}
	if o.temporal {
		addr := os.Getenv("TEMPORAL_ADDRESS")
		if addr == "" {
			t.Fatal("TEMPORAL_ADDRESS is not set: run the tests with `make test` (or `bin/remotegpu testenv -- go test ./...`)")
		}
		e.cfg.TemporalAddress, e.cfg.TemporalNamespace = addr, envOr("TEMPORAL_NAMESPACE", "default")
		copts, err := payloadcodec.ClientOptions(e.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(copts)
		if err != nil {
			t.Fatalf("unable to reach Temporal at %s: %v", addr, err)
		}
		t.Cleanup(c.Close)
		deps.Config = e.cfg
		w := worker.New(c, e.cfg.TemporalTaskQueue, worker.Deps{Store: st, Mail: sender, Secrets: box, AlertWebhookURL: o.webhook, Objects: deps.Objects,
			Datasets: e.cfg.Datasets})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		deps.Temporal = c
		e.temporal = c
	}
	e.api = api.New(deps)
	e.api.Start(context.Background())
	t.Cleanup(e.api.Close)
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	e.fx = seedFixture(t, st)
	return e
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// fixture: an admin and two customers A and B, each with an owner and a member.
type fixture struct {
	admin                            *store.User
	tenantA, tenantB                 *store.Tenant
	ownerA, memberA, ownerB, memberB *store.User
}

const testPassword = "Passw0rd-Test"

func seedFixture(t *testing.T, st *store.Store) fixture {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(tenant *string, username, role string) *store.User {
		u := &store.User{TenantID: tenant, Username: username, Name: username, Email: username + "@example.test", Role: role, AuthSource: "local", PasswordHash: hash}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	mkTenant := func(code string) *store.Tenant {
		tn := &store.Tenant{Name: "Contact " + code, Company: "Company " + code, Code: code, Email: code + "@example.test", Status: "active"}
		if err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	var f fixture
	f.admin = mk(nil, "admin1", "admin")
	f.tenantA, f.tenantB = mkTenant("tenant-a"), mkTenant("tenant-b")
	f.ownerA, f.memberA = mk(&f.tenantA.ID, "owner-a", "owner"), mk(&f.tenantA.ID, "member-a", "member")
	f.ownerB, f.memberB = mk(&f.tenantB.ID, "owner-b", "owner"), mk(&f.tenantB.ID, "member-b", "member")
	return f
}

// reply is a decoded envelope.
type reply struct {
	Status  int
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	TraceID string          `json:"traceId"`
	Header  http.Header
}

func (r *reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("unable to decode %s: %v", r.Data, err)
	}
}

// session is a logged-in (or anonymous) client.
type session struct {
	e       *env
	access  string
	refresh string
	ip      string
}

func (e *env) anon() *session { return &session{e: e} }

func (e *env) login(username string) *session {
	e.t.Helper()
	return e.loginWith(username, testPassword)
}

func (e *env) loginWith(username, password string) *session {
	e.t.Helper()
	s := e.anon()
	r := s.do("POST", "/api/auth/login", map[string]any{"username": username, "password": password})
	if r.Status != 200 {
		e.t.Fatalf("login %s: %d %s", username, r.Status, r.Message)
	}
	var tp api.TokenPair
	r.decode(e.t, &tp)
	s.access, s.refresh = tp.AccessToken, tp.RefreshToken
	return s
}

func (s *session) do(method, path string, body any) *reply {
	s.e.t.Helper()
	return s.doWith(method, path, body, nil)
}

// doWith is do with extra request headers.
func (s *session) doWith(method, path string, body any, headers map[string]string) *reply {
	s.e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case multipartBody:
		rd, ct = bytes.NewReader(b.data), b.contentType
	default:
		buf, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, s.e.srv.URL+path, rd)
	if err != nil {
		s.e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if s.access != "" {
		req.Header.Set("Authorization", "Bearer "+s.access)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &reply{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, r); err != nil {
			s.e.t.Fatalf("%s %s: body is not an envelope: %s", method, path, raw)
		}
		if r.TraceID == "" || r.TraceID != resp.Header.Get("X-Trace-Id") {
			s.e.t.Fatalf("%s %s: traceId %q does not match X-Trace-Id %q", method, path, r.TraceID, resp.Header.Get("X-Trace-Id"))
		}
		if (r.Status < 400) != (r.Code == 0) || (r.Status >= 400 && r.Code != r.Status) {
			s.e.t.Fatalf("%s %s: code %d with status %d", method, path, r.Code, r.Status)
		}
		// every error names its message by a code the console translates
		var d struct{ Reason string }
		if r.Status >= 400 && (json.Unmarshal(r.Data, &d) != nil || d.Reason == "") {
			s.e.t.Fatalf("%s %s: error %d without data.reason: %s", method, path, r.Status, raw)
		}
	} else {
		r.Data = raw
	}
	return r
}

// must asserts the status and returns the reply.
func (s *session) must(status int, method, path string, body any) *reply {
	s.e.t.Helper()
	r := s.do(method, path, body)
	if r.Status != status {
		s.e.t.Fatalf("%s %s: status %d (%s), want %d; data %s", method, path, r.Status, r.Message, status, r.Data)
	}
	return r
}

// mustWith is must with extra request headers.
func (s *session) mustWith(status int, method, path string, body any, headers map[string]string) *reply {
	s.e.t.Helper()
	r := s.doWith(method, path, body, headers)
	if r.Status != status {
		s.e.t.Fatalf("%s %s: status %d (%s), want %d; data %s", method, path, r.Status, r.Message, status, r.Data)
	}
	return r
}

type multipartBody struct {
	data        []byte
	contentType string
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
