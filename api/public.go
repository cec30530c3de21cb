package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/store"
)

// publicHandler answers without login: the login page needs them even when the directory is down.
type publicHandler struct{ s *Server }

type LDAPStatus struct {
	Enabled   bool `json:"enabled"`
	Available bool `json:"available"`
}

type PublicStatus struct {
	LDAP        LDAPStatus `json:"ldap"`
	Maintenance bool       `json:"maintenance" doc:"Login is degraded (the directory is unreachable)"`
	Message     string     `json:"message"`
}

type PublicAnnouncementsInput struct {
	ListParams
}

func (h *publicHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/public/status", "get-public-status", "public",
		"Whether login works (directory reachable), for the login page", nil), h.status)
	huma.Register(api, operation(http.MethodGet, "/api/public/announcements", "list-public-announcements", "public",
		"Published announcements (read-only, also during maintenance)", nil, http.StatusBadRequest), h.announcements)
}

// ldapProbe caches the directory's reachability so the login page cannot
// turn into a stream of binds against a directory that is down.
type ldapProbe struct {
	mu      sync.Mutex
	at      time.Time
	healthy bool
}

func (h *publicHandler) status(ctx context.Context, _ *struct{}) (*Resp[PublicStatus], error) {
	out := PublicStatus{LDAP: LDAPStatus{Enabled: h.s.LDAP.Enabled(), Available: true}}
	if out.LDAP.Enabled {
		probe := &h.s.ldapProbe
		probe.mu.Lock()
		if time.Since(probe.at) > 10*time.Second {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			probe.healthy = h.s.LDAP.Ping(pctx) == nil
			cancel()
			probe.at = time.Now()
		}
		out.LDAP.Available = probe.healthy
		probe.mu.Unlock()
	}
	if !out.LDAP.Available {
		out.Maintenance, out.Message = true, maintenanceMessage
	}
	return ok(ctx, out)
}

func (h *publicHandler) announcements(ctx context.Context, in *PublicAnnouncementsInput) (*Resp[Page[store.Announcement]], error) {
	list, total, err := h.s.Store.ListAnnouncements(ctx, true, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
