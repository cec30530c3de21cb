package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

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
		"All announcements, published or not", roleAdmin, http.StatusUnprocessableEntity), h.list)
	op := operation(http.MethodPost, "/api/admin/announcements", "create-announcement", "announcements", "Create an announcement", roleAdmin, http.StatusUnprocessableEntity)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodPut, "/api/admin/announcements/{id}", "update-announcement", "announcements",
		"Edit an announcement", roleAdmin, http.StatusNotFound, http.StatusUnprocessableEntity), h.update)
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

func (h *announcementsHandler) create(ctx context.Context, in *CreateAnnouncementInput) (*Resp[store.Announcement], error) {
	a := store.Announcement{Title: in.Body.Title, Content: in.Body.Content, Level: in.Body.Level, Published: in.Body.Published}
	if err := h.s.Store.CreateAnnouncement(ctx, &a, principal(ctx).UserID); err != nil {
		return nil, err
	}
	h.s.audit(ctx, nil, auditEntry{Action: "announcement.create", TargetType: "announcement", TargetID: a.ID, Success: true,
		Detail: map[string]any{"title": a.Title}})
	return ok(ctx, a)
}

func (h *announcementsHandler) update(ctx context.Context, in *UpdateAnnouncementInput) (*Resp[store.Announcement], error) {
	a := store.Announcement{ID: in.ID, Title: in.Body.Title, Content: in.Body.Content, Level: in.Body.Level, Published: in.Body.Published}
	if err := h.s.Store.UpdateAnnouncement(ctx, &a); err != nil {
		return nil, err
	}
	h.s.audit(ctx, nil, auditEntry{Action: "announcement.update", TargetType: "announcement", TargetID: a.ID, Success: true,
		Detail: map[string]any{"title": a.Title, "published": a.Published}})
	return ok(ctx, a)
}

func (h *announcementsHandler) delete(ctx context.Context, in *AnnouncementIDInput) (*Resp[Empty], error) {
	if err := h.s.Store.DeleteAnnouncement(ctx, in.ID); err != nil {
		return nil, err
	}
	h.s.audit(ctx, nil, auditEntry{Action: "announcement.delete", TargetType: "announcement", TargetID: in.ID, Success: true})
	return ok(ctx, Empty{})
}
