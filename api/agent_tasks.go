package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/tasks"
)

// The agent's side of the tasks: it ships each attempt's log and reports the
// host's images. The machine is the token's; a log batch is taken only for
// an attempt that runs on it.

type AgentTaskLogsInput struct {
	ID   string `path:"id" format:"uuid"`
	Body agentproto.TaskLogBatch
}

type AgentImagesInput struct {
	Body agentproto.ImagesReport
}

func (h *agentHandler) registerTasks(agentOp func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation) {
	api := h.s.api
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathTaskLogs, "report-agent-task-logs",
		"A batch of an attempt's log lines from offset (0-based); stored once however often it is sent; answers the offset expected next "+
			"(a batch after a gap stores nothing). Only for an attempt that runs on the caller's machine",
		agentproto.MaxTaskLogBodyBytes, http.StatusNotFound, http.StatusBadRequest), h.taskLogs)
	huma.Register(api, agentOp(http.MethodPost, agentproto.PathImages, "report-agent-images",
		"The images present on the host (replaces the last report)", 4<<20, http.StatusBadRequest), h.images)
}

func (h *agentHandler) taskLogs(ctx context.Context, in *AgentTaskLogsInput) (*Resp[agentproto.TaskLogAck], error) {
	ack, err := h.s.tasks.AgentLogs(ctx, tasks.AgentLogsInput{MachineID: agentMachine(ctx), TaskID: in.ID, Batch: in.Body})
	if err != nil {
		return nil, err
	}
	return ok(ctx, ack)
}

func (h *agentHandler) images(ctx context.Context, in *AgentImagesInput) (*Resp[Empty], error) {
	if err := h.s.tasks.AgentImages(ctx, agentMachine(ctx), in.Body); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
