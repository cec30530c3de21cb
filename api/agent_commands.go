package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
)

// The agent's side of the host channel (internal/hostchan): long-poll its
// own machine's commands, fetch a command's secret once, heartbeat, report
// the result. The machine is always the token's.

type AgentPollInput struct {
	Body agentproto.PollRequest
}

type AgentCommandIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type AgentHeartbeatInput struct {
	ID   string `path:"id" format:"uuid"`
	Body agentproto.HeartbeatRequest
}

type AgentResultInput struct {
	ID   string `path:"id" format:"uuid"`
	Body agentproto.ResultRequest
}

const maxAgentResultBytes = 256 << 10

func (h *agentHandler) registerCommands(agentOp func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation) {
	api := h.s.api
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathCommandsPoll, "poll-agent-commands",
		"Long-poll the machine's host commands that the agent is not running yet (a command it lost is delivered again)",
		64<<10, http.StatusBadRequest, http.StatusServiceUnavailable), h.poll)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathCommandSecret, "get-agent-command-secret",
		"The secret of one open command, handed out once (audited); any other request is refused and audited",
		0, http.StatusForbidden, http.StatusNotFound), h.secret)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathCommandHeartbeat, "heartbeat-agent-command",
		"Progress on a command; the answer says when to stop (cancelled by its workflow, or no longer awaited)",
		64<<10, http.StatusNotFound, http.StatusServiceUnavailable), h.heartbeat)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathCommandResult, "report-agent-command-result",
		"What the host did: recorded, then handed to the workflow; a second report of a completed command is refused",
		maxAgentResultBytes, http.StatusNotFound, http.StatusConflict, http.StatusBadRequest, http.StatusServiceUnavailable), h.result)
}

func (h *agentHandler) poll(ctx context.Context, in *AgentPollInput) (*Resp[agentproto.PollResponse], error) {
	cmds, err := h.s.hosts.Poll(ctx, agentCaller(ctx), in.Body.Running, time.Duration(in.Body.WaitSeconds)*time.Second)
	if err != nil && ctx.Err() != nil {
		// The agent hung up (it restarts, or a proxy cut the long poll):
		// nothing was delivered, and no one reads this answer.
		return ok(ctx, agentproto.PollResponse{Commands: []agentproto.Command{}})
	}
	if err != nil {
		return nil, err
	}
	return ok(ctx, agentproto.PollResponse{Commands: cmds})
}

func (h *agentHandler) secret(ctx context.Context, in *AgentCommandIDInput) (*Resp[agentproto.SecretResponse], error) {
	secret, err := h.s.hosts.Secret(ctx, agentCaller(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, agentproto.SecretResponse{Secret: secret})
}

func (h *agentHandler) heartbeat(ctx context.Context, in *AgentHeartbeatInput) (*Resp[agentproto.HeartbeatResponse], error) {
	if len(in.Body.Progress) > 0 && !json.Valid(in.Body.Progress) {
		return nil, apperr.New(apperr.Invalid, "monitoring.progressNotJSON", "progress: not JSON").AtField("body.progress")
	}
	cancel, err := h.s.hosts.Heartbeat(ctx, agentCaller(ctx), in.ID, in.Body.Progress)
	if err != nil {
		return nil, err
	}
	return ok(ctx, agentproto.HeartbeatResponse{Cancel: cancel})
}

func (h *agentHandler) result(ctx context.Context, in *AgentResultInput) (*Resp[Empty], error) {
	if in.Body.Status == agentproto.ResultFailed && in.Body.Error == nil {
		return nil, apperr.New(apperr.Invalid, "monitoring.failedWithoutError", "error: a failed command says why").AtField("body.error")
	}
	if err := h.s.hosts.Finish(ctx, agentCaller(ctx), in.ID, in.Body); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
