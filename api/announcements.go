package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/notices"
	"github.com/remotegpu/remotegpu/store"
)

type announcementsHandler struct{ s *Server }

type AnnouncementBody struct {
	Title     string `json:"title" minLength:"1" maxLength:"200"`
	Content   string `json:"content" required:"false" maxLength:"10000"`
	Level     string `json:"level" enum:"info,warning,critical" default:"info"`
	Published bool   `json:"published" required:"false"`
}

type ListAnnouncementsInput struct{ ListParams }
type CreateAnnouncementInput struct{ Body AnnouncementBody }
type UpdateAnnouncementInput struct {
	ID   string `path:"id" format:"uuid"`
	Body AnnouncementBody
}
type AnnouncementIDInput struct {
	ID string `path:"id" format:"uuid"`
}

func (h *announcementsHandler) register(api huma.API) {
	huma.Register(api, operation(http.MethodGet, "/api/admin/announcements", "list-announcements", "announcements",
		"All announcements, published or not", roleAdmin, http.StatusBadRequest), h.list)
	op := operation(http.MethodPost, "/api/admin/announcements", "create-announcement", "announcements", "Create an announcement", roleAdmin, http.StatusBadRequest)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodPut, "/api/admin/announcements/{id}", "update-announcement", "announcements",
		"Edit an announcement", roleAdmin, http.StatusNotFound, http.StatusBadRequest), h.update)
	huma.Register(api, operation(http.MethodDelete, "/api/admin/announcements/{id}", "delete-announcement", "announcements",
		"Delete an announcement", roleAdmin, http.StatusNotFound), h.delete)
}

func (h *announcementsHandler) list(ctx context.Context, in *ListAnnouncementsInput) (*Resp[Page[store.Announcement]], error) {
	list, total, err := h.s.Store.ListAnnouncements(ctx, false, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (b AnnouncementBody) input() notices.AnnouncementInput {
	return notices.AnnouncementInput{Title: b.Title, Content: b.Content, Level: b.Level, Published: b.Published}
}

func (h *announcementsHandler) create(ctx context.Context, in *CreateAnnouncementInput) (*Resp[store.Announcement], error) {
	return announcement(ctx)(h.s.notices.CreateAnnouncement(ctx, in.Body.input()))
}

func (h *announcementsHandler) update(ctx context.Context, in *UpdateAnnouncementInput) (*Resp[store.Announcement], error) {
	return announcement(ctx)(h.s.notices.UpdateAnnouncement(ctx, in.ID, in.Body.input()))
}

func announcement(ctx context.Context) func(*store.Announcement, error) (*Resp[store.Announcement], error) {
	return func(a *store.Announcement, err error) (*Resp[store.Announcement], error) {
		if err != nil {
			return nil, err
		}
		return ok(ctx, *a)
	}
}

func (h *announcementsHandler) delete(ctx context.Context, in *AnnouncementIDInput) (*Resp[Empty], error) {
	if err := h.s.notices.DeleteAnnouncement(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
