package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// session is a user signed in through the api, as the console is: a
// bearer access token, renewed with the refresh token when it expires
// (once for all the requests that found it expired: the api counts every
// sign-in against the account, and parallel ones lock it).
type session struct {
	base, user, pass string
	hc               *http.Client

	renew   sync.Mutex // held while the tokens are renewed
	mu      sync.Mutex
	token   string
	refresh string
}

// apiError is an answer other than 2xx.
type apiError struct {
	Status  int
	Method  string
	Path    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func signIn(ctx context.Context, base, user, pass string) (*session, error) {
	s := &session{base: strings.TrimRight(base, "/"), user: user, pass: pass, hc: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 200, IdleConnTimeout: time.Minute},
	}}
	if err := s.login(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

func (s *session) login(ctx context.Context) error {
	var out tokenPair
	if err := s.send(ctx, "", http.MethodPost, "/api/auth/login", map[string]string{"username": s.user, "password": s.pass}, &out); err != nil {
		return fmt.Errorf("sign in as %s: %w", s.user, err)
	}
	s.set(out)
	return nil
}

func (s *session) set(t tokenPair) {
	s.mu.Lock()
	s.token, s.refresh = t.AccessToken, t.RefreshToken
	s.mu.Unlock()
}

func (s *session) tokens() (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.refresh
}

// renewFrom renews the tokens unless another request did since expired
// was found expired: with the refresh token, else by signing in again.
func (s *session) renewFrom(ctx context.Context, expired string) error {
	s.renew.Lock()
	defer s.renew.Unlock()
	access, refresh := s.tokens()
	if access != expired {
		return nil
	}
	var out tokenPair
	if err := s.send(ctx, "", http.MethodPost, "/api/auth/refresh", map[string]string{"refreshToken": refresh}, &out); err == nil {
		s.set(out)
		return nil
	}
	return s.login(ctx)
}

// do calls the api and decodes the envelope's data into out (when not nil);
// an expired access token is renewed once.
func (s *session) do(ctx context.Context, method, path string, body, out any) error {
	token, _ := s.tokens()
	err := s.send(ctx, token, method, path, body, out)
	if statusOf(err) == http.StatusUnauthorized {
		if err := s.renewFrom(ctx, token); err != nil {
			return err
		}
		token, _ = s.tokens()
		err = s.send(ctx, token, method, path, body, out)
	}
	return err
}

func (s *session) send(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	_ = json.Unmarshal(raw, &env)
	if resp.StatusCode >= 300 {
		msg := env.Message
		if len(env.Data) > 0 && string(env.Data) != "null" {
			msg += " " + string(env.Data)
		}
		return &apiError{Status: resp.StatusCode, Method: method, Path: path, Message: msg}
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// wsURL is the socket's address with a one-time ticket, as the console
// opens it (POST /api/auth/ws-ticket, then ?ticket=).
func (s *session) wsURL(ctx context.Context, path string) (string, error) {
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := s.do(ctx, http.MethodPost, "/api/auth/ws-ticket", nil, &t); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "ws" + strings.TrimPrefix(s.base, "http") + path + sep + "ticket=" + t.Ticket, nil
}

// ---- the api process's /metrics ----------------------------------------------

var metricLine = regexp.MustCompile(`^(process_resident_memory_bytes|go_memstats_heap_inuse_bytes|go_memstats_heap_alloc_bytes|go_goroutines|process_cpu_seconds_total) ([0-9.e+]+)$`)

type metrics map[string]float64

func scrape(o options) (metrics, error) {
	req, _ := http.NewRequest(http.MethodGet, o.metricsURL, nil)
	if o.metricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+o.metricsToken)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s answered %d (set -metrics to METRICS_ADDR's /metrics, or -metrics-token)", o.metricsURL, resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	out := metrics{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			out[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
	}
	return out, nil
}

// scrapeSettled takes the smallest of five readings a second apart: the
// heap between two collections is noise, what stays after one is the cost.
func scrapeSettled(o options) (metrics, error) {
	best, err := scrape(o)
	if err != nil {
		return nil, err
	}
	for range 4 {
		time.Sleep(time.Second)
		m, err := scrape(o)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			if v < best[k] {
				best[k] = v
			}
		}
	}
	return best, nil
}
