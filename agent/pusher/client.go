// Package pusher talks to the api: the HTTP client of the agent endpoints
// (register, inventory, samples, host commands, task logs, images), and
// the Pusher that keeps samples in a bounded buffer while the api is
// unreachable and sends the backlog, oldest first, when it is back.
package pusher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// ErrUnauthorized is a 401 to a call with the agent token: the token was
// revoked (a new bootstrap token was issued, or the machine was deleted).
var ErrUnauthorized = errors.New("the api rejected the agent token (revoked, or the machine was re-registered or deleted): issue a new bootstrap token in the console, put it in REMOTEGPU_AGENT_TOKEN and restart the agent")

// ErrBootstrapRejected is a 401 to register.
var ErrBootstrapRejected = errors.New("bootstrap token invalid or already used: issue a new one in the console")

// StatusError is an answer other than 2xx.
type StatusError struct {
	Op      string
	Status  int
	Message string // the envelope's message, when there is one
	// Stale: a 401 to a call that carried a token the client has since
	// replaced; trying again with the current one may work.
	Stale bool
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, msg)
}

// Retryable tells whether a failed call may succeed when tried again: the
// api was unreachable, timed out, was overloaded or failed on its side.
// A rejection of the request itself (400, 401, 403, 404, 422) is not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Status == http.StatusRequestTimeout || se.Stale
	}
	return !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrBootstrapRejected) && !errors.Is(err, context.Canceled)
}

// Client calls the agent endpoints of the api. Safe for concurrent use.
type Client struct {
	BaseURL   string        // https://gpu.example.com
	HTTP      *http.Client  // http.DefaultClient when nil
	Timeout   time.Duration // per request; 10 s when zero
	UserAgent string

	mu    sync.RWMutex
	token string
}

// SetToken sets the agent token every later call carries.
func (c *Client) SetToken(t string) {
	c.mu.Lock()
	c.token = t
	c.mu.Unlock()
}

func (c *Client) bearer() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// Register exchanges the bootstrap token for the agent token (and sets it).
func (c *Client) Register(ctx context.Context, req agentproto.RegisterRequest) (agentproto.RegisterResponse, error) {
	var resp agentproto.RegisterResponse
	err := c.do(ctx, "register", http.MethodPost, agentproto.PathRegister, false, req, &resp)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		return resp, ErrBootstrapRejected
	}
	if err != nil {
		return resp, err
	}
	if resp.AgentToken == "" {
		return resp, fmt.Errorf("register: the api answered without an agent token")
	}
	c.SetToken(resp.AgentToken)
	return resp, nil
}

// PostInventory reports the host's inventory.
func (c *Client) PostInventory(ctx context.Context, inv agentproto.Inventory) error {
	return c.do(ctx, "post inventory", http.MethodPost, agentproto.PathInventory, true, inv, nil)
}

// PostSamples sends one batch of samples.
func (c *Client) PostSamples(ctx context.Context, samples []agentproto.Sample) (int, error) {
	var resp agentproto.SamplesResponse
	err := c.do(ctx, "post samples", http.MethodPost, agentproto.PathSamples, true, agentproto.SamplesRequest{Samples: samples}, &resp)
	return resp.Accepted, err
}

func (c *Client) do(ctx context.Context, op, method, path string, auth bool, in, out any) error {
	return c.doWithin(ctx, c.timeout(), op, method, path, auth, in, out)
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

func (c *Client) doWithin(ctx context.Context, timeout time.Duration, op, method, path string, auth bool, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: unable to encode the request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	var token string
	if auth {
		token = c.bearer()
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.answer(op, auth, token, resp, out)
}

// answer reads the api's answer to a request sent with token (auth) into out.
func (c *Client) answer(op string, auth bool, token string, resp *http.Response, out any) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: unable to read the answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusUnauthorized && auth {
			if c.bearer() != token {
				// The token was switched (a key rotation) while this call
				// was on its way: the old one is refused, not the agent.
				return &StatusError{Op: op, Status: resp.StatusCode, Message: "sent with the agent token it has since replaced", Stale: true}
			}
			return ErrUnauthorized
		}
		return &StatusError{Op: op, Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(unwrap(raw), out); err != nil {
		return fmt.Errorf("%s: unable to decode the answer: %w", op, err)
	}
	return nil
}

// unwrap returns the data of the api's envelope ({code, message, data,
// traceId}), or the body itself when it is not one.
func unwrap(raw []byte) []byte {
	var env struct {
		Code *int            `json:"code"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Code != nil && len(env.Data) > 0 {
		return env.Data
	}
	return raw
}

func errorMessage(raw []byte) string {
	var env struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
	}
	if json.Unmarshal(raw, &env) == nil {
		if env.Message != "" {
			return env.Message
		}
		return env.Detail
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
