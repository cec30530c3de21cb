package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/lease"
	"github.com/remotegpu/remotegpu/store"
)

// allocationsHandler is lease management (requirements 2.1.4 and the
// allocate/reclaim actions of 2.1.2): HTTP over lease.Service, which owns
// the rules, the records and the Allocation workflows.
type allocationsHandler struct{ s *Server }

type CreateAllocationsInput struct {
	Body struct {
		TenantID   string   `json:"tenantId" format:"uuid"`
		MachineIDs []string `json:"machineIds" minItems:"1" maxItems:"100" uniqueItems:"true"`
		Months     int      `json:"months" minimum:"1" maximum:"36"`
		Remark     string   `json:"remark,omitempty" maxLength:"500"`
	}
}

type AllocateMachineInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		TenantID string `json:"tenantId" format:"uuid"`
		Months   int    `json:"months" minimum:"1" maximum:"36"`
		Remark   string `json:"remark,omitempty" maxLength:"500"`
	}
}

type ListAllocationsInput struct {
	ListParams
	Tab       string `query:"tab" enum:"current,history,expiring," doc:"current = pending+active, history = expired+reclaimed"`
	TenantID  string `query:"tenantId"`
	MachineID string `query:"machineId"`
	Keyword   string `query:"keyword" maxLength:"100" doc:"Customer or machine name"`
}

type AllocationIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type ExtendAllocationInput struct {
	ID             string `path:"id" format:"uuid"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"100" doc:"A retried request with the same key renews once and answers as the first did"`
	Body           struct {
		Months int `json:"months" minimum:"1" maximum:"36"`
	}
}

type ReclaimInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *ReclaimBody
}

type ReclaimBody struct {
	Reason string `json:"reason,omitempty" maxLength:"500"`
}

func (in *ReclaimInput) reason() string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Reason
}

func (h *allocationsHandler) register(api huma.API) {
	const tag = "allocations"
	huma.Register(api, operation(http.MethodGet, "/api/admin/allocations", "list-allocations", tag,
		"Allocation records; tabs current/history/expiring; sortBy createdAt|startAt|endAt|customer|machineName|status|months", roleAdmin,
		http.StatusBadRequest), h.list)
	op := operation(http.MethodPost, "/api/admin/allocations", "create-allocations", tag,
		"Quick allocation: lease machines to a customer for N months (one Allocation workflow each)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusBadRequest, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/allocations/recent", "list-recent-allocations", tag,
		"The latest 5 allocations, newest first", roleAdmin), h.recent)
	huma.Register(api, operation(http.MethodGet, "/api/admin/allocations/{id}", "get-allocation", tag, "An allocation", roleAdmin,
		http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPost, "/api/admin/allocations/{id}/extend", "extend-allocation", tag,
		"Renew: move the end by N months", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusBadRequest, http.StatusServiceUnavailable), h.extend)
	rop := operation(http.MethodPost, "/api/admin/allocations/{id}/reclaim", "reclaim-allocation", tag,
		"End the lease now. Answers 202 once the lease accepted it: the lease ends at once, and the machine stays in maintenance "+
			"until its host confirmed the end-of-lease steps (tasks stopped, keys removed, password and agent key rotated)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	rop.DefaultStatus = http.StatusAccepted
	huma.Register(api, rop, h.reclaim)
	mop := operation(http.MethodPost, "/api/admin/machines/{id}/allocate", "allocate-machine", "machines",
		"Allocate one machine to a customer", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusBadRequest, http.StatusServiceUnavailable)
	mop.DefaultStatus = http.StatusCreated
	huma.Register(api, mop, h.allocateMachine)
	mrop := operation(http.MethodPost, "/api/admin/machines/{id}/reclaim", "reclaim-machine", "machines",
		"Reclaim a machine from its customer now (202, as reclaim-allocation)", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	mrop.DefaultStatus = http.StatusAccepted
	huma.Register(api, mrop, h.reclaimMachine)
}

func (h *allocationsHandler) expiring() time.Duration { return h.s.Config.Fleet.ExpiringNotice }

func (h *allocationsHandler) list(ctx context.Context, in *ListAllocationsInput) (*Resp[Page[store.Allocation]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	filter := store.AllocationFilter{Tab: pick(in.Tab, f, "tab"), TenantID: pick(in.TenantID, f, "tenantId"),
		MachineID: pick(in.MachineID, f, "machineId"), Keyword: pick(in.Keyword, f, "keyword")}
	if err := validUUIDs(map[string]string{"tenantId": filter.TenantID, "machineId": filter.MachineID}); err != nil {
		return nil, err
	}
	list, total, err := h.s.Store.ListAllocations(ctx, filter, in.ListParams.store(), h.expiring())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

// recent are the latest 5 allocations, newest first.
func (h *allocationsHandler) recent(ctx context.Context, _ *struct{}) (*Resp[[]store.Allocation], error) {
	list, err := h.s.Store.RecentAllocations(ctx, 5, h.expiring())
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *allocationsHandler) get(ctx context.Context, in *AllocationIDInput) (*Resp[store.Allocation], error) {
	a, err := h.s.lease.GetAllocation(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a)
}

func (h *allocationsHandler) create(ctx context.Context, in *CreateAllocationsInput) (*Resp[[]store.Allocation], error) {
	list, err := h.s.lease.Allocate(ctx, lease.AllocateInput{TenantID: in.Body.TenantID, MachineIDs: in.Body.MachineIDs,
		Months: in.Body.Months, Remark: in.Body.Remark})
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *allocationsHandler) allocateMachine(ctx context.Context, in *AllocateMachineInput) (*Resp[[]store.Allocation], error) {
	list, err := h.s.lease.Allocate(ctx, lease.AllocateInput{TenantID: in.Body.TenantID, MachineIDs: []string{in.ID},
		Months: in.Body.Months, Remark: in.Body.Remark})
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *allocationsHandler) extend(ctx context.Context, in *ExtendAllocationInput) (*Resp[store.Allocation], error) {
	a, err := h.s.lease.Extend(ctx, lease.ExtendInput{AllocationID: in.ID, Months: in.Body.Months, IdempotencyKey: in.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a)
}

func (h *allocationsHandler) reclaim(ctx context.Context, in *ReclaimInput) (*Resp[store.Allocation], error) {
	a, err := h.s.lease.Reclaim(ctx, lease.ReclaimInput{AllocationID: in.ID, Reason: in.reason()})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a) // 202: the lease as it is now; the cleanup follows
}

func (h *allocationsHandler) reclaimMachine(ctx context.Context, in *ReclaimInput) (*Resp[store.Allocation], error) {
	a, err := h.s.lease.Reclaim(ctx, lease.ReclaimInput{MachineID: in.ID, Reason: in.reason()})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a)
}
