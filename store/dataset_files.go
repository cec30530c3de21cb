package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DatasetEntry is a folder or a file of a dataset's listing.
type DatasetEntry struct {
	Name      string    `json:"name"`
	Path      string    `json:"path" doc:"From the dataset's root, '/'-separated"`
	Dir       bool      `json:"dir" doc:"A folder (implied by the paths of the files under it)"`
	Size      int64     `json:"size" doc:"A folder: the sum of the files under it"`
	FileCount int       `json:"fileCount" doc:"A folder: the files under it, at any depth; a file: 1"`
	MD5       string    `json:"md5" doc:"A file's MD5 (hex); empty for a folder"`
	CreatedAt time.Time `json:"createdAt" doc:"A folder: its newest file's"`
}

// FileQuery is a page of a dataset's listing: the direct children of Dir
// (folders first), or with Q the files whose path contains Q anywhere.
type FileQuery struct {
	Dir string // cleaned; "" the root
	Q   string
}

var fileSort = map[string]string{"name": "name", "size": "size", "createdAt": "created_at"}

// prefixRange is the bounds of the paths under dir ("" for the root: none),
// for the text_pattern_ops index: dir/ ≤ path < dir0 ('0' follows '/').
func prefixRange(dir string) (lo, hi string) {
	if dir == "" {
		return "", ""
	}
	return dir + "/", dir + "0"
}

