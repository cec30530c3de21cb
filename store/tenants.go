package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tenant is a customer company.
type Tenant struct {
	ID           string    `json:"id" format:"uuid"`
	Name         string    `json:"name" doc:"Contact person (客户姓名)"`
	Company      string    `json:"company"`
	Code         string    `json:"code" doc:"Short code; the LDAP tenant attribute maps to it"`
	Email        string    `json:"email"`
	Phone        string    `json:"phone"`
	Remark       string    `json:"remark"`
	Status       string    `json:"status" enum:"active,pending,disabled"`
	MachineCount int       `json:"machineCount" doc:"Machines currently allocated"`
	UserCount    int       `json:"userCount"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

const tenantColumns = `t.id, t.name, t.company, t.code, t.email, t.phone, t.remark, t.status,
	(SELECT count(*) FROM allocations a WHERE a.tenant_id = t.id AND a.status IN ('pending', 'active')) AS machine_count, (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS user_count,
	t.created_at, t.updated_at`

func scanTenant(row pgx.Row) (*Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Company, &t.Code, &t.Email, &t.Phone, &t.Remark, &t.Status,
		&t.MachineCount, &t.UserCount, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &t, nil
}

type TenantFilter struct {
	Status  string
	Keyword string
}

func (q *Queries) ListTenants(ctx context.Context, f TenantFilter, p Page) ([]Tenant, int, error) {
	var w where
	if f.Status != "" {
		w.add("t.status = %s", f.Status)
	}
	if f.Keyword != "" {
		pat := likePattern(f.Keyword)
		w.add("(t.name ILIKE %s OR t.company ILIKE %s OR t.email ILIKE %s OR t.code ILIKE %s)", pat, pat, pat, pat)
	}
	var total int
	if err := q.db.QueryRow(ctx, "SELECT count(*) FROM tenants t"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := "SELECT " + tenantColumns + " FROM tenants t" + w.sql() +
		p.orderBy(map[string]string{"name": "t.name", "company": "t.company", "createdAt": "t.created_at",
			"status": "t.status", "machineCount": "machine_count", "userCount": "user_count"}, "t.created_at DESC, t.id") +
		p.limitOffset()
	rows, err := q.db.Query(ctx, query, w.args...)
	list, err := collect(rows, err, scanTenant)
	return list, total, err
}

func (q *Queries) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	return scanTenant(q.db.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants t WHERE t.id = $1", id))
}

func (q *Queries) GetTenantByCode(ctx context.Context, code string) (*Tenant, error) {
	return scanTenant(q.db.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants t WHERE lower(t.code) = lower($1)", code))
}

func (q *Queries) CreateTenant(ctx context.Context, t *Tenant) error {
	return q.db.QueryRow(ctx, `INSERT INTO tenants (name, company, code, email, phone, remark, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at, updated_at`,
		t.Name, t.Company, t.Code, t.Email, t.Phone, t.Remark, t.Status).Scan(&t.ID, &t.CreatedAt, &t.UpdatedAt)
}

func (q *Queries) UpdateTenant(ctx context.Context, t *Tenant) error {
	tag, err := q.db.Exec(ctx, `UPDATE tenants SET name = $2, company = $3, email = $4, phone = $5, remark = $6,
		updated_at = now() WHERE id = $1`, t.ID, t.Name, t.Company, t.Email, t.Phone, t.Remark)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (q *Queries) SetTenantStatus(ctx context.Context, id, status string) error {
	tag, err := q.db.Exec(ctx, `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (q *Queries) DeleteTenant(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
