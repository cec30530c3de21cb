package api

import (
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/remotegpu/remotegpu/internal/live"
)

// WebSocket paths (not Huma operations: they are plain chi routes). The
// sockets are internal/live's; these handlers only route to it.
const (
	wsAdminMonitoring    = "/ws/admin/monitoring"
	wsCustomerMonitoring = "/ws/customer/monitoring/{machineId}"
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
