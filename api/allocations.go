package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/failpoint"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// allocationsHandler is lease management (requirements 2.1.4 and the
// allocate/reclaim actions of 2.1.2). Each allocation is owned by its
// Allocation workflow; this handler records the request and talks to it.
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
		http.StatusBadRequest, http.StatusUnprocessableEntity), h.list)
	op := operation(http.MethodPost, "/api/admin/allocations", "create-allocations", tag,
		"Quick allocation: lease machines to a customer for N months (one Allocation workflow each)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodGet, "/api/admin/allocations/recent", "list-recent-allocations", tag,
		"The latest 5 allocations", roleAdmin), h.recent)
	huma.Register(api, operation(http.MethodGet, "/api/admin/allocations/{id}", "get-allocation", tag, "An allocation", roleAdmin,
		http.StatusNotFound), h.get)
	huma.Register(api, operation(http.MethodPost, "/api/admin/allocations/{id}/extend", "extend-allocation", tag,
		"Renew: move the end by N months", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable), h.extend)
	rop := operation(http.MethodPost, "/api/admin/allocations/{id}/reclaim", "reclaim-allocation", tag,
		"End the lease now. Answers 202 once the lease accepted it: the lease ends at once, and the machine stays in maintenance "+
			"until its host confirmed the end-of-lease steps (tasks stopped, keys removed, password and agent key rotated)", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	rop.DefaultStatus = http.StatusAccepted
	huma.Register(api, rop, h.reclaim)
	mop := operation(http.MethodPost, "/api/admin/machines/{id}/allocate", "allocate-machine", "machines",
		"Allocate one machine to a customer", roleAdmin, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)
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

func (h *allocationsHandler) recent(ctx context.Context, _ *struct{}) (*Resp[[]store.Allocation], error) {
	list, _, err := h.s.Store.ListAllocations(ctx, store.AllocationFilter{}, store.Page{PageSize: 5}, h.expiring())
	if err != nil {
		return nil, err
	}
	return ok(ctx, list)
}

func (h *allocationsHandler) get(ctx context.Context, in *AllocationIDInput) (*Resp[store.Allocation], error) {
	a, err := h.s.Store.GetAllocation(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, allocationNotFound(err)
	}
	return ok(ctx, *a)
}

func allocationNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("分配记录不存在 / allocation not found")
	}
	return err
}

func (h *allocationsHandler) create(ctx context.Context, in *CreateAllocationsInput) (*Resp[[]store.Allocation], error) {
	return h.allocate(ctx, in.Body.TenantID, in.Body.MachineIDs, in.Body.Months, in.Body.Remark)
}

func (h *allocationsHandler) allocateMachine(ctx context.Context, in *AllocateMachineInput) (*Resp[[]store.Allocation], error) {
	return h.allocate(ctx, in.Body.TenantID, []string{in.ID}, in.Body.Months, in.Body.Remark)
}

