package tasks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
)

// MaxLogPage bounds a page of log lines.
const MaxLogPage = 5000

// LogsInput asks for a page of an attempt's log.
type LogsInput struct {
	TaskID  string
	Attempt int // 0: the current (latest) attempt
	Search  string
	AfterN  int64
	Limit   int
}

// LogPage is a page of lines of one attempt.
type LogPage struct {
	Attempt  int                 `json:"attempt"`
	Attempts int                 `json:"attempts" doc:"The task's latest attempt: the others are 1..attempts"`
	Lines    []store.TaskLogLine `json:"lines"`
	Total    int64               `json:"total" doc:"Lines of the attempt stored so far"`
}

// Logs is a page of the caller's task's log.
func (s *Service) Logs(ctx context.Context, in LogsInput) (*LogPage, error) {
	return s.logs(ctx, customer(ctx), in)
}

// AdminLogs is a page of any task's log.
func (s *Service) AdminLogs(ctx context.Context, in LogsInput) (*LogPage, error) {
	return s.logs(ctx, everyone, in)
}

func (s *Service) logs(ctx context.Context, scope store.TaskScope, in LogsInput) (*LogPage, error) {
	t, attempt, err := s.attempt(ctx, scope, in.TaskID, in.Attempt)
	if err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit <= 0 || limit > MaxLogPage {
		limit = MaxLogPage
	}
	lines, err := s.Store.TaskLogs(ctx, store.TaskLogQuery{TaskID: t.ID, Attempt: attempt.Attempt, AfterN: in.AfterN, Limit: limit,
		Search: strings.TrimSpace(in.Search)})
	if err != nil {
		return nil, err
	}
	return &LogPage{Attempt: attempt.Attempt, Attempts: t.Attempt, Lines: lines, Total: attempt.LogLines}, nil
}

// attempt finds the task and one of its attempts (0: the latest).
func (s *Service) attempt(ctx context.Context, scope store.TaskScope, id string, n int) (*store.Task, *store.TaskAttempt, error) {
	t, err := s.get(ctx, scope, id)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		n = t.Attempt
	}
	attempts, err := s.Store.TaskAttempts(ctx, t.ID)
	if err != nil {
		return nil, nil, err
	}
	for i := range attempts {
		if attempts[i].Attempt == n {
			return t, &attempts[i], nil
		}
	}
	return nil, nil, apperr.New(apperr.NotFound, "tasks.attemptNotFound", "the task has no attempt {attempt}", apperr.P{"attempt": n}).AtField("query.attempt")
}

// LogDownload is an attempt's whole log, written when the answer streams.
type LogDownload struct {
	Filename string
	Write    func(ctx context.Context, w io.Writer) error
}

// DownloadLog is the caller's task's whole log of one attempt as text.
func (s *Service) DownloadLog(ctx context.Context, id string, attempt int) (*LogDownload, error) {
	return s.download(ctx, customer(ctx), id, attempt)
}

// AdminDownloadLog is any task's whole log of one attempt as text.
func (s *Service) AdminDownloadLog(ctx context.Context, id string, attempt int) (*LogDownload, error) {
	return s.download(ctx, everyone, id, attempt)
}

func (s *Service) download(ctx context.Context, scope store.TaskScope, id string, n int) (*LogDownload, error) {
	t, a, err := s.attempt(ctx, scope, id, n)
	if err != nil {
		return nil, err
	}
	return &LogDownload{Filename: fmt.Sprintf("task-%s-attempt-%d.log", t.ID, a.Attempt), Write: func(ctx context.Context, w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		err := s.Store.EachTaskLogLine(ctx, t.ID, a.Attempt, func(l store.TaskLogLine) error {
			_, err := fmt.Fprintf(bw, "%s %s %s\n", l.T.UTC().Format(time.RFC3339Nano), l.S, l.X)
			return err
		})
		if err != nil {
			return err
		}
		return bw.Flush()
	}}, nil
}

// AgentLogsInput is a batch of log lines an agent sends for a task.
type AgentLogsInput struct {
	MachineID string // the calling agent's, from its token
	TaskID    string
	Batch     agentproto.TaskLogBatch
}

// AgentLogs stores a batch of an attempt's lines (only for an attempt that
// runs on the caller's machine) and answers the offset expected next.
func (s *Service) AgentLogs(ctx context.Context, in AgentLogsInput) (agentproto.TaskLogAck, error) {
	lines := make([]store.NewTaskLogLine, len(in.Batch.Lines))
	for i, l := range in.Batch.Lines {
		lines[i] = store.NewTaskLogLine{Time: l.Time, Stream: l.Stream, Text: l.Text}
	}
	next, err := s.Store.AppendTaskLogs(ctx, in.TaskID, in.Batch.Attempt, in.MachineID, in.Batch.Offset, lines)
	if errors.Is(err, store.ErrNotFound) {
		slog.WarnContext(ctx, "task logs refused: the attempt does not run on the agent's machine", "machine", in.MachineID, "task", in.TaskID,
			"attempt", in.Batch.Attempt)
		return agentproto.TaskLogAck{}, apperr.NotFoundErr("tasks.notOnMachine", "no such attempt of a task on this machine")
	}
	return agentproto.TaskLogAck{Next: next}, err
}

// AgentImages records the images present on the caller's machine.
func (s *Service) AgentImages(ctx context.Context, machineID string, report agentproto.ImagesReport) error {
	seen := map[string]bool{}
	images := make([]store.MachineImage, 0, len(report.Images))
	for _, im := range report.Images {
		ref := strings.TrimSpace(im.Ref)
		if ref == "" || strings.Contains(ref, "<none>") || seen[ref] {
			continue
		}
		seen[ref] = true
		hi := store.MachineImage{Ref: ref, ID: im.ID, Size: im.Size}
		if !im.Created.IsZero() {
			c := im.Created.UTC()
			hi.Created = &c
		}
		images = append(images, hi)
	}
	return s.Store.ReplaceHostImages(ctx, machineID, images)
}

// Follow is what a live log socket needs of its task: whether the caller
// may follow it, its status and current attempt.
func (s *Service) Follow(ctx context.Context, id string) (status string, attempt int, err error) {
	t, err := s.get(ctx, customer(ctx), id)
	if err != nil {
		return "", 0, err
	}
	return t.Status, t.Attempt, nil
}

// FollowLines are the lines after afterN of an attempt, for a live socket
// that already checked its access with Follow.
func (s *Service) FollowLines(ctx context.Context, id string, attempt int, afterN int64, limit int) ([]store.TaskLogLine, error) {
	return s.Store.TaskLogs(ctx, store.TaskLogQuery{TaskID: id, Attempt: attempt, AfterN: afterN, Limit: limit})
}
