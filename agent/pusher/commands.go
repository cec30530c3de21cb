package pusher

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// The host command calls (agentproto/commands.go): long-poll, one-time
// secret, heartbeat, result. Every one carries the agent token.

// PollCommands long-polls the machine's commands that are not in running,
// waiting up to wait for one to come. The request may take wait plus the
// client's Timeout.
func (c *Client) PollCommands(ctx context.Context, running []string, wait time.Duration) ([]agentproto.Command, error) {
	if running == nil {
		running = []string{} // the api wants a list, not null
	}
	secs := int((wait + time.Second - 1) / time.Second)
	var resp agentproto.PollResponse
	err := c.doWithin(ctx, time.Duration(secs)*time.Second+c.timeout(), "poll commands", http.MethodPost, agentproto.PathCommandsPoll, true,
		agentproto.PollRequest{Running: running, WaitSeconds: secs}, &resp)
	return resp.Commands, err
}

// CommandSecret fetches the secret of a command; the api hands it out once.
func (c *Client) CommandSecret(ctx context.Context, id string) (string, error) {
	var resp agentproto.SecretResponse
	err := c.do(ctx, "fetch command secret", http.MethodPost, commandPath(agentproto.PathCommandSecret, id), true, nil, &resp)
	return resp.Secret, err
}

// CommandHeartbeat reports progress (may be nil) on a command; cancel says
// the api wants the work stopped.
func (c *Client) CommandHeartbeat(ctx context.Context, id string, progress json.RawMessage) (cancel bool, err error) {
	var resp agentproto.HeartbeatResponse
	err = c.do(ctx, "heartbeat command", http.MethodPost, commandPath(agentproto.PathCommandHeartbeat, id), true,
		agentproto.HeartbeatRequest{Progress: progress}, &resp)
	return resp.Cancel, err
}

// CommandResult reports what became of a command.
func (c *Client) CommandResult(ctx context.Context, id string, r agentproto.ResultRequest) error {
	return c.do(ctx, "report command result", http.MethodPost, commandPath(agentproto.PathCommandResult, id), true, r, nil)
}

func commandPath(pattern, id string) string {
	return strings.Replace(pattern, "{id}", url.PathEscape(id), 1)
}
