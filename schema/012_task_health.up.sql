-- The health of an inference task's service, as the agent last probed it
-- while the attempt's container ran (task_wait heartbeats).
ALTER TABLE task_attempts
    ADD COLUMN service_up          boolean,     -- null: not probed yet
    ADD COLUMN service_http_status int,         -- the answer's status when up
    ADD COLUMN service_checked_at  timestamptz;

-- GPU faults the agents reported (internal/tasks/gpufaults.go): a GPU with
-- a fault in the last 24 h that no admin cleared is granted to no task.
CREATE TABLE gpu_faults (
    id         bigserial PRIMARY KEY,
    machine_id uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    gpu_index  int NOT NULL,
    at         timestamptz NOT NULL,
    xid        int NOT NULL DEFAULT 0,    -- the XID, 0 for an ECC fault
    ecc        bigint NOT NULL DEFAULT 0, -- new uncorrected ECC errors, 0 for an XID
    cleared_at timestamptz,               -- an admin set the GPU back in service
    cleared_by uuid,
    UNIQUE (machine_id, gpu_index, at, xid, ecc)
);
CREATE INDEX gpu_faults_open_idx ON gpu_faults (machine_id, gpu_index, at) WHERE cleared_at IS NULL;
