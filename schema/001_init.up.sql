-- Foundation: tenants (customers), users, sessions, audit, notifications.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,                 -- contact person (客户姓名)
    company     text NOT NULL,
    code        text NOT NULL UNIQUE,          -- short slug; LDAP tenant attribute maps to it
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    remark      text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_company_key ON tenants (lower(company));

CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid REFERENCES tenants (id) ON DELETE CASCADE,
    username            text NOT NULL,
    email               text NOT NULL DEFAULT '',
    employee_id         text,
    name                text NOT NULL DEFAULT '',
    phone               text NOT NULL DEFAULT '',
    role                text NOT NULL CHECK (role IN ('admin', 'owner', 'member')),
    auth_source         text NOT NULL DEFAULT 'local' CHECK (auth_source IN ('local', 'ldap')),
    password_hash       text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    avatar_key          text NOT NULL DEFAULT '',
    last_login_at       timestamptz,
    password_changed_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- admins belong to no tenant, customers to exactly one
    CHECK ((role = 'admin') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email <> '';
CREATE UNIQUE INDEX users_employee_id_key ON users (employee_id) WHERE employee_id IS NOT NULL AND employee_id <> '';
CREATE INDEX users_tenant_idx ON users (tenant_id);

-- A session is one login; its refresh tokens form a family that rotates.
CREATE TABLE sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    revoke_reason text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,             -- SHA-256 of the opaque token
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Failed login counters, per account and per IP (key = 'user:<login>' or 'ip:<addr>').
CREATE TABLE login_throttle (
    key           text PRIMARY KEY,
    failures      int NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz
);

CREATE TABLE password_resets (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash    text NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id, created_at DESC);

CREATE TABLE audit_logs (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid,
    actor_name  text NOT NULL DEFAULT '',
    actor_role  text NOT NULL DEFAULT '',
    tenant_id   uuid,
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    success     boolean NOT NULL DEFAULT true,
    ip          text NOT NULL DEFAULT '',
    trace_id    text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC);
CREATE INDEX audit_logs_tenant_idx ON audit_logs (tenant_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);

CREATE TABLE ssh_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    key_type    text NOT NULL,
    public_key  text NOT NULL,
    comment     text NOT NULL DEFAULT '',
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, fingerprint)
);

CREATE TABLE announcements (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title       text NOT NULL,
    content     text NOT NULL DEFAULT '',
    level       text NOT NULL DEFAULT 'info' CHECK (level IN ('info', 'warning', 'critical')),
    published   boolean NOT NULL DEFAULT true,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One batch per "send notification" from the admin; one row per recipient below.
CREATE TABLE notification_batches (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sender_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    sender_name text NOT NULL DEFAULT '',
    title       text NOT NULL,
    content     text NOT NULL,
    level       text NOT NULL DEFAULT 'info' CHECK (level IN ('info', 'warning', 'critical')),
    send_email  boolean NOT NULL DEFAULT false,
    status      text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
    recipients  int NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX notification_batches_tenant_idx ON notification_batches (tenant_id, created_at DESC);

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    batch_id    uuid REFERENCES notification_batches (id) ON DELETE CASCADE,
    title       text NOT NULL,
    content     text NOT NULL,
    level       text NOT NULL DEFAULT 'info',
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, user_id)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);
