-- The health of an inference task's service, as the agent last probed it
-- while the attempt's container ran (task_wait heartbeats).
ALTER TABLE task_attempts
    ADD COLUMN service_up          boolean,     -- null: not probed yet
    ADD COLUMN service_http_status int,         -- the answer's status when up
    ADD COLUMN service_checked_at  timestamptz;
