package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/logging"
)

// requestInfo is what audit records and sessions keep about the caller's connection.
type requestInfo = caller.Request

func reqInfo(ctx context.Context) requestInfo { return caller.RequestOf(ctx) }

var validTraceID = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}$`)

// traceMiddleware gives every request a trace ID (the caller's X-Trace-Id
// when it is sane), puts it in the context for logs and envelopes, and echoes
// it; it also records the client's address and whether it used TLS, taking
// X-Forwarded-For and X-Forwarded-Proto only from trusted proxies.
func traceMiddleware(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Trace-Id")
			if !validTraceID.MatchString(id) {
				id = logging.NewTraceID()
			}
			w.Header().Set("X-Trace-Id", id)
			ip, viaProxy := clientIP(r, trusted)
			https := r.TLS != nil || (viaProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
			ctx := logging.WithTraceID(r.Context(), id)
			ctx = caller.WithRequest(ctx, caller.Request{IP: ip, UserAgent: r.UserAgent(), HTTPS: https})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController (and the WebSocket upgrader) reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remotegpu_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "remotegpu_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe logs each request (with its trace ID) and counts it by route pattern, not raw path.
func (m *httpMetrics) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := "other"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		d := time.Since(start)
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(r.Method, route).Observe(d.Seconds())
		level := slog.LevelInfo
		switch {
		case rec.status >= 500 && r.Context().Err() == nil:
			level = slog.LevelError
		case rec.status >= 400:
		case route == "/healthz" || route == "/readyz" || route == "/metrics" || strings.HasPrefix(route, "/api/agent/"):
			// probes, and thousands of agents polling and reporting every few seconds
			level = slog.LevelDebug
		}
		slog.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000, "ip", reqInfo(r.Context()).IP)
	})
}

// recoverMiddleware turns a panic into a logged 500 envelope instead of a dropped connection.
func recoverMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.ErrorContext(r.Context(), "panic", "value", v)
				writeJSONError(w, r, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// clientIP is the client's address. The peer is the client unless it is a
// trusted proxy (TRUSTED_PROXIES); then X-Forwarded-For is read from the
// right, skipping trusted hops, and the first address that is not a
// trusted proxy is the client: what lies left of it is the client's own
// word. An entry that is not an address stops the walk. viaProxy tells
// that the peer was a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) (ip string, viaProxy bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr, false
	}
	if !isTrusted(peer, trusted) {
		return peer.String(), false
	}
	client := peer
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String(), true
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port"; IPv4-mapped IPv6 is unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// uploadLimits caps multipart bodies by path (Huma's MaxBodyBytes does not
// apply to multipart forms); other multipart paths get defaultUploadLimit.
var uploadLimits = map[string]int64{
	"/api/customer/profile/avatar": maxAvatarBytes + 64<<10,
	"/api/admin/machines/import":   maxImportUploadBytes,
}

const defaultUploadLimit = 8 << 20

func limitUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			limit, ok := uploadLimits[r.URL.Path]
			if !ok {
				limit = defaultUploadLimit
			}
			if r.ContentLength > limit {
				writeError(w, r, apperr.New(apperr.TooLarge, "uploadTooLarge", "the upload is too large (limit {mb} MB)", apperr.P{"mb": limit >> 20}))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}
