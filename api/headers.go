package api

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"strings"
)

// consolePolicy is the Content-Security-Policy of the console and the API:
// the Vite build loads only its own scripts; Element Plus sets inline
// styles; avatars are blob: URLs and charts may use data: images; the live
// pages open WebSockets to the same host. 'wasm-unsafe-eval' lets the
// upload's Web Worker compile its WebAssembly MD5 (hash-wasm); it does not
// allow eval() of scripts.
const consolePolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// devMailPolicy is for the dev mailbox (/dev, development only): a page with
// an inline script and style that shows mails in sandboxed frames.
const devMailPolicy = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// hstsValue is sent only on requests that came over TLS.
const hstsValue = "max-age=31536000"

var plainHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// securityHeaders sets the headers every response carries. /docs keeps the
// policy Huma gives its docs page (a script from unpkg.com, in a sandbox).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		switch {
		case r.URL.Path == "/docs":
		case strings.HasPrefix(r.URL.Path, "/dev/"):
			h.Set("Content-Security-Policy", devMailPolicy)
		default:
			policy := consolePolicy
			// 'self' covers ws: and wss: to the same host in CSP 3; older
			// browsers need them named.
			if plainHost.MatchString(r.Host) {
				policy = strings.Replace(policy, "default-src 'self'",
					"default-src 'self'; connect-src 'self' ws://"+r.Host+" wss://"+r.Host, 1)
			}
			h.Set("Content-Security-Policy", policy)
		}
		if reqInfo(r.Context()).HTTPS {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}

// metricsGate guards /metrics with METRICS_TOKEN when one is configured.
func metricsGate(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSONError(w, r, http.StatusUnauthorized, "metrics require the METRICS_TOKEN bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}
