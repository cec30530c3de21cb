package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Output downloads: the customer asks for one file of a task's output
// directory; a TaskOutputFetch workflow has the machine's agent upload it
// (task_output_fetch, PUT agentproto.PathTaskOutputUpload), which the api
// streams into the object store; the customer's request then streams the
// object back through the api (the object store's own address need not be
// reachable from the browser).

// OutputObjectKey is where a task's output file is kept in
// objstore.BucketTaskOutputs: by tenant, task and the SHA-256 of its path.
func OutputObjectKey(tenantID, taskID, filePath string) string {
	sum := sha256.Sum256([]byte(filePath))
	return objstore.TaskOutputsPrefix(tenantID, taskID) + hex.EncodeToString(sum[:])
}

// OutputDownload is an output file to send: Body has Size bytes; the caller closes it.
type OutputDownload struct {
	Filename string
	Size     int64
	Body     io.ReadCloser
}

// cleanOutputPath is a file path inside the output directory, or "".
func cleanOutputPath(p string) string {
	p = strings.TrimSpace(p)
	if p == "" || len(p) > maxPathLen || path.IsAbs(p) || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return ""
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return ""
		}
	}
	if p = path.Clean(p); p == "." {
		return ""
	}
	return p
}

// OutputDownload has the task's machine upload one of its output files and
// opens it: 400 tasks.outputPathInvalid / tasks.outputNotAFile, 404
// tasks.outputNotFound, 413 tasks.outputTooLarge, 503 tasks.hostUnreachable
// when the agent does not upload it within workflows.TaskOutputFetchWait.
func (s *Service) OutputDownload(ctx context.Context, taskID, filePath string) (*OutputDownload, error) {
	t, err := s.get(ctx, customer(ctx), taskID)
	if err != nil {
		return nil, err
	}
	p := cleanOutputPath(filePath)
	if p == "" {
		return nil, apperr.New(apperr.Invalid, "tasks.outputPathInvalid", "path must be a file inside the output directory").AtField("query.path")
	}
	if s.Objects == nil {
		return nil, apperr.UnavailableErr("tasks.downloadUnavailable", "downloads are unavailable: no object store is configured")
	}
	if _, err := s.leasedMachine(ctx, t.MachineID); err != nil {
		return nil, apperr.ConflictErr("tasks.machineNotLeased", "machine {machine} is no longer leased to your company", apperr.P{"machine": t.MachineName})
	}
	if s.Temporal == nil {
		return nil, errWorkflowDown()
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "task-output-fetch:" + t.ID + ":" + uuid.NewString(), TaskQueue: s.TaskQueue,
		WorkflowExecutionTimeout: workflows.TaskOutputFetchWait * 2}, workflows.TaskOutputFetch,
		workflows.TaskOutputFetchInput{TaskID: t.ID, MachineID: t.MachineID, Path: p})
	if err != nil {
		slog.ErrorContext(ctx, "unable to fetch the task's output", "task", t.ID, "err", err)
		return nil, errWorkflowDown()
	}
	wctx, cancel := context.WithTimeout(ctx, workflows.TaskOutputFetchWait+2*time.Second)
	defer cancel()
	var res agentproto.TaskOutputFetchResult
	if err := run.Get(wctx, &res); err != nil {
		return nil, fetchError(ctx, t, p, err)
	}
	body, size, _, err := s.Objects.Get(ctx, objstore.BucketTaskOutputs, OutputObjectKey(t.TenantID, t.ID, p))
	if err != nil {
		return nil, err
	}
	return &OutputDownload{Filename: path.Base(p), Size: size, Body: body}, nil
}

// hostErrorType is the type of the deepest application error in a
// workflow's failure: the host's, under the workflow's own wrapping.
func hostErrorType(err error) string {
	typ := ""
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ae, ok := e.(*temporal.ApplicationError); ok {
			typ = ae.Type()
		}
	}
	return typ
}

