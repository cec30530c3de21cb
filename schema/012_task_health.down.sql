DROP TABLE IF EXISTS gpu_faults;
ALTER TABLE task_attempts
    DROP COLUMN IF EXISTS service_up,
    DROP COLUMN IF EXISTS service_http_status,
    DROP COLUMN IF EXISTS service_checked_at;
