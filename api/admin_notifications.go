package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// adminNotificationsHandler sends messages to a customer's users (customer detail page).
type adminNotificationsHandler struct{ s *Server }

type SendNotificationInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Title     string `json:"title" minLength:"1" maxLength:"200"`
		Content   string `json:"content" minLength:"1" maxLength:"5000"`
		Level     string `json:"level" enum:"info,warning,critical" default:"info"`
		SendEmail bool   `json:"sendEmail" required:"false" doc:"Also mail every user of the customer"`
	}
}

type SentNotification struct {
	BatchID    string `json:"batchId" format:"uuid"`
	WorkflowID string `json:"workflowId"`
}

type ListSentNotificationsInput struct {
	ID string `path:"id" format:"uuid"`
	ListParams
}

func (h *adminNotificationsHandler) register(api huma.API) {
	op := operation(http.MethodPost, "/api/admin/customers/{id}/notifications", "send-customer-notification", "customers",
		"Send a notification to every user of a customer (runs as a workflow)", roleAdmin,
		http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusAccepted
	huma.Register(api, op, h.send)
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers/{id}/notifications", "list-customer-notifications", "customers",
		"Notifications sent to a customer, newest first", roleAdmin, http.StatusNotFound, http.StatusUnprocessableEntity), h.list)
}

func (h *adminNotificationsHandler) send(ctx context.Context, in *SendNotificationInput) (*Resp[SentNotification], error) {
	s := h.s
	t, err := s.Store.GetTenant(ctx, in.ID)
	if err != nil {
		return nil, customerNotFound(err)
	}
	p := principal(ctx)
	b := store.NotificationBatch{TenantID: t.ID, Title: in.Body.Title, Content: in.Body.Content, Level: in.Body.Level,
		SendEmail: in.Body.SendEmail, SenderName: p.Name}
	if b.SenderName == "" {
		b.SenderName = p.Username
	}
	if err := s.Store.CreateNotificationBatch(ctx, &b, p.UserID); err != nil {
		return nil, err
	}
	wfID := workflows.SendNotificationWorkflowID(b.ID)
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wfID, TaskQueue: s.Config.TemporalTaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.SendNotification, workflows.SendNotificationInput{BatchID: b.ID})
	if err != nil {
		slog.ErrorContext(ctx, "unable to start notification workflow", "batch", b.ID, "err", err)
		_ = s.Store.FinishNotificationBatch(ctx, b.ID, "failed", 0, "workflow could not start")
		return nil, apperr.Newf(apperr.Unavailable, "通知服务暂不可用，请稍后重试 / the workflow service is unavailable; try again later")
	}
	s.audit(ctx, nil, auditEntry{Action: "customer.notify", TargetType: "notification", TargetID: b.ID, TenantID: t.ID, Success: true,
		Detail: map[string]any{"title": b.Title, "level": b.Level, "sendEmail": b.SendEmail, "workflowId": wfID}})
	return ok(ctx, SentNotification{BatchID: b.ID, WorkflowID: wfID})
}

func (h *adminNotificationsHandler) list(ctx context.Context, in *ListSentNotificationsInput) (*Resp[Page[store.NotificationBatch]], error) {
	if _, err := h.s.Store.GetTenant(ctx, in.ID); err != nil {
		return nil, customerNotFound(err)
	}
	list, total, err := h.s.Store.ListNotificationBatches(ctx, in.ID, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}
