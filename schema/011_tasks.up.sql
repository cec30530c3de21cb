-- Training and inference tasks (docs/tasks.md): a task is a container the
-- customer runs on a machine leased to it, through attempts (one container
-- each) that a TaskRun workflow drives. The queue of a machine is its
-- queued tasks in (queued_at, id) order; GPUs are granted in Postgres.
CREATE TABLE tasks (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_name       text NOT NULL DEFAULT '',
    name                  text NOT NULL,
    type                  text NOT NULL CHECK (type IN ('training', 'inference')),
    -- the machine of the current (or last) attempt
    machine_id            uuid NOT NULL REFERENCES machines (id),
    any_machine           boolean NOT NULL DEFAULT false,
    gpu_count             int NOT NULL CHECK (gpu_count >= 1),
    image                 text NOT NULL,
    work_dir              text NOT NULL DEFAULT '',
    script_path           text NOT NULL DEFAULT '',
    command               text NOT NULL,
    env                   jsonb NOT NULL DEFAULT '[]',   -- [{name, value}]
    auto_restart          boolean NOT NULL DEFAULT false,
    max_attempts          int NOT NULL DEFAULT 1 CHECK (max_attempts BETWEEN 1 AND 10),
    notify_in_app         boolean NOT NULL DEFAULT true,
    notify_mail           boolean NOT NULL DEFAULT false,
    checkpoint_interval_s int NOT NULL DEFAULT 0,
    service_port          int,
    status                text NOT NULL DEFAULT 'queued'
                          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped')),
    status_reason         text NOT NULL DEFAULT '',      -- a code, tasks.reason.*
    status_params         jsonb NOT NULL DEFAULT '{}',
    attempt               int NOT NULL DEFAULT 1,        -- the current (or last) attempt
    first_attempt         int NOT NULL DEFAULT 1,        -- the first attempt of the current run (a re-run starts a new one)
    exit_code             int,
    queued_at             timestamptz NOT NULL DEFAULT now(),  -- queue order
    not_before            timestamptz,                   -- a restart waits out its backoff before it is admitted
    created_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    finished_at           timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz                    -- hidden; its rows go once the host cleaned up
);
CREATE INDEX tasks_tenant_idx ON tasks (tenant_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX tasks_machine_idx ON tasks (machine_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX tasks_queue_idx ON tasks (machine_id, queued_at, id) WHERE status = 'queued';
CREATE INDEX tasks_live_idx ON tasks (status) WHERE status IN ('queued', 'running');

CREATE TABLE task_attempts (
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     int NOT NULL,
    machine_id  uuid NOT NULL REFERENCES machines (id),
    gpus        int[] NOT NULL DEFAULT '{}',
    container   text NOT NULL DEFAULT '',
    gpu_devices boolean,                   -- the container got the GPUs as devices (false: simulated GPUs)
    queued_at   timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    exit_code   int,
    reason      text NOT NULL DEFAULT '',  -- how it ended, tasks.reason.*
    params      jsonb NOT NULL DEFAULT '{}',
    log_next    bigint NOT NULL DEFAULT 0, -- lines stored: the offset the api expects next
    PRIMARY KEY (task_id, attempt)
);
CREATE INDEX task_attempts_machine_idx ON task_attempts (machine_id, started_at);

-- Who holds which GPU of a machine: the primary key is what keeps two tasks
-- off one GPU, crashes included.
CREATE TABLE task_gpu_grants (
    machine_id uuid NOT NULL REFERENCES machines (id),
    gpu_index  int NOT NULL,
    task_id    uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt    int NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, gpu_index)
);
CREATE INDEX task_gpu_grants_task_idx ON task_gpu_grants (task_id);

-- Each attempt's log, line by line (n from 0, both streams in the order the
-- agent read them); written idempotently by (task, attempt, n); followed
-- through NOTIFY task_logs.
CREATE TABLE task_logs (
    task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt int NOT NULL,
    n       bigint NOT NULL,
    ts      timestamptz NOT NULL,
    stream  text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    line    text NOT NULL,
    PRIMARY KEY (task_id, attempt, n)
);

-- The images present on each host, as its agent last reported them.
CREATE TABLE host_images (
    machine_id  uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    ref         text NOT NULL,
    image_id    text NOT NULL DEFAULT '',
    size        bigint NOT NULL DEFAULT 0,
    created     timestamptz,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, ref)
);
