package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/tasks"
)

// adminTasksHandler is the admin's task management (requirements 2.1.8):
// every customer's tasks, their logs, and stopping one (audited; the
// customer is told why).
type adminTasksHandler struct{ s *Server }

type ListAdminTasksInput struct {
	ListTasksInput
	TenantID string `query:"tenantId" doc:"One customer's"`
	AdminTab string `query:"view" enum:"all,running,finished,failed," doc:"The page's tabs: running (queued and running), finished (succeeded), failed (failed and stopped)"`
}

var adminTabs = map[string]string{"running": "queued,running", "finished": "succeeded", "failed": "failed,stopped"}

type AdminStopTaskInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500" doc:"Told to the customer"`
	}
}

func (h *adminTasksHandler) register(api huma.API) {
	const tag = "admin-tasks"
	nf := http.StatusNotFound
	huma.Register(api, operation(http.MethodGet, "/api/admin/tasks", "list-tasks", tag,
		"Every customer's tasks; filters tenantId, machineId, type, status (comma list), from/to (created), view (the tabs); "+
			"sortBy as list-my-tasks", roleAdmin, http.StatusBadRequest), h.list)
	huma.Register(api, operation(http.MethodGet, "/api/admin/tasks/{id}", "get-task", tag, "A task with its spec and attempts", roleAdmin, nf), h.get)
	(&tasksHandler{h.s}).registerLogs(api, operation(http.MethodGet, "/api/admin/tasks/{id}/logs", "get-task-logs", tag,
		"A page of an attempt's log, or with format=text the whole log as text/plain", roleAdmin, nf, http.StatusBadRequest), h.logs)
	op := operation(http.MethodPost, "/api/admin/tasks/{id}/stop", "stop-task", tag,
		"Stop a customer's task (202, audited); the customer is notified with the reason", roleAdmin, nf, http.StatusConflict,
		http.StatusServiceUnavailable, http.StatusBadRequest)
	op.DefaultStatus = http.StatusAccepted
	huma.Register(api, op, h.stop)
}

func (h *adminTasksHandler) list(ctx context.Context, in *ListAdminTasksInput) (*Resp[Page[Task]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	li, err := in.listInput(pick(in.TenantID, f, "tenantId"))
	if err != nil {
		return nil, err
	}
	if st, ok := adminTabs[pick(in.AdminTab, f, "view")]; ok && li.Statuses == "" {
		li.Statuses = st
	}
	list, total, err := h.s.tasks.AdminList(ctx, li)
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *adminTasksHandler) get(ctx context.Context, in *TaskIDInput) (*Resp[TaskDetails], error) {
	d, err := h.s.tasks.AdminDetails(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *d)
}

func (h *adminTasksHandler) logs(ctx context.Context, in *TaskLogsInput) (*huma.StreamResponse, error) {
	if in.Format == "text" {
		return download(h.s.tasks.AdminDownloadLog(ctx, in.ID, in.Attempt))
	}
	return logPage(ctx)(h.s.tasks.AdminLogs(ctx, tasks.LogsInput{TaskID: in.ID, Attempt: in.Attempt, Search: in.Q, AfterN: in.AfterN, Limit: in.Limit}))
}

func (h *adminTasksHandler) stop(ctx context.Context, in *AdminStopTaskInput) (*Resp[Task], error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	return task(ctx)(h.s.tasks.AdminStop(ctx, in.ID, reason))
}
