package api

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/live"
)

// WebSocket paths (not Huma operations: they are plain chi routes). The
// sockets are internal/live's; these handlers only route to it.
const (
	wsAdminMonitoring    = "/ws/admin/monitoring"
	wsCustomerMonitoring = "/ws/customer/monitoring/{machineId}"
	wsCustomerTaskLogs   = "/ws/customer/tasks/{id}/logs"
)

// Close codes and frames of the sockets (internal/live).
const (
	CloseSessionEnded    = live.CloseSessionEnded
	CloseAllocationEnded = live.CloseAllocationEnded
	CloseSlowConsumer    = live.CloseSlowConsumer
	FrameSnapshot        = live.FrameSnapshot
	FrameRealtime        = live.FrameRealtime
)

type (
	AdminFrame    = live.AdminFrame
	CustomerFrame = live.CustomerFrame
)

// wsTuningOverride replaces the socket limits for servers built after it is set (tests).
var wsTuningOverride atomic.Pointer[live.Tuning]

func wsTuning() live.Tuning {
	if t := wsTuningOverride.Load(); t != nil {
		return *t
	}
	return live.DefaultTuning
}

// wsHandler routes the monitoring sockets to the live service, with the
// api's authentication of a handshake (a one-time ticket or a token).
type wsHandler struct {
	s    *Server
	live *live.Service
}

func (h *wsHandler) register(r chi.Router) {
	r.Get(wsAdminMonitoring, h.admin)
	r.Get(wsCustomerMonitoring, h.customer)
	r.Get(wsCustomerTaskLogs, h.taskLogs)
}

func (h *wsHandler) admin(w http.ResponseWriter, r *http.Request) {
	h.live.ServeAdmin(w, r, live.AdminInput{Authenticate: h.s.wsPrincipal, Roles: roleAdmin})
}

func (h *wsHandler) customer(w http.ResponseWriter, r *http.Request) {
	machine := chi.URLParam(r, "machineId")
	if err := validUUIDs(map[string]string{"machineId": machine}); err != nil {
		writeError(w, r, err)
		return
	}
	h.live.ServeCustomer(w, r, live.CustomerInput{Authenticate: h.s.wsPrincipal, Roles: roleCustomer, MachineID: machine})
}

// taskLogs is a task's live log: ?attempt= (default the latest) and
// ?afterN= (the last line the client has).
func (h *wsHandler) taskLogs(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := validUUIDs(map[string]string{"id": id}); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	attempt, err1 := atoiParam(q.Get("attempt"))
	after, err2 := atoiParam(q.Get("afterN"))
	if err1 != nil || err2 != nil || attempt < 0 || after < 0 {
		writeError(w, r, apperr.New(apperr.Invalid, apperr.CodeValidation, "attempt and afterN must be whole numbers"))
		return
	}
	h.live.ServeTaskLogs(w, r, live.TaskLogsInput{Authenticate: h.s.wsPrincipal, Roles: roleCustomer, TaskID: id, Attempt: int(attempt), AfterN: after})
}

func atoiParam(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}
