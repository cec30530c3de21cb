package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/logging"
)

type health struct{ s *Server }

func (h *health) register(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", h.ready)
}

type check struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Pollers int    `json:"pollers,omitempty"`
}

// ready reports Postgres, Temporal and whether a worker polls the control-plane
// queue. It is ready when Postgres and Temporal answer; without a worker
// long-running operations only queue up, which the report says.
func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]check{}
	ready := true

	if h.s.Store == nil {
		checks["postgres"] = check{Error: "not configured"}
		ready = false
	} else if err := h.s.Store.Pool.Ping(ctx); err != nil {
		checks["postgres"] = check{Error: err.Error()}
		ready = false
	} else {
		checks["postgres"] = check{OK: true}
	}

	if h.s.Temporal == nil {
		checks["temporal"] = check{Error: "not configured"}
		ready = false
	} else if _, err := h.s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"] = check{Error: err.Error()}
		ready = false
	} else {
		checks["temporal"] = check{OK: true}
		resp, err := h.s.Temporal.DescribeTaskQueue(ctx, h.s.Config.TemporalTaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		switch {
		case err != nil:
			checks["worker"] = check{Error: err.Error()}
		case len(resp.GetPollers()) == 0:
			checks["worker"] = check{Error: "no worker polls task queue " + h.s.Config.TemporalTaskQueue}
		default:
			checks["worker"] = check{OK: true, Pollers: len(resp.GetPollers())}
		}
	}
	if h.s.Objects != nil {
		if err := h.s.Objects.Ping(ctx); err != nil {
			checks["objectStore"] = check{Error: err.Error()}
		} else {
			checks["objectStore"] = check{OK: true}
		}
	}

	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeEnvelope(w, r, status, map[string]any{"ready": ready, "checks": checks})
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, data any) {
	code, msg := 0, "ok"
	if status >= 400 {
		code, msg = status, http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Envelope[any]{Code: code, Message: msg, Data: data, TraceID: logging.TraceID(r.Context())})
}
