package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
	"go.temporal.io/sdk/converter"

	"github.com/remotegpu/remotegpu/internal/payloadcodec"
)

// The remote codec of the Temporal UI and CLI: POST /api/temporal-codec/decode
// and /encode with {"payloads": [...]}, the protocol of the SDK's
// converter.NewPayloadCodecHTTPHandler. Workflow payloads are encrypted
// (internal/payloadcodec); this lets a platform admin read them. The CLI
// sends the admin's access token (--codec-auth 'Bearer …'); the browser UI,
// on another origin, sends the HttpOnly cookie that
// POST /api/admin/temporal-codec/session sets. Codec calls are frequent
// (one per page of events) and not audited; creating the session is.
const (
	temporalCodecPath   = "/api/temporal-codec"
	temporalCodecCookie = "remotegpu_temporal_codec"
	maxCodecBody        = 16 << 20 // a page of events with payloads of up to 2 MB each
)

type temporalCodecHandler struct {
	s      *Server
	codec  http.Handler // nil without TEMPORAL_PAYLOAD_KEY
	uiURL  string       // TEMPORAL_UI_URL
	uiOrig string       // its origin: the one allowed cross-origin, with credentials
	secure bool         // PUBLIC_URL is https: the cookie is Secure
}

func (s *Server) registerTemporalCodec(r chi.Router, api huma.API) {
	cfg := s.Config
	h := &temporalCodecHandler{s: s, uiURL: strings.TrimRight(cfg.TemporalUIURL, "/"), uiOrig: urlOrigin(cfg.TemporalUIURL),
		secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	if codec, err := payloadcodec.New(cfg.TemporalPayloadKey, cfg.TemporalPayloadKeyPrevious...); err == nil {
		h.codec = converter.NewPayloadCodecHTTPHandler(codec)
	}

	huma.Register(api, operation(http.MethodPost, "/api/admin/temporal-codec/session", "create-temporal-codec-session", "temporal",
		"Let this browser decode workflow payloads in the Temporal UI for an hour (audited): sets an HttpOnly cookie for "+
			temporalCodecPath+" and says where the UI and the codec endpoint are", roleAdmin), h.createSession)
	r.Handle(temporalCodecPath+"/*", h)
}

// TemporalCodecSession says where the Temporal UI and the codec endpoint are.
type TemporalCodecSession struct {
	TemporalUIURL string    `json:"temporalUiUrl" doc:"The Temporal Web UI (TEMPORAL_UI_URL); empty when not configured"`
	CodecEndpoint string    `json:"codecEndpoint" doc:"The codec endpoint to give the Temporal UI (Codec Server settings) or temporal --codec-endpoint"`
	ExpiresAt     time.Time `json:"expiresAt" doc:"When the cookie stops working; ask again for a new one"`
}

type CreateTemporalCodecSessionOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      Envelope[TemporalCodecSession]
}

// createSession sets the cookie of a codec session (accounts.CreateCodecSession, audited).
func (h *temporalCodecHandler) createSession(ctx context.Context, _ *struct{}) (*CreateTemporalCodecSessionOutput, error) {
	cs, err := h.s.accounts.CreateCodecSession(ctx)
	if err != nil {
		return nil, err
	}
	cookie := http.Cookie{Name: temporalCodecCookie, Value: cs.Token, Path: temporalCodecPath, Expires: cs.ExpiresAt,
		MaxAge: int(cs.TTL / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode}
	if h.secure {
		// The UI may live on another site (temporal.example.net): only None lets the cookie go there.
		cookie.SameSite = http.SameSiteNoneMode
	}
	endpoint := temporalCodecPath
	if pub := strings.TrimRight(h.s.Config.PublicURL, "/"); pub != "" {
		endpoint = pub + temporalCodecPath
	}
	resp, _ := ok(ctx, TemporalCodecSession{TemporalUIURL: h.uiURL, CodecEndpoint: endpoint, ExpiresAt: cs.ExpiresAt})
	return &CreateTemporalCodecSessionOutput{SetCookie: cookie, Body: resp.Body}, nil
}

// ServeHTTP answers the codec protocol: CORS for the Temporal UI's origin
// (with credentials, preflight included), then an admin check, then the SDK's handler.
func (h *temporalCodecHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		switch {
		case h.uiOrig != "" && o == h.uiOrig:
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", o)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Add("Vary", "Origin")
		case o == urlOrigin(h.s.Config.PublicURL) || o == "http://"+r.Host || o == "https://"+r.Host:
			// the console's own origin
		default:
			// Another site's page may not spend the admin's cookie here.
			writeJSONError(w, r, http.StatusForbidden, "origin not allowed")
			return
		}
	}
	if r.Method == http.MethodOptions {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeJSONError(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if op := strings.TrimPrefix(r.URL.Path, temporalCodecPath); op != "/encode" && op != "/decode" {
		writeJSONError(w, r, http.StatusNotFound, "no such endpoint")
		return
	}
	p, err := h.caller(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !p.IsAdmin() {
		writeError(w, r, errForbiddenRole)
		return
	}
	if h.codec == nil {
		writeJSONError(w, r, http.StatusServiceUnavailable, "TEMPORAL_PAYLOAD_KEY is not configured")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCodecBody)
	h.codec.ServeHTTP(w, r)
}

// caller is the admin's bearer access token or the session cookie, with the
// same checks as every API call: the login session still live, the account active.
func (h *temporalCodecHandler) caller(r *http.Request) (*Principal, error) {
	cookie := ""
	if ck, err := r.Cookie(temporalCodecCookie); err == nil {
		cookie = ck.Value
	}
	return h.s.accounts.AuthenticateCodec(r.Context(), r.Header.Get("Authorization"), cookie)
}

// urlOrigin is scheme://host[:port] of a URL, empty when it has none.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
