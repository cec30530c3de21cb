package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/internal/monitoring"
)

// agentHandler is the host agents' side of the api (/api/agent/...): not
// behind the user login but behind each machine's own agent token, and a
// machine's agent only ever reads or writes its own machine, which comes
// from the token and never from the body (internal/monitoring: tokens,
// registration, ingest; internal/hostchan: host commands).
type agentHandler struct {
	s   *Server
	mon *monitoring.Service
}

// OnIngest registers h to run after every accepted POST /api/agent/samples,
// once the request's rows are committed (see monitoring.Service.OnIngest).
func (s *Server) OnIngest(h func(ctx context.Context, machineID string, samples []agentproto.Sample)) {
	s.mon.OnIngest(h)
}

type agentMachineKey struct{}

// agentMachine is the machine of the calling agent (operations behind agentAuth).
func agentMachine(ctx context.Context) string {
	return agentKey(ctx).MachineID
}

func agentKey(ctx context.Context) monitoring.Agent {
	k, _ := ctx.Value(agentMachineKey{}).(monitoring.Agent)
	return k
}

// agentCaller is the calling agent as the host channel sees it.
func agentCaller(ctx context.Context) hostchan.Caller {
	k := agentKey(ctx)
	return hostchan.Caller{MachineID: k.MachineID, PendingKey: k.Pending, IP: caller.RequestOf(ctx).IP, TraceID: logging.TraceID(ctx)}
}

// agentAuth authenticates an agent by its token; the machine goes into the context.
func (h *agentHandler) agentAuth(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		token, found := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
		if !found {
			token = ""
		}
		k, err := h.mon.Authenticate(ctx.Context(), monitoring.AuthenticateInput{Token: token, Path: ctx.Operation().Path})
		if err != nil {
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "internal error", err)
			return
		}
		next(huma.WithValue(ctx, agentMachineKey{}, k))
	}
}

// Body limits of the agent operations.
const (
	maxAgentRegisterBytes = 256 << 10
	maxAgentSamplesBytes  = 8 << 20 // a backlog of 2,000 rounds of 8 GPUs with processes
)

type AgentRegisterInput struct {
	Body agentproto.RegisterRequest
}

type AgentInventoryInput struct {
	Body agentproto.Inventory
}

type AgentSamplesInput struct {
	Body agentproto.SamplesRequest
}

func (h *agentHandler) register(api huma.API) {
	const tag = "agent"
	oapi := api.OpenAPI()
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes["agentToken"] = &huma.SecurityScheme{Type: "http", Scheme: "bearer",
		Description: "A machine's agent token, from register-agent"}
	agentOp := func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation {
		op := operation(method, path, id, tag, summary, nil, errs...)
		op.Security = []map[string][]string{{"agentToken": {}}}
		op.Middlewares = huma.Middlewares{h.agentAuth(api)}
		op.Errors = append(op.Errors, http.StatusUnauthorized)
		op.MaxBodyBytes = maxBody
		return op
	}
	reg := operation(http.MethodPost, agentproto.PathRegister, "register-agent", tag,
		"Exchange a machine's one-use bootstrap token for the agent's own token; records the inventory", nil,
		http.StatusUnauthorized, http.StatusBadRequest)
	reg.MaxBodyBytes = maxAgentRegisterBytes
	huma.Register(api, reg, h.registerAgent)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathInventory, "report-agent-inventory",
		"The agent reports what its host has", maxAgentRegisterBytes, http.StatusBadRequest), h.inventory)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathSamples, "report-agent-samples",
		"The agent reports one or more sampling rounds; answers once they are stored. Rounds older than the raw retention are not stored "+
			"(not counted in accepted; resending them is useless); timestamps more than a minute ahead of the api's clock are set to it",
		maxAgentSamplesBytes, http.StatusBadRequest), h.samples)
	h.registerCommands(agentOp)
	h.registerTasks(agentOp)
	h.registerDatasets(agentOp)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/inventory", "get-machine-inventory", "machines",
		"What the machine's agent reported, and where it differs from what the admin entered", roleAdmin, http.StatusNotFound), h.machineInventory)
}

func (h *agentHandler) registerAgent(ctx context.Context, in *AgentRegisterInput) (*Resp[agentproto.RegisterResponse], error) {
	out, err := h.mon.RegisterAgent(ctx, monitoring.RegisterAgentInput{Request: in.Body})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}

func (h *agentHandler) inventory(ctx context.Context, in *AgentInventoryInput) (*Resp[Empty], error) {
	if err := h.mon.SetInventory(ctx, monitoring.InventoryInput{MachineID: agentMachine(ctx), Inventory: in.Body}); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}

func (h *agentHandler) samples(ctx context.Context, in *AgentSamplesInput) (*Resp[agentproto.SamplesResponse], error) {
	stored, err := h.mon.IngestSamples(ctx, monitoring.SamplesInput{MachineID: agentMachine(ctx), Samples: in.Body.Samples})
	if err != nil {
		return nil, err
	}
	return ok(ctx, agentproto.SamplesResponse{Accepted: stored})
}

// MachineInventory is the admin's view of what the agent reported (internal/monitoring).
type MachineInventory = monitoring.MachineInventory

func (h *agentHandler) machineInventory(ctx context.Context, in *MachineIDInput) (*Resp[MachineInventory], error) {
	out, err := h.mon.Inventory(ctx, monitoring.MachineInput{MachineID: in.ID})
	if err != nil {
		return nil, err
	}
	return ok(ctx, out)
}