func fetchError(ctx context.Context, t *store.Task, p string, err error) error {
	switch hostErrorType(err) {
	case "NotFound":
		return apperr.NotFoundErr("tasks.outputNotFound", "{path} is not in the task's output directory", apperr.P{"path": p})
	case "IsDirectory":
		return apperr.New(apperr.Invalid, "tasks.outputNotAFile", "{path} is a directory, not a file", apperr.P{"path": p}).AtField("query.path")
	case "InvalidPath":
		return apperr.New(apperr.Invalid, "tasks.outputPathInvalid", "path must be a file inside the output directory").AtField("query.path")
	case "TooLarge":
		return apperr.New(apperr.TooLarge, "tasks.outputTooLarge", "{path} is larger than {gb} GiB, the most a download may have",
			apperr.P{"path": p, "gb": agentproto.MaxTaskOutputFetchBytes >> 30})
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		slog.WarnContext(ctx, "the host did not upload the task's output", "task", t.ID, "err", err)
	}
	return apperr.UnavailableErr("tasks.hostUnreachable", "the host of {machine} did not answer; try again later", apperr.P{"machine": t.MachineName})
}

// AgentOutputUploadInput is an agent's upload of an output file for its
// task_output_fetch command.
type AgentOutputUploadInput struct {
	MachineID string // the calling agent's
	TaskID    string
	CommandID string
	Body      io.Reader
	Size      int64 // Content-Length; -1 when not given
}

// AgentOutputUpload streams an output file into the object store: only for
// an open task_output_fetch command of the caller's machine for that task,
// once (404 tasks.outputUploadRefused otherwise).
func (s *Service) AgentOutputUpload(ctx context.Context, in AgentOutputUploadInput) (agentproto.TaskOutputFetchResult, error) {
	var res agentproto.TaskOutputFetchResult
	refused := apperr.NotFoundErr("tasks.outputUploadRefused", "no open output fetch of this task on this machine waits for an upload")
	cmd, err := s.Store.GetHostCommand(ctx, in.MachineID, in.CommandID, false)
	if errors.Is(err, store.ErrNotFound) {
		return res, refused
	}
	if err != nil {
		return res, err
	}
	var args agentproto.TaskOutputFetchArgs
	if cmd.Kind != agentproto.KindTaskOutputFetch || json.Unmarshal(cmd.Args, &args) != nil || args.TaskID != in.TaskID {
		return res, refused
	}
	p := cleanOutputPath(args.Path)
	if in.Size < 0 {
		return res, apperr.InvalidErr("tasks.outputUploadLength", "the upload needs a Content-Length")
	}
	if in.Size > agentproto.MaxTaskOutputFetchBytes {
		return res, apperr.New(apperr.TooLarge, "tasks.outputTooLarge", "{path} is larger than {gb} GiB, the most a download may have",
			apperr.P{"path": p, "gb": agentproto.MaxTaskOutputFetchBytes >> 30})
	}
	t, err := s.Store.GetTask(ctx, everyone, in.TaskID, false)
	if errors.Is(err, store.ErrNotFound) || p == "" {
		return res, refused
	}
	if err != nil {
		return res, err
	}
	if s.Objects == nil {
		return res, apperr.UnavailableErr("tasks.downloadUnavailable", "downloads are unavailable: no object store is configured")
	}
	if _, err := s.Store.ClaimHostCommandUpload(ctx, in.MachineID, in.CommandID, agentproto.KindTaskOutputFetch); errors.Is(err, store.ErrNotFound) {
		return res, refused // uploaded before, or ended meanwhile
	} else if err != nil {
		return res, err
	}
	etag, err := s.Objects.PutStream(ctx, objstore.BucketTaskOutputs, OutputObjectKey(t.TenantID, t.ID, p), in.Body, in.Size, "application/octet-stream")
	if err != nil {
		return res, err
	}
	return agentproto.TaskOutputFetchResult{Size: in.Size, ETag: etag}, nil
}
