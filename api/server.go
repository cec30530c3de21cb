// Package api is the HTTP API: one file per resource, each a handler struct
// with a register method; this file wires them onto chi and Huma.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/datasets"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/lease"
	"github.com/remotegpu/remotegpu/internal/live"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/monitoring"
	"github.com/remotegpu/remotegpu/internal/notices"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/internal/tasks"
	"github.com/remotegpu/remotegpu/store"
)

// Deps are what the handlers use. For generating the OpenAPI document all may be zero.
type Deps struct {
	Config   config.Config
	Store    *store.Store
	Temporal client.Client
	Objects  *objstore.Store
	Mail     mail.Sender
	LDAP     *ldapauth.Client
	Secrets  *secrets.Box
	// Mounts are extra plain handlers by path prefix (the dev mailbox at /dev).
	Mounts map[string]http.Handler
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

type Server struct {
	Deps
	accounts  *accounts.Service // login, sessions, customers, profile, SSH keys
	notices   *notices.Service  // notifications to customers, announcements
	api       huma.API
	ldapProbe ldapProbe
	handler   http.Handler
	metrics   http.Handler // Prometheus, behind METRICS_TOKEN when set
	hosts     *hostchan.Service
	lease     *lease.Service
	mon       *monitoring.Service // agents, ingest and its hooks (OnIngest), the figures
	alerts    *alerting.Service
	live      *live.Service // the monitoring WebSockets and the task logs
	tasks     *tasks.Service
	datasets  *datasets.Service
}

func (s *Server) Handler() http.Handler { return s.handler }

// Start runs the api's background work until Close: the mailing of reset
// codes, the host command channel's listening (new commands, agent key
// changes), the alert evaluation of what the agents send and the
// monitoring WebSockets' pushes (the sockets are refused until then). The
// durable periodic work (offline sweep, notices) is the worker's schedules.
func (s *Server) Start(ctx context.Context) {
	if s.Store == nil {
		return
	}
	s.accounts.Start()
	s.hosts.Start(s.mon.ForgetMachine)
	s.alerts.Start(ctx)
	s.live.Start(ctx)
}

// Close ends the sockets (1001) and stops the background work.
func (s *Server) Close() {
	s.live.Close()
	s.alerts.Close()
	s.accounts.Close()
}
func (s *Server) API() huma.API { return s.api }

// MetricsHandler serves Prometheus metrics, for the METRICS_ADDR listener.
func (s *Server) MetricsHandler() http.Handler { return s.metrics }

// Version is the API version in the OpenAPI document.
const Version = "0.1.0"

func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LDAP == nil {
		d.LDAP = ldapauth.New(ldapauth.Config{})
	}
	s := &Server{Deps: d, accounts: accounts.New(accounts.Deps{Store: d.Store, Temporal: d.Temporal, LDAP: d.LDAP, Mail: d.Mail,
		Objects: d.Objects, Config: d.Config, Now: d.Now}), notices: notices.New(d.Store, d.Temporal, d.Config.TemporalTaskQueue)}
	s.lease = lease.New(d.Store, d.Temporal, d.Secrets, d.Objects, d.Config, d.Now)
	s.hosts = &hostchan.Service{Store: d.Store, Secrets: d.Secrets, Temporal: d.Temporal}
	s.mon = monitoring.New(d.Store, d.Config.Monitoring, d.Config.Fleet, d.Now)
	every := s.mon.Monitoring.SampleInterval
	s.alerts = alerting.New(d.Store, d.Temporal, d.Config.TemporalTaskQueue, d.Config.PublicURL, every, d.Now)
	s.live = live.New(d.Store, s.mon, d.Config.PublicURL, every, wsTuning())
	s.live.RulesChanged, s.live.WriteError = s.alerts.InvalidateRules, writeError
	s.tasks = tasks.New(d.Store, d.Temporal, d.Config.TemporalTaskQueue, s.mon, d.Config.Fleet.ExpiringNotice)
	s.tasks.Objects = d.Objects
	s.datasets = datasets.New(d.Store, d.Temporal, d.Config.TemporalTaskQueue, d.Objects, d.Config.Datasets,
		d.Config.Fleet.ExpiringNotice, d.Config.JWTSecret, d.Now)
	s.live.TaskLogs = s.tasks
	s.hosts.OnProgress(agentproto.KindTaskWait, s.tasks.WaitProgress) // the service's health
	s.hosts.OnProgress(agentproto.KindDatasetMount, s.datasets.MountProgress)
	if d.Store != nil {
		// every ingest is evaluated against the alert rules
		s.mon.OnIngest(func(ctx context.Context, machineID string, samples []agentproto.Sample) {
			s.alerts.Ingested(ctx, alerting.IngestedInput{MachineID: machineID, Samples: samples})
		})
		// a GPU fault moves the tasks on that GPU
		s.mon.OnIngest(func(ctx context.Context, machineID string, samples []agentproto.Sample) {
			s.tasks.SamplesIngested(ctx, tasks.SamplesIngestedInput{MachineID: machineID, Samples: samples})
		})
	}

	r := chi.NewRouter()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newHTTPMetrics(reg)
	r.Use(traceMiddleware(d.Config.Security.TrustedProxies), securityHeaders, metrics.observe, recoverMiddleware, limitUploads)

	cfg := huma.DefaultConfig("RemoteGPU API", Version)
	cfg.CreateHooks = nil // no $schema links: bodies are exactly the envelope
	cfg.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	cfg.OpenAPIPath = "/openapi"
	cfg.Info.Description = "Whole GPU machines leased to enterprise customers, and the services around them. " +
		"Every response is {code, message, data, traceId}; lists take page, pageSize, sortBy, order, filters."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	api := humachi.New(r, cfg)
	api.UseMiddleware(s.authMiddleware(api))
	s.api = api

	(&health{s}).register(r)
	// /metrics is not public: on METRICS_ADDR only (serve.go listens there),
	// or here behind METRICS_TOKEN; with neither it does not exist.
	s.metrics = metricsGate(d.Config.Security.MetricsToken, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if d.Config.Security.MetricsAddr == "" && d.Config.Security.MetricsToken != "" {
		r.Handle("/metrics", s.metrics)
	} else {
		r.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			writeJSONError(w, req, http.StatusNotFound, "not found")
		}))
	}
	r.Get("/openapi.yaml", func(w http.ResponseWriter, req *http.Request) {
		b, err := api.OpenAPI().YAML()
		if err != nil {
			writeJSONError(w, req, http.StatusInternalServerError, "internal error")
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(b)
	})

	(&authHandler{s}).register(api)
	(&publicHandler{s}).register(api)
	(&customersHandler{s}).register(api)
	(&customerUsersHandler{s}).register(api)
	(&auditHandler{s}).register(api)
	(&announcementsHandler{s}).register(api)
	(&adminNotificationsHandler{s}).register(api)
	(&profileHandler{s}).register(api)
	(&sshKeysHandler{s}).register(api)
	(&notificationsHandler{s}).register(api)
	(&machinesHandler{s}).register(api)
	(&machineImportHandler{s}).register(api)
	(&customerMachinesHandler{s}).register(api)
	(&dashboardHandler{s}).register(api)
	(&allocationsHandler{s}).register(api)
	(&tasksHandler{s}).register(api)
	(&adminTasksHandler{s}).register(api)
	(&datasetMountsHandler{s}).register(api)
	(&datasetUploadsHandler{s}).register(api)
	(&adminDatasetUploadsHandler{s}).register(api)
	(&machineHostHandler{s}).register(api)
	(&gpuFaultsHandler{s}).register(api)
	(&datasetsHandler{s}).register(api)
	(&adminDatasetsHandler{s}).register(api)
	(&storageHandler{s}).register(api)
	s.registerMonitoring(api)
	(&alertsHandler{alerts: s.alerts, regionName: s.mon.RegionName}).register(api)
	(&wsHandler{s: s, live: s.live}).register(r)
	s.registerTemporalCodec(r, api)
	answerBadInputAs400(api.OpenAPI())

	for prefix, h := range d.Mounts {
		r.Mount(prefix, h)
	}
	r.Handle("/api/*", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, apperr.New(apperr.NotFound, apperr.CodeNoSuchEndpoint, "no such endpoint"))
	}))
	r.Handle("/ws/*", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, apperr.New(apperr.NotFound, apperr.CodeNoSuchEndpoint, "no such endpoint"))
	}))
	r.NotFound(spaHandler(d.Config.WebDir))
	s.handler = r
	return s
}

