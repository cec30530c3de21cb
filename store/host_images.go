package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// MachineImage is an image present on a host, as its agent reported it.
type MachineImage struct {
	Ref     string     `json:"ref" doc:"repo:tag"`
	ID      string     `json:"id"`
	Size    int64      `json:"size" doc:"Bytes"`
	Created *time.Time `json:"created"`
}

// ReplaceHostImages makes the machine's images the ones reported.
func (q *Queries) ReplaceHostImages(ctx context.Context, machineID string, images []MachineImage) error {
	refs := make([]string, len(images))
	ids := make([]string, len(images))
	sizes := make([]int64, len(images))
	created := make([]*time.Time, len(images))
	for i, im := range images {
		refs[i], ids[i], sizes[i], created[i] = im.Ref, im.ID, im.Size, im.Created
	}
	return q.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM host_images WHERE machine_id = $1 AND NOT (ref = ANY($2::text[]))`, machineID, refs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO host_images (machine_id, ref, image_id, size, created, reported_at)
			SELECT $1, r, i, s, c, now() FROM unnest($2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) AS u(r, i, s, c)
			ON CONFLICT (machine_id, ref) DO UPDATE SET image_id = EXCLUDED.image_id, size = EXCLUDED.size, created = EXCLUDED.created,
				reported_at = now()`, machineID, refs, ids, sizes, created)
		return err
	})
}

// HostImages are the images the machine's agent reported, by reference.
func (q *Queries) HostImages(ctx context.Context, machineID string) ([]MachineImage, error) {
	rows, err := q.db.Query(ctx, `SELECT ref, image_id, size, created FROM host_images WHERE machine_id = $1 ORDER BY ref`, machineID)
	return collect(rows, err, func(row pgx.Row) (*MachineImage, error) {
		var im MachineImage
		err := row.Scan(&im.Ref, &im.ID, &im.Size, &im.Created)
		return &im, err
	})
}
