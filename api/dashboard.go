package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/store"
)

// dashboardHandler is the admin home's statistics cards (requirements
// 2.1.1); its GPU trend is get-admin-gpu-trend (monitoring.go) and its
// alert centre list-active-alerts (alerts.go).
type dashboardHandler struct{ s *Server }

func (h *dashboardHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/admin/dashboard/stats", "get-admin-dashboard-stats", "dashboard",
		"Statistics cards of the admin home", roleAdmin), h.stats)
}

func (h *dashboardHandler) stats(ctx context.Context, _ *struct{}) (*Resp[store.FleetStats], error) {
	st, err := h.s.Store.FleetStats(ctx, h.s.Config.Fleet.ExpiringNotice)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *st)
}
