package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Call is a command as its handler sees it.
type Call struct {
	agentproto.Command
	api        API
	newBackOff func() backoff.BackOff

	mu       sync.Mutex
	progress json.RawMessage
	fetched  bool
}

// ErrNoSecret: the command's secret cannot be had (it was handed out
// before, say to this agent before it restarted, or the command ended).
// A new attempt of the command brings a new one.
var ErrNoSecret = &hostops.Error{Type: "SecretUnavailable",
	Message: "the command's secret is no longer available (handed out before, or the command ended)"}

// Args decodes the command's arguments; a command that does not decode is
// a permanent failure.
func (c *Call) Args(v any) error {
	if err := json.Unmarshal(c.Command.Args, v); err != nil {
		return hostops.Permanentf("InvalidArgs", "the %s command's arguments do not decode: %v", c.Kind, err)
	}
	return nil
}

// Secret fetches the command's secret, once. Network failures and 5xx are
// retried until ctx ends; a refusal (403: fetched before) is ErrNoSecret.
// Never log what it returns.
func (c *Call) Secret(ctx context.Context) (string, error) {
	c.mu.Lock()
	if !c.HasSecret || c.fetched {
		c.mu.Unlock()
		return "", ErrNoSecret
	}
	c.fetched = true
	c.mu.Unlock()
	bo := c.newBackOff()
	for {
		secret, err := c.api.CommandSecret(ctx, c.ID)
		var se *pusher.StatusError
		switch {
		case err == nil:
			return secret, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		case errors.As(err, &se) && (se.Status == http.StatusForbidden || se.Status == http.StatusNotFound):
			return "", fmt.Errorf("%w: %v", ErrNoSecret, err)
		case !pusher.Retryable(err):
			return "", err
		}
		sleep(ctx, bo.NextBackOff())
	}
}

// Progress sets what the next heartbeats carry.
func (c *Call) Progress(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.progress = b
	c.mu.Unlock()
}

func (c *Call) progressJSON() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.progress
}

func unknownKind(kind string) error {
	return hostops.Permanentf("UnknownKind", "this agent does not know the command kind %q (an older agent?)", kind)
}

// outcome is the report of a command: cancelled when the api cancelled it
// before it ran or while it failed, else what the handler returned.
func outcome(t *task, ran bool, result any, err error) agentproto.ResultRequest {
	if errors.Is(context.Cause(t.ctx), errCancelled) && (!ran || err != nil) {
		return agentproto.ResultRequest{Status: agentproto.ResultCancelled}
	}
	if err != nil {
		return agentproto.ResultRequest{Status: agentproto.ResultFailed, Error: commandError(err)}
	}
	raw, jerr := json.Marshal(result)
	if jerr != nil {
		return agentproto.ResultRequest{Status: agentproto.ResultFailed, Error: commandError(fmt.Errorf("unable to encode the result: %w", jerr))}
	}
	return agentproto.ResultRequest{Status: agentproto.ResultSucceeded, Result: raw}
}

// maxMessage is CommandError.Message's limit on the wire.
const maxMessage = 2000

func commandError(err error) *agentproto.CommandError {
	ce := &agentproto.CommandError{Message: err.Error()}
	var he *hostops.Error
	if errors.As(err, &he) {
		ce.Type, ce.Permanent = he.Type, he.Permanent
	}
	if len(ce.Message) > maxMessage {
		m := ce.Message[:maxMessage-3]
		for !utf8.ValidString(m) {
			m = m[:len(m)-1]
		}
		ce.Message = m + "..."
	}
	if ce.Message == "" {
		ce.Message = "failed"
	}
	return ce
}
