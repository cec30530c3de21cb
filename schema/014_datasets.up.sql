-- Datasets and storage (docs/datasets.md, requirements 3.1.5, 2.1.7, 4.3.1).
-- A dataset is a set of files; a file points at a blob, one object in the
-- datasets bucket. Blobs are content-addressed by (owner, md5, size) once
-- the ingest has verified them, which is what instant upload (秒传) looks
-- up: within the company and the public datasets only.

-- The storage quota of a company (NULL: the configured default).
ALTER TABLE tenants ADD COLUMN storage_quota_bytes bigint CHECK (storage_quota_bytes >= 0);

CREATE TABLE datasets (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: a public (platform) dataset
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_name text NOT NULL DEFAULT '',
    name            text NOT NULL,
    type            text NOT NULL CHECK (type IN ('image', 'text', 'audio', 'video', 'other')),
    description     text NOT NULL DEFAULT '',
    tags            text[] NOT NULL DEFAULT '{}',
    -- private: the uploader and the company's owners; team: the whole
    -- company (团队共享). Public datasets: public (listed to every customer)
    -- or private (admins only, e.g. while being prepared).
    access          text NOT NULL DEFAULT 'private' CHECK (access IN ('private', 'team', 'public')),
    source          text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'url', 'machine')),
    source_ref      text NOT NULL DEFAULT '',       -- the URL or machine:path imported from
    status          text NOT NULL DEFAULT 'uploading'
                    CHECK (status IN ('uploading', 'processing', 'available', 'failed')),
    status_reason   text NOT NULL DEFAULT '',       -- a code, uploads.reason.*
    status_params   jsonb NOT NULL DEFAULT '{}',
    size_bytes      bigint NOT NULL DEFAULT 0,      -- sum of its files
    file_count      int NOT NULL DEFAULT 0,
    reserved_bytes  bigint NOT NULL DEFAULT 0,      -- quota held while uploading/processing
    progress_bytes  bigint NOT NULL DEFAULT 0,      -- imports: bytes fetched so far
    download_count  int NOT NULL DEFAULT 0,
    last_used_at    timestamptz,                    -- downloaded, mounted or used by a task
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz                     -- hidden; its files and blobs go in the background
);
CREATE INDEX datasets_tenant_idx ON datasets (tenant_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX datasets_public_idx ON datasets (created_at DESC) WHERE tenant_id IS NULL AND deleted_at IS NULL;

CREATE TABLE dataset_blobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: the platform's
    md5         text NOT NULL,                    -- hex, as the uploader claimed until verified
    size        bigint NOT NULL CHECK (size >= 0),
    object_key  text NOT NULL UNIQUE,             -- in the datasets bucket
    verified    boolean NOT NULL DEFAULT false,   -- the ingest read it back and the MD5 matched
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- the last file pointing at it was deleted (dataset or file deleted):
    -- DatasetCleanup removes it (object, then row) unless a file points at it again
    orphaned_at timestamptz
);
CREATE INDEX dataset_blobs_orphaned_idx ON dataset_blobs (orphaned_at) WHERE orphaned_at IS NOT NULL;
-- one verified blob per owner and content: what instant upload finds
CREATE UNIQUE INDEX dataset_blobs_content_key
    ON dataset_blobs (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), md5, size) WHERE verified;

CREATE TABLE dataset_files (
    dataset_id  uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    path        text NOT NULL,                    -- relative, '/'-separated, cleaned
    blob_id     uuid NOT NULL REFERENCES dataset_blobs (id),
    size        bigint NOT NULL,
    md5         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, path)
);
CREATE INDEX dataset_files_path_idx ON dataset_files (dataset_id, path text_pattern_ops);
CREATE INDEX dataset_files_blob_idx ON dataset_files (blob_id);

-- One file being uploaded in chunks: an S3 multipart upload (or, for a file
-- of one chunk, a single object) whose confirmed parts are recorded here, so
-- that a reload, a lost network or an api restart resumes where it was.
CREATE TABLE dataset_uploads (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dataset_id   uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    path         text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    md5          text NOT NULL,
    archive      boolean NOT NULL DEFAULT false,  -- extract it on the server
    chunk_size   int NOT NULL,
    object_key   text NOT NULL UNIQUE,
    s3_upload_id text NOT NULL DEFAULT '',        -- '' for a file of one chunk
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'aborted')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dataset_uploads_open_key ON dataset_uploads (dataset_id, path) WHERE status = 'open';
CREATE INDEX dataset_uploads_stale_idx ON dataset_uploads (updated_at) WHERE status = 'open';

CREATE TABLE dataset_upload_parts (
    upload_id   uuid NOT NULL REFERENCES dataset_uploads (id) ON DELETE CASCADE,
    part_number int NOT NULL CHECK (part_number >= 1),
    size        bigint NOT NULL,
    md5         text NOT NULL,
    etag        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, part_number)
);

-- Read-only sharing with other companies (共享给我的), after an admin's approval.
CREATE TABLE dataset_shares (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dataset_id    uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,  -- shared with
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reason        text NOT NULL DEFAULT '',
    requested_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    decided_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz,
    UNIQUE (dataset_id, tenant_id)
);
CREATE INDEX dataset_shares_tenant_idx ON dataset_shares (tenant_id) WHERE status = 'approved';
CREATE INDEX dataset_shares_pending_idx ON dataset_shares (created_at) WHERE status = 'pending';

-- A dataset made available read-only at a path of a leased machine.
CREATE TABLE dataset_mounts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    dataset_id     uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    machine_id     uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    allocation_id  uuid REFERENCES allocations (id) ON DELETE SET NULL,
    path           text NOT NULL,
    status         text NOT NULL DEFAULT 'mounting'
                   CHECK (status IN ('mounting', 'mounted', 'failed', 'unmounting', 'unmounted')),
    status_reason  text NOT NULL DEFAULT '',      -- a code, mounts.reason.*
    status_params  jsonb NOT NULL DEFAULT '{}',
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    mounted_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- the copy's progress while mounting, from the agent's heartbeats
    files_done     int NOT NULL DEFAULT 0,
    files_total    int NOT NULL DEFAULT 0,
    bytes_done     bigint NOT NULL DEFAULT 0,
    bytes_total    bigint NOT NULL DEFAULT 0
);
-- one live mount per machine path
CREATE UNIQUE INDEX dataset_mounts_path_key ON dataset_mounts (machine_id, path) WHERE status IN ('mounting', 'mounted', 'unmounting');
CREATE INDEX dataset_mounts_tenant_idx ON dataset_mounts (tenant_id, created_at DESC);
CREATE INDEX dataset_mounts_dataset_idx ON dataset_mounts (dataset_id);

-- Which tasks used a dataset (bound its mount into the container).
CREATE TABLE dataset_task_uses (
    dataset_id  uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    mount_id    uuid REFERENCES dataset_mounts (id) ON DELETE SET NULL,
    container_path text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, task_id)
);
CREATE INDEX dataset_task_uses_task_idx ON dataset_task_uses (task_id);

-- The object store's capacity and use, sampled by a schedule (storage trend).
CREATE TABLE storage_samples (
    at              timestamptz PRIMARY KEY,
    capacity_bytes  bigint NOT NULL,
    used_bytes      bigint NOT NULL,
    datasets_bytes  bigint NOT NULL DEFAULT 0
);
