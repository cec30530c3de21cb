package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/sdk/converter"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/store"
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
	temporalCodecTTL    = time.Hour
	temporalCodecIssuer = "remotegpu-temporal-codec"
	maxCodecBody        = 16 << 20 // a page of events with payloads of up to 2 MB each
)

type temporalCodecHandler struct {
	s       *Server
	codec   http.Handler // nil without TEMPORAL_PAYLOAD_KEY
	uiURL   string       // TEMPORAL_UI_URL
	uiOrig  string       // its origin: the one allowed cross-origin, with credentials
	signKey []byte       // signs the cookie's token
	secure  bool         // PUBLIC_URL is https: the cookie is Secure
}

func (s *Server) registerTemporalCodec(r chi.Router, api huma.API) {
	cfg := s.Config
	h := &temporalCodecHandler{s: s, uiURL: strings.TrimRight(cfg.TemporalUIURL, "/"), uiOrig: urlOrigin(cfg.TemporalUIURL),
		secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	// A key of its own, derived from JWT_SECRET: the cookie's token is never an access token.
	mac := hmac.New(sha256.New, cfg.JWTSecret)
	mac.Write([]byte("remotegpu temporal codec cookie"))
	h.signKey = mac.Sum(nil)
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

type codecClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

func (h *temporalCodecHandler) createSession(ctx context.Context, _ *struct{}) (*CreateTemporalCodecSessionOutput, error) {
	p := principal(ctx)
	now := h.s.now()
	exp := now.Add(temporalCodecTTL)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, codecClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: temporalCodecIssuer, Subject: p.UserID,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)},
		SessionID: p.SessionID,
	}).SignedString(h.signKey)
	if err != nil {
		return nil, err
	}
	if err := h.s.audit(ctx, nil, auditEntry{Action: "temporal_codec.session", TargetType: "user", TargetID: p.UserID,
		Success: true, Detail: map[string]any{"expiresAt": exp}}); err != nil {
		return nil, err
	}
	cookie := http.Cookie{Name: temporalCodecCookie, Value: token, Path: temporalCodecPath, Expires: exp,
		MaxAge: int(temporalCodecTTL / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode}
	if h.secure {
		// The UI may live on another site (temporal.example.net): only None lets the cookie go there.
		cookie.SameSite = http.SameSiteNoneMode
	}
	endpoint := temporalCodecPath
	if pub := strings.TrimRight(h.s.Config.PublicURL, "/"); pub != "" {
		endpoint = pub + temporalCodecPath
	}
	resp, _ := ok(ctx, TemporalCodecSession{TemporalUIURL: h.uiURL, CodecEndpoint: endpoint, ExpiresAt: exp})
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
		status, msg := http.StatusInternalServerError, "internal error"
		if e, ok := apperr.As(err); ok {
			status, msg = http.StatusUnauthorized, e.Message
		}
		writeJSONError(w, r, status, msg)
		return
	}
	if !p.IsAdmin() {
		writeJSONError(w, r, http.StatusForbidden, errForbiddenRole.Error())
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
	if a := r.Header.Get("Authorization"); a != "" {
		return h.s.authenticate(r.Context(), a)
	}
	ck, err := r.Cookie(temporalCodecCookie)
	if err != nil {
		return nil, unauthorized("请先在控制台登录 / log in to the console as an admin and open the Temporal UI from it")
	}
	var c codecClaims
	_, err = jwt.ParseWithClaims(ck.Value, &c, func(*jwt.Token) (any, error) { return h.signKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(temporalCodecIssuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(h.s.now))
	if err != nil {
		return nil, unauthorized("已过期 / expired: open the Temporal UI from the console again")
	}
	sp, err := h.s.Store.LoadPrincipal(r.Context(), c.SessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sp.UserID != c.Subject) {
		return nil, unauthorized("会话已结束 / session ended, please log in again")
	}
	if err != nil {
		return nil, err
	}
	if sp.UserStatus != "active" || sp.TenantStatus == "disabled" {
		return nil, unauthorized("账号已禁用 / account disabled")
	}
	return &Principal{UserID: sp.UserID, SessionID: sp.SessionID, Username: sp.Username, Name: sp.Name,
		Role: sp.Role, TenantID: sp.TenantID}, nil
}

// urlOrigin is scheme://host[:port] of a URL, empty when it has none.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
