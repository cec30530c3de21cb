package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/store"
)

// notificationsHandler is the customer's in-app notification list.
type notificationsHandler struct{ s *Server }

type ListNotificationsInput struct {
	ListParams
	Unread bool `query:"unread" doc:"Only unread ones"`
}

type NotificationPage struct {
	Page[store.Notification]
	Unread int `json:"unread" doc:"Unread notifications in total"`
}

type NotificationIDInput struct {
	ID string `path:"id" format:"uuid"`
}

type MarkedRead struct {
	Marked int `json:"marked"`
}

func (h *notificationsHandler) register(api huma.API) {
	const tag = "notifications"
	huma.Register(api, operation(http.MethodGet, "/api/customer/notifications", "list-notifications", tag,
		"The caller's notifications, newest first, with the unread count", roleCustomer, http.StatusBadRequest), h.list)
	huma.Register(api, operation(http.MethodPost, "/api/customer/notifications/{id}/read", "mark-notification-read", tag,
		"Mark one notification read", roleCustomer, http.StatusNotFound), h.markRead)
	huma.Register(api, operation(http.MethodPost, "/api/customer/notifications/read-all", "mark-all-notifications-read", tag,
		"Mark every notification read", roleCustomer), h.markAll)
}

func (h *notificationsHandler) list(ctx context.Context, in *ListNotificationsInput) (*Resp[NotificationPage], error) {
	p := principal(ctx)
	list, total, unread, err := h.s.Store.ListNotifications(ctx, p.TenantID, p.UserID, in.Unread, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return ok(ctx, NotificationPage{Page: Page[store.Notification]{List: list, Total: total, Page: in.page(), PageSize: in.size()}, Unread: unread})
}

func (h *notificationsHandler) markRead(ctx context.Context, in *NotificationIDInput) (*Resp[MarkedRead], error) {
	return marked(ctx)(h.s.notices.MarkRead(ctx, in.ID))
}

func (h *notificationsHandler) markAll(ctx context.Context, _ *struct{}) (*Resp[MarkedRead], error) {
	return marked(ctx)(h.s.notices.MarkRead(ctx, ""))
}

func marked(ctx context.Context) func(int, error) (*Resp[MarkedRead], error) {
	return func(n int, err error) (*Resp[MarkedRead], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, MarkedRead{Marked: n})
	}
}
