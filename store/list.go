package store

import (
	"fmt"
	"strings"
)

// Page is the paging and sorting part of every list query.
type Page struct {
	Page     int
	PageSize int
	SortBy   string
	Order    string
}

func (p Page) limitOffset() string {
	size := p.PageSize
	if size <= 0 {
		size = 20
	}
	page := p.Page
	if page <= 0 {
		page = 1
	}
	return fmt.Sprintf(" LIMIT %d OFFSET %d", size, (page-1)*size)
}

// orderBy maps the caller's sortBy onto a whitelisted column; anything else gets def.
func (p Page) orderBy(columns map[string]string, def string) string {
	col, ok := columns[p.SortBy]
	if !ok {
		return " ORDER BY " + def
	}
	dir := "ASC"
	if strings.EqualFold(p.Order, "desc") {
		dir = "DESC"
	}
	return fmt.Sprintf(" ORDER BY %s %s NULLS LAST, %s", col, dir, def)
}

// where accumulates SQL conditions with numbered arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	// each %s in cond becomes the next $n
	ph := make([]any, len(args))
	for i := range args {
		w.args = append(w.args, args[i])
		ph[i] = fmt.Sprintf("$%d", len(w.args))
	}
	w.conds = append(w.conds, fmt.Sprintf(cond, ph...))
}

// raw adds a condition without arguments.
func (w *where) raw(cond string) { w.conds = append(w.conds, cond) }

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likePattern escapes a search string for ILIKE.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.TrimSpace(s)) + "%"
}
