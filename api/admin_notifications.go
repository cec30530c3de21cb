package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/notices"
	"github.com/remotegpu/remotegpu/store"
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
		http.StatusNotFound, http.StatusBadRequest, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusAccepted
	huma.Register(api, op, h.send)
	huma.Register(api, operation(http.MethodGet, "/api/admin/customers/{id}/notifications", "list-customer-notifications", "customers",
		"Notifications sent to a customer, newest first", roleAdmin, http.StatusNotFound, http.StatusBadRequest), h.list)
}

func (h *adminNotificationsHandler) send(ctx context.Context, in *SendNotificationInput) (*Resp[SentNotification], error) {
	b := in.Body
	sent, err := h.s.notices.Send(ctx, notices.SendInput{TenantID: in.ID, Title: b.Title, Content: b.Content, Level: b.Level, SendEmail: b.SendEmail})
	if err != nil {
		return nil, err
	}
	return ok(ctx, SentNotification{BatchID: sent.BatchID, WorkflowID: sent.WorkflowID})
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
