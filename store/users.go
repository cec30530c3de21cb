package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a platform admin (no tenant) or a customer's owner/member.
type User struct {
	ID           string     `json:"id" format:"uuid"`
	TenantID     *string    `json:"tenantId,omitempty" format:"uuid"`
	Username     string     `json:"username"`
	Email        string     `json:"email"`
	EmployeeID   string     `json:"employeeId"`
	Name         string     `json:"name"`
	Phone        string     `json:"phone"`
	Role         string     `json:"role" enum:"admin,owner,member"`
	AuthSource   string     `json:"authSource" enum:"local,ldap"`
	Status       string     `json:"status" enum:"active,disabled"`
	LastLoginAt  *time.Time `json:"lastLoginAt"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	PasswordHash string     `json:"-"`
	AvatarKey    string     `json:"-"`
}

const userColumns = `u.id, u.tenant_id, u.username, u.email, coalesce(u.employee_id, ''), u.name, u.phone, u.role,
	u.auth_source, u.status, u.last_login_at, u.created_at, u.updated_at, u.password_hash, u.avatar_key`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TenantID, &u.Username, &u.Email, &u.EmployeeID, &u.Name, &u.Phone, &u.Role,
		&u.AuthSource, &u.Status, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt, &u.PasswordHash, &u.AvatarKey)
	if err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

func (q *Queries) GetUser(ctx context.Context, id string) (*User, error) {
	return scanUser(q.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.id = $1", id))
}

// GetTenantUser returns a user only when it belongs to the tenant.
func (q *Queries) GetTenantUser(ctx context.Context, tenantID, id string) (*User, error) {
	return scanUser(q.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.id = $1 AND u.tenant_id = $2", id, tenantID))
}

// FindUserByLogin matches a username, an email or an employee ID (what the login and reset forms accept).
func (q *Queries) FindUserByLogin(ctx context.Context, login string) (*User, error) {
	return scanUser(q.db.QueryRow(ctx, "SELECT "+userColumns+` FROM users u
		WHERE lower(u.username) = lower($1) OR (u.email <> '' AND lower(u.email) = lower($1))
		   OR (u.employee_id <> '' AND u.employee_id = $1)
		ORDER BY (lower(u.username) = lower($1)) DESC LIMIT 1`, login))
}

func (q *Queries) ListTenantUsers(ctx context.Context, tenantID string) ([]User, error) {
	rows, err := q.db.Query(ctx, "SELECT "+userColumns+` FROM users u WHERE u.tenant_id = $1
		ORDER BY (u.role = 'owner') DESC, u.created_at`, tenantID)
	return collect(rows, err, scanUser)
}

// TenantRecipients lists a tenant's active users (who a notification goes to).
func (q *Queries) TenantRecipients(ctx context.Context, tenantID string) ([]User, error) {
	rows, err := q.db.Query(ctx, "SELECT "+userColumns+` FROM users u WHERE u.tenant_id = $1 AND u.status = 'active' ORDER BY u.created_at`, tenantID)
	return collect(rows, err, scanUser)
}

func (q *Queries) CreateUser(ctx context.Context, u *User) error {
	var emp *string
	if u.EmployeeID != "" {
		emp = &u.EmployeeID
	}
	if u.Status == "" {
		u.Status = "active"
	}
	return q.db.QueryRow(ctx, `INSERT INTO users (tenant_id, username, email, employee_id, name, phone, role, auth_source, password_hash, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at, updated_at`,
		u.TenantID, u.Username, u.Email, emp, u.Name, u.Phone, u.Role, u.AuthSource, u.PasswordHash, u.Status,
	).Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt)
}

// UpdateUser writes the editable fields (profile, role, status, employee ID).
func (q *Queries) UpdateUser(ctx context.Context, u *User) error {
	var emp *string
	if u.EmployeeID != "" {
		emp = &u.EmployeeID
	}
	tag, err := q.db.Exec(ctx, `UPDATE users SET name = $2, email = $3, phone = $4, role = $5, status = $6, employee_id = $7,
		updated_at = now() WHERE id = $1`, u.ID, u.Name, u.Email, u.Phone, u.Role, u.Status, emp)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (q *Queries) SetPassword(ctx context.Context, userID, hash string) error {
	_, err := q.db.Exec(ctx, `UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1`, userID, hash)
	return err
}

func (q *Queries) SetAvatar(ctx context.Context, userID, key string) error {
	_, err := q.db.Exec(ctx, `UPDATE users SET avatar_key = $2, updated_at = now() WHERE id = $1`, userID, key)
	return err
}

func (q *Queries) TouchLogin(ctx context.Context, userID string) error {
	_, err := q.db.Exec(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, userID)
	return err
}

// LDAPSync is what the directory says about a user at login.
type LDAPSync struct {
	Name, Email, Phone, EmployeeID string
	Role                           string
	TenantID                       *string // nil for admins
}

// SyncLDAPUser writes what the directory owns after an LDAP login: the
// contact fields (an empty one keeps the stored value), the role and the
// customer, both recomputed from the directory every time.
func (q *Queries) SyncLDAPUser(ctx context.Context, id string, d LDAPSync) error {
	var emp *string
	if d.EmployeeID != "" {
		emp = &d.EmployeeID
	}
	_, err := q.db.Exec(ctx, `UPDATE users SET name = coalesce(nullif($2, ''), name), email = coalesce(nullif($3, ''), email),
		phone = coalesce(nullif($4, ''), phone), employee_id = coalesce($5, employee_id), role = $6, tenant_id = $7,
		updated_at = now() WHERE id = $1`,
		id, d.Name, d.Email, d.Phone, emp, d.Role, d.TenantID)
	return err
}

// CountAdmins counts active platform admins (the seed uses it).
func (q *Queries) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'`).Scan(&n)
	return n, err
}

// LockUser locks the user's row for the transaction, so that checks on what
// the user owns (reset requests, SSH keys) run one after the other.
func (q *Queries) LockUser(ctx context.Context, userID string) error {
	_, err := q.db.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID)
	return err
}