// allocate records one pending allocation per machine in one transaction
// (all or none), then starts each one's workflow, which activates it.
func (h *allocationsHandler) allocate(ctx context.Context, tenantID string, machineIDs []string, months int, remark string) (*Resp[[]store.Allocation], error) {
	s := h.s
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	if t.Status != "active" {
		return nil, apperr.Conflictf("客户 %s 状态为 %s，不能分配机器 / customer %s is %s and cannot receive machines", t.Company, t.Status, t.Company, t.Status)
	}
	machines := make([]*store.Machine, len(machineIDs))
	for i, id := range machineIDs {
		m, err := s.Store.GetMachine(ctx, id, h.expiring())
		if err != nil {
			return nil, machineNotFound(err)
		}
		switch {
		case m.Cleanup != nil:
			return nil, apperr.Conflictf("机器 %s 上一租期的清理尚未被主机确认，不能分配 / machine %s is still being cleaned after its last lease and cannot be allocated",
				m.Name, m.Name)
		case m.Allocation != nil:
			return nil, apperr.Conflictf("机器 %s 已分配给 %s / machine %s is already allocated to %s", m.Name, m.Allocation.Customer, m.Name, m.Allocation.Customer)
		case m.Status == "maintenance":
			return nil, apperr.Conflictf("机器 %s 维护中，不能分配 / machine %s is in maintenance and cannot be allocated", m.Name, m.Name)
		case m.Status == "offline":
			return nil, apperr.Conflictf("机器 %s 离线，不能分配 / machine %s is offline and cannot be allocated", m.Name, m.Name)
		}
		machines[i] = m
	}
	p := principal(ctx)
	ids := make([]string, len(machines))
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		for i, m := range machines {
			id, err := store.CreateAllocation(ctx, tx, t.ID, m.ID, months, strings.TrimSpace(remark), p.UserID, p.Username)
			if err != nil {
				if store.IsUniqueViolation(err, "allocations_live_machine_key") {
					return apperr.Conflictf("机器 %s 刚刚被分配 / machine %s was just allocated", m.Name, m.Name)
				}
				return err
			}
			ids[i] = id
			if err := s.audit(ctx, tx, auditEntry{Action: "allocation.create", TargetType: "allocation", TargetID: id, TenantID: t.ID, Success: true,
				Detail: map[string]any{"machine": m.Name, "machineId": m.ID, "customer": t.Company, "months": months, "remark": remark,
					"before": m.AllocationStatus, "after": "allocated"}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	failpoint.Hit("allocation-before-workflow-start") // the reconciler's test kills the api here
	var failed []string
	for i, id := range ids {
		_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.AllocationWorkflowID(id), TaskQueue: s.Config.TemporalTaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.Allocation, workflows.AllocationInput{AllocationID: id, Months: months, ExpiringNotice: h.expiring()})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			slog.ErrorContext(ctx, "unable to start allocation workflow", "allocation", id, "err", err)
			// nothing owns this lease: close it so the machine is free again
			_ = s.Store.EndAllocation(ctx, id, "reclaimed", "workflow could not start", "system", nil)
			failed = append(failed, machines[i].Name)
		}
	}
	if len(failed) > 0 {
		return nil, apperr.Newf(apperr.Unavailable, "工作流服务不可用，以下机器未分配：%s / the workflow service is unavailable; not allocated: %s",
			strings.Join(failed, ", "), strings.Join(failed, ", "))
	}
	out := make([]store.Allocation, 0, len(ids))
	for _, id := range ids {
		a, err := s.Store.GetAllocation(ctx, id, h.expiring())
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return ok(ctx, out)
}

func (h *allocationsHandler) extend(ctx context.Context, in *ExtendAllocationInput) (*Resp[store.Allocation], error) {
	if _, err := h.live(ctx, in.ID); err != nil {
		return nil, err
	}
	// A retried request with the same key is the same update: Temporal
	// runs it once and answers again with its outcome.
	updateID := "extend:" + uuid.NewString()
	if k := strings.TrimSpace(in.IdempotencyKey); k != "" {
		updateID = "extend:" + principal(ctx).UserID + ":" + k
	}
	var res workflows.ExtendResult
	req := workflows.ExtendRequest{Months: in.Body.Months, By: principal(ctx).Username, Actor: actorOf(ctx)}
	if err := h.update(ctx, in.ID, workflows.AllocationExtendUpdate, updateID, client.WorkflowUpdateStageCompleted, req, &res); err != nil {
		return nil, err
	}
	return h.get(ctx, &AllocationIDInput{ID: in.ID})
}

func (h *allocationsHandler) reclaim(ctx context.Context, in *ReclaimInput) (*Resp[store.Allocation], error) {
	before, err := h.live(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return h.doReclaim(ctx, before, in.reason())
}

func (h *allocationsHandler) reclaimMachine(ctx context.Context, in *ReclaimInput) (*Resp[store.Allocation], error) {
	m, err := h.s.Store.GetMachine(ctx, in.ID, h.expiring())
	if err != nil {
		return nil, machineNotFound(err)
	}
	if m.Allocation == nil {
		return nil, apperr.Conflictf("机器 %s 未分配 / machine %s is not allocated", m.Name, m.Name)
	}
	before, err := h.live(ctx, m.Allocation.ID)
	if err != nil {
		return nil, err
	}
	return h.doReclaim(ctx, before, in.reason())
}

// doReclaim records the request (no record, no reclaim) and hands it to the
// lease, answering as soon as the lease accepted it. The update ID is the
// same for every reclaim of a lease, so a retried request is one reclaim.
func (h *allocationsHandler) doReclaim(ctx context.Context, before *store.Allocation, reason string) (*Resp[store.Allocation], error) {
	if strings.TrimSpace(reason) == "" {
		reason = "提前回收 / early reclaim"
	}
	if err := h.s.audit(ctx, nil, auditEntry{Action: "allocation.reclaim", TargetType: "allocation", TargetID: before.ID, TenantID: before.TenantID,
		Success: true, Detail: map[string]any{"machine": before.MachineName, "reason": reason, "before": before.Status}}); err != nil {
		return nil, err
	}
	req := workflows.ReclaimRequest{Reason: reason, By: principal(ctx).Username, Actor: actorOf(ctx)}
	if err := h.update(ctx, before.ID, workflows.AllocationReclaimUpdate, "reclaim", client.WorkflowUpdateStageAccepted, req, nil); err != nil {
		// the request was recorded before it was sent: record that it did not happen
		_ = h.s.audit(ctx, nil, auditEntry{Action: "allocation.reclaim", TargetType: "allocation", TargetID: before.ID, TenantID: before.TenantID,
			Detail: map[string]any{"machine": before.MachineName, "reason": reason, "error": err.Error()}})
		return nil, err
	}
	a, err := h.s.Store.GetAllocation(ctx, before.ID, h.expiring())
	if err != nil {
		return nil, err
	}
	return ok(ctx, *a) // 202: the lease as it is now; the cleanup follows
}

// actorOf is the caller, for audit records written by activities.
func actorOf(ctx context.Context) activities.Actor {
	p := principal(ctx)
	return activities.Actor{UserID: p.UserID, Name: p.Username, Role: p.Role, IP: reqInfo(ctx).IP, TraceID: logging.TraceID(ctx)}
}

// live returns an allocation that can still be extended or reclaimed.
func (h *allocationsHandler) live(ctx context.Context, id string) (*store.Allocation, error) {
	a, err := h.s.Store.GetAllocation(ctx, id, h.expiring())
	if err != nil {
		return nil, allocationNotFound(err)
	}
	if a.Status != "active" {
		return nil, apperr.Conflictf("分配状态为 %s，不能操作 / the allocation is %s", a.Status, a.Status)
	}
	return a, nil
}

// update sends an update to the allocation's workflow and waits until it
// reaches stage; with the completed stage the result goes into result.
func (h *allocationsHandler) update(ctx context.Context, id, name, updateID string, stage client.WorkflowUpdateStage, arg, result any) error {
	handle, err := h.s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.AllocationWorkflowID(id), UpdateName: name, UpdateID: updateID, Args: []any{arg},
		WaitForStage: stage,
	})
	if err == nil && stage == client.WorkflowUpdateStageCompleted {
		err = handle.Get(ctx, result)
	}
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return apperr.Conflictf("该分配已结束 / the allocation has already ended")
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case workflows.ErrTypeInvalidMonths:
			return apperr.Newf(apperr.Unprocessable, "%s", appErr.Message()).AtField("body.months")
		case workflows.ErrTypeLeaseEnded, workflows.ErrTypeLeaseEnding:
			return apperr.Conflictf("%s", appErr.Message())
		}
		// The change itself failed (its record could not be written, say): nothing changed.
		slog.ErrorContext(ctx, "allocation update failed", "allocation", id, "update", name, "err", err)
		return apperr.Newf(apperr.Unavailable, "操作未能完成，租约未改变，请稍后重试 / the change could not be made and the lease is unchanged; try again later")
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return apperr.Conflictf("该分配已结束 / the allocation has already ended")
	}
	slog.ErrorContext(ctx, "allocation update failed", "allocation", id, "update", name, "err", err)
	return apperr.Newf(apperr.Unavailable, "工作流服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
}
