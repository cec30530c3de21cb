package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

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
	h.registerTaskOutputs(agentOp)
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

// AgentTaskOutputUploadInput is a streamed output file: its body is not
// read by Huma but handed on as it comes (Resolve keeps the reader).
type AgentTaskOutputUploadInput struct {
	ID        string `path:"id" format:"uuid"`
	CommandID string `path:"commandId" maxLength:"100"`
	body      io.Reader
	size      int64
}

func (in *AgentTaskOutputUploadInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	in.size = -1
	if cl := ctx.Header("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			in.size = n
		}
	}
	return nil
}

func (h *agentHandler) registerTaskOutputs(agentOp func(method, path, id, summary string, maxBody int64, errs ...int) huma.Operation) {
	op := agentOp(http.MethodPut, agentproto.PathTaskOutputUpload, "upload-agent-task-output",
		"The raw bytes of one output file (Content-Length required, at most 2 GiB) for the caller's open task_output_fetch command; "+
			"streamed into the object store; once per command", agentproto.MaxTaskOutputFetchBytes,
		http.StatusNotFound, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable)
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}
	huma.Register(h.s.api, op, h.taskOutputUpload)
}

func (h *agentHandler) taskOutputUpload(ctx context.Context, in *AgentTaskOutputUploadInput) (*Resp[agentproto.TaskOutputFetchResult], error) {
	res, err := h.s.tasks.AgentOutputUpload(ctx, tasks.AgentOutputUploadInput{MachineID: agentMachine(ctx), TaskID: in.ID, CommandID: in.CommandID,
		Body: in.body, Size: in.size})
	if err != nil {
		return nil, err
	}
	return ok(ctx, res)
}
