-- Fleet: machines, maintenance records, allocations (leases).
CREATE TABLE machines (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    text NOT NULL,
    region                  text NOT NULL,
    room                    text NOT NULL DEFAULT '',
    gpu_model               text NOT NULL,
    gpu_memory_gb           int NOT NULL CHECK (gpu_memory_gb > 0),
    gpu_count               int NOT NULL CHECK (gpu_count > 0),
    cuda_version            text NOT NULL DEFAULT '',
    driver_version          text NOT NULL DEFAULT '',
    cpu_model               text NOT NULL DEFAULT '',
    cpu_cores               int NOT NULL DEFAULT 0 CHECK (cpu_cores >= 0),
    memory_gb               int NOT NULL DEFAULT 0 CHECK (memory_gb >= 0),
    disk_gb                 int NOT NULL DEFAULT 0 CHECK (disk_gb >= 0),
    internal_ip             text NOT NULL DEFAULT '',
    ssh_host                text NOT NULL,
    ssh_port                int NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
    container_domain_prefix text NOT NULL DEFAULT '',
    ssh_user                text NOT NULL DEFAULT 'root',
    ssh_password_enc        bytea NOT NULL,            -- AES-256-GCM, see internal/secrets
    status                  text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline', 'maintenance')),
    agent_token_hash        bytea,                     -- SHA-256 of the bootstrap token
    agent_token_created_at  timestamptz,
    import_key              text UNIQUE,               -- <import id>:<row>, so a retried import never creates twice
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz                -- soft delete: allocation history keeps its machine
);
CREATE UNIQUE INDEX machines_name_key ON machines (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX machines_region_idx ON machines (region);
CREATE INDEX machines_gpu_model_idx ON machines (gpu_model);
CREATE INDEX machines_status_idx ON machines (status);

CREATE TABLE maintenance_records (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    machine_id      uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    reason          text NOT NULL,
    planned_until   timestamptz,
    started_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    started_by_name text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    ended_by_name   text NOT NULL DEFAULT '',
    ended_at        timestamptz,
    previous_status text NOT NULL DEFAULT 'offline'
);
CREATE INDEX maintenance_records_machine_idx ON maintenance_records (machine_id, started_at DESC);
-- at most one open maintenance per machine
CREATE UNIQUE INDEX maintenance_records_open_key ON maintenance_records (machine_id) WHERE ended_at IS NULL;

CREATE TABLE allocations (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    machine_id           uuid NOT NULL REFERENCES machines (id) ON DELETE RESTRICT,
    status               text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'expired', 'reclaimed')),
    months               int NOT NULL CHECK (months > 0),
    remark               text NOT NULL DEFAULT '',
    start_at             timestamptz,
    end_at               timestamptz,
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_name      text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    expiring_notified_at timestamptz,
    extensions           int NOT NULL DEFAULT 0,
    ended_at             timestamptz,
    ended_by_name        text NOT NULL DEFAULT '',
    end_reason           text NOT NULL DEFAULT '',
    -- what happened on the host at the end: steps confirmed by the agent or not
    host_steps           jsonb NOT NULL DEFAULT '[]'
);
-- A machine is never in two live allocations: enforced here, not only in code.
CREATE UNIQUE INDEX allocations_live_machine_key ON allocations (machine_id) WHERE status IN ('pending', 'active');
CREATE INDEX allocations_tenant_idx ON allocations (tenant_id, status);
CREATE INDEX allocations_created_idx ON allocations (created_at DESC);
CREATE INDEX allocations_end_idx ON allocations (end_at) WHERE status = 'active';
