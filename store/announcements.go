package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

type Announcement struct {
	ID        string    `json:"id" format:"uuid"`
	Title     string    `json:"title"`
	Content   string    `json:"content"`
	Level     string    `json:"level" enum:"info,warning,critical"`
	Published bool      `json:"published"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

const announcementColumns = `id, title, content, level, published, created_at, updated_at`

func scanAnnouncement(row pgx.Row) (*Announcement, error) {
	var a Announcement
	if err := row.Scan(&a.ID, &a.Title, &a.Content, &a.Level, &a.Published, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	return &a, nil
}

func (q *Queries) ListAnnouncements(ctx context.Context, publishedOnly bool, p Page) ([]Announcement, int, error) {
	var w where
	if publishedOnly {
		w.raw("published")
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM announcements"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, "SELECT "+announcementColumns+" FROM announcements"+w.sql()+
		p.orderBy(map[string]string{"createdAt": "created_at", "title": "title", "level": "level"}, "created_at DESC, id")+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanAnnouncement)
	return list, total, err
}

func (q *Queries) CreateAnnouncement(ctx context.Context, a *Announcement, by string) error {
	return q.db.QueryRow(ctx, `INSERT INTO announcements (title, content, level, published, created_by) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+announcementColumns, a.Title, a.Content, a.Level, a.Published, nullable(by)).
		Scan(&a.ID, &a.Title, &a.Content, &a.Level, &a.Published, &a.CreatedAt, &a.UpdatedAt)
}

func (q *Queries) UpdateAnnouncement(ctx context.Context, a *Announcement) error {
	err := q.db.QueryRow(ctx, `UPDATE announcements SET title = $2, content = $3, level = $4, published = $5, updated_at = now()
		WHERE id = $1 RETURNING `+announcementColumns, a.ID, a.Title, a.Content, a.Level, a.Published).
		Scan(&a.ID, &a.Title, &a.Content, &a.Level, &a.Published, &a.CreatedAt, &a.UpdatedAt)
	return notFound(err)
}

func (q *Queries) DeleteAnnouncement(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM announcements WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// nullable maps "" to NULL for optional uuid columns.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