// OpenAPI returns the document as YAML (what `remotegpu openapi` prints).
func OpenAPI() ([]byte, error) {
	return New(Deps{Config: config.Config{AccessTokenTTL: time.Minute}}).api.OpenAPI().YAML()
}

// spaHandler serves the built console; unknown paths get index.html so the
// client router can answer them (with its own 404 page).
func spaHandler(dir string) http.HandlerFunc {
	fs := http.FileServer(http.Dir(dir))
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSONError(w, r, http.StatusNotFound, "not found")
			return
		}
		p := filepath.Join(dir, filepath.Clean("/"+r.URL.Path))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			if strings.HasPrefix(r.URL.Path, "/assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			fs.ServeHTTP(w, r)
			return
		}
		index := filepath.Join(dir, "index.html")
		if _, err := os.Stat(index); err != nil {
			http.Error(w, "the console is not built: run `make web` (or `make run`)", http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFile(w, r, index)
	}
}

// writeJSONError writes an error envelope outside of Huma (plain chi routes).
func writeJSONError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody(r.Context(), status, reasonFor(status), msg))
}

// writeError writes an error outside of Huma (plain chi routes) as newError
// maps it: a domain error with its status, code and parameters, anything
// else as a 500.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := newError(r.Context(), http.StatusInternalServerError, "internal error", err).(*ErrorBody)
	if e, ok := apperr.As(err); ok {
		for k, v := range e.GetHeaders() {
			w.Header()[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(body.status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) now() time.Time { return s.Now() }