// ListDatasetFiles pages a dataset's listing. Folders come from the next
// path segment, in SQL, so a dataset of many files lists one page of them.
func (q *Queries) ListDatasetFiles(ctx context.Context, datasetID string, fq FileQuery, p Page) ([]DatasetEntry, int, error) {
	dir := "asc"
	if strings.EqualFold(p.Order, "desc") {
		dir = "desc"
	}
	col, ok := fileSort[p.SortBy]
	if !ok {
		col = "name"
	}
	order := fmt.Sprintf(" ORDER BY dir DESC, %s %s, name", col, dir)
	var sql string
	args := []any{datasetID}
	if fq.Q != "" {
		args = append(args, likePattern(fq.Q))
		sql = `WITH entries AS (SELECT false AS dir, regexp_replace(path, '^.*/', '') AS name, path, size, 1 AS files, md5, created_at
			FROM dataset_files WHERE dataset_id = $1 AND path ILIKE $2)`
	} else {
		lo, hi := prefixRange(fq.Dir)
		cond := ""
		if lo != "" {
			cond = ` AND path ~>=~ $3 AND path ~<~ $4`
		}
		args = append(args, len(lo)+1, lo, hi)
		if lo == "" {
			args = args[:2]
		}
		sql = `WITH f AS (SELECT path, size, md5, created_at, substr(path, $2) AS rest FROM dataset_files WHERE dataset_id = $1` + cond + `),
			entries AS (
				SELECT true AS dir, split_part(rest, '/', 1) AS name, substr(min(path), 1, $2 - 1) || split_part(rest, '/', 1) AS path,
					sum(size)::bigint AS size, count(*)::int AS files, '' AS md5, max(created_at) AS created_at
				FROM f WHERE strpos(rest, '/') > 0 GROUP BY split_part(rest, '/', 1)
				UNION ALL
				SELECT false, rest, path, size, 1, md5, created_at FROM f WHERE strpos(rest, '/') = 0)`
	}
	rows, err := q.db.Query(ctx, sql+` SELECT dir, name, path, size, files, md5, created_at, count(*) OVER () FROM entries`+order+p.limitOffset(), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []DatasetEntry{}
	total := 0
	for rows.Next() {
		var e DatasetEntry
		if err := rows.Scan(&e.Dir, &e.Name, &e.Path, &e.Size, &e.FileCount, &e.MD5, &e.CreatedAt, &total); err != nil {
			return nil, 0, err
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(list) == 0 && p.Page > 1 {
		// past the end: the total still answers
		err := q.db.QueryRow(ctx, sql+` SELECT count(*) FROM entries`, args...).Scan(&total)
		return list, total, err
	}
	return list, total, nil
}

// DatasetFileObject is a file with where its bytes are.
type DatasetFileObject struct {
	Path      string
	Size      int64
	MD5       string
	ObjectKey string
}

// GetDatasetFile reads one file of a dataset (ErrNotFound when there is none at path).
func (q *Queries) GetDatasetFile(ctx context.Context, datasetID, path string) (*DatasetFileObject, error) {
	var f DatasetFileObject
	err := q.db.QueryRow(ctx, `SELECT f.path, f.size, f.md5, b.object_key FROM dataset_files f JOIN dataset_blobs b ON b.id = f.blob_id
		WHERE f.dataset_id = $1 AND f.path = $2`, datasetID, path).Scan(&f.Path, &f.Size, &f.MD5, &f.ObjectKey)
	return &f, notFound(err)
}

// EachDatasetFile calls fn with every file of a dataset (by path), reading
// them in pages so that a large dataset is never held whole.
func (q *Queries) EachDatasetFile(ctx context.Context, datasetID string, fn func(DatasetFileObject) error) error {
	after := ""
	for {
		rows, err := q.db.Query(ctx, `SELECT f.path, f.size, f.md5, b.object_key FROM dataset_files f JOIN dataset_blobs b ON b.id = f.blob_id
			WHERE f.dataset_id = $1 AND f.path > $2 ORDER BY f.path LIMIT 1000`, datasetID, after)
		page, err := collect(rows, err, func(r pgx.Row) (*DatasetFileObject, error) {
			var f DatasetFileObject
			return &f, r.Scan(&f.Path, &f.Size, &f.MD5, &f.ObjectKey)
		})
		if err != nil {
			return err
		}
		for _, f := range page {
			if err := fn(f); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].Path
	}
}

// deleteFiles removes the file at path and every file under the folder
// path ("" with all: every file of the dataset), marks the blobs no file
// points at any more orphaned (DatasetCleanup removes them) and counts
// the dataset's size and files again. It returns how many files went.
func (q *Queries) deleteFiles(ctx context.Context, datasetID, path string, all bool) (int, error) {
	lo, hi := prefixRange(path)
	tag, err := q.db.Exec(ctx, `WITH gone AS (
			DELETE FROM dataset_files WHERE dataset_id = $1 AND ($5 OR path = $2 OR (path ~>=~ $3 AND path ~<~ $4)) RETURNING blob_id)
		UPDATE dataset_blobs b SET orphaned_at = now() WHERE b.id IN (SELECT blob_id FROM gone)
			AND NOT EXISTS (SELECT 1 FROM dataset_files f WHERE f.blob_id = b.id
				AND NOT (f.dataset_id = $1 AND ($5 OR f.path = $2 OR (f.path ~>=~ $3 AND f.path ~<~ $4))))`, datasetID, path, lo, hi, all)
	if err != nil {
		return 0, err
	}
	_, err = q.db.Exec(ctx, `UPDATE datasets d SET size_bytes = c.size, file_count = c.n, updated_at = now()
		FROM (SELECT coalesce(sum(size), 0)::bigint AS size, count(*)::int AS n FROM dataset_files WHERE dataset_id = $1) c
		WHERE d.id = $1`, datasetID)
	return int(tag.RowsAffected()), err
}

// DeleteDatasetFiles removes the file at path, or the folder at path with
// everything under it, in a transaction that also counts the dataset again
// (ErrNotFound when nothing is there).
func (q *Queries) DeleteDatasetFiles(ctx context.Context, datasetID, path string) (int, error) {
	lo, hi := prefixRange(path)
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM dataset_files WHERE dataset_id = $1 AND (path = $2 OR path ~>=~ $3 AND path ~<~ $4)`,
		datasetID, path, lo, hi).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, ErrNotFound
	}
	if _, err := q.deleteFiles(ctx, datasetID, path, false); err != nil {
		return 0, err
	}
	return n, nil
}

// Rename outcomes besides success.
var (
	ErrRenameCollision = fmt.Errorf("a file or folder already exists at the new path")
	ErrRenameTooLong   = fmt.Errorf("a renamed path would be too long")
)

// RenameDatasetPath moves the file at from, or every file under the folder
// from, to to. A file or folder already at to, or a file at a folder of
// to (a/b when a is a file), is a collision. It returns how many files moved
// (ErrNotFound when nothing is at from).
func (q *Queries) RenameDatasetPath(ctx context.Context, datasetID, from, to string, maxLen int) (int, error) {
	lo, hi := prefixRange(from)
	var file, under int
	var longest int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE path = $2), count(*) FILTER (WHERE path <> $2),
			coalesce(max(octet_length(path)), 0) FROM dataset_files WHERE dataset_id = $1 AND (path = $2 OR path ~>=~ $3 AND path ~<~ $4)`,
		datasetID, from, lo, hi).Scan(&file, &under, &longest); err != nil {
		return 0, err
	}
	if file+under == 0 {
		return 0, ErrNotFound
	}
	if longest-len(from)+len(to) > maxLen {
		return 0, ErrRenameTooLong
	}
	// what is already at to, or a file at one of to's folders
	var parents []string
	for i := strings.IndexByte(to, '/'); i >= 0; i = nextSlash(to, i) {
		parents = append(parents, to[:i])
	}
	tlo, thi := prefixRange(to)
	var taken bool
	if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dataset_files WHERE dataset_id = $1
			AND (path = $2 OR path ~>=~ $3 AND path ~<~ $4 OR path = ANY($5)))`, datasetID, to, tlo, thi, parents).Scan(&taken); err != nil {
		return 0, err
	}
	if taken {
		return 0, ErrRenameCollision
	}
	tag, err := q.db.Exec(ctx, `UPDATE dataset_files SET path = $3 || substr(path, $4)
		WHERE dataset_id = $1 AND (path = $2 OR path ~>=~ $5 AND path ~<~ $6)`, datasetID, from, to, len(from)+1, lo, hi)
	if err != nil {
		if IsUniqueViolation(err, "dataset_files_pkey") {
			return 0, ErrRenameCollision
		}
		return 0, err
	}
	_, err = q.db.Exec(ctx, `UPDATE datasets SET updated_at = now() WHERE id = $1`, datasetID)
	return int(tag.RowsAffected()), err
}

func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
