-- Monitoring alerts (requirements 2.1.5.2): the rules, the alerts, the
-- conditions that hold but have not opened an alert yet, and a notification
-- when a lease changes so the customers' WebSockets re-check access.
--
-- Alert status is the enum of 4.5.4: active -> acknowledged -> resolved.
-- How an alert got resolved is its resolution: auto (the condition cleared
-- or the machine came back), manual (an admin marked it handled) or ignored
-- (an admin dismissed it: the same condition opens no new alert until it has
-- cleared). The console's 未处理 is active + acknowledged, 已处理 resolved.

-- One rule per alert type (the rules form has one line each).
CREATE TABLE alert_rules (
    type            text PRIMARY KEY CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline')),
    level           text NOT NULL CHECK (level IN ('critical', 'warning', 'info')),
    threshold       real,                         -- °C or %; NULL for offline
    clear_margin    real NOT NULL DEFAULT 5,      -- an open alert clears below threshold - clear_margin
    duration_s      int NOT NULL CHECK (duration_s BETWEEN 0 AND 86400),
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by_name text NOT NULL DEFAULT '',
    CHECK ((type = 'offline') = (threshold IS NULL))
);
INSERT INTO alert_rules (type, level, threshold, clear_margin, duration_s) VALUES
    ('gpu_temperature', 'critical', 85, 5, 60),
    ('disk_usage', 'warning', 90, 5, 300),
    ('memory_usage', 'warning', 95, 5, 300),
    ('offline', 'critical', NULL, 0, 30);

CREATE TABLE alerts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    machine_id           uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    gpu_index            smallint NOT NULL DEFAULT -1,   -- -1: the machine (disk, memory, offline)
    type                 text NOT NULL CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline')),
    level                text NOT NULL CHECK (level IN ('critical', 'warning', 'info')),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'acknowledged', 'resolved')),
    resolution           text CHECK (resolution IN ('auto', 'manual', 'ignored')),
    message              text NOT NULL,
    value                real,                           -- the value that opened it
    threshold            real,
    duration_s           int NOT NULL DEFAULT 0,
    started_at           timestamptz NOT NULL,           -- the condition held since (the agent's clock; offline: last seen)
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    acknowledged_at      timestamptz,
    acknowledged_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    acknowledged_by_name text NOT NULL DEFAULT '',
    resolved_at          timestamptz,
    resolved_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_by_name     text NOT NULL DEFAULT '',
    resolved_value       real,                           -- the value that cleared it (auto)
    note                 text NOT NULL DEFAULT '',       -- the admin's remark on acknowledge/resolve/ignore
    notify_started_at    timestamptz,                    -- the AlertNotify workflow was started (critical alerts)
    CHECK ((status = 'resolved') = (resolution IS NOT NULL AND resolved_at IS NOT NULL))
);
-- No storms: at most one open alert per machine, GPU and type.
CREATE UNIQUE INDEX alerts_open_key ON alerts (machine_id, type, gpu_index) WHERE status <> 'resolved';
CREATE INDEX alerts_created_idx ON alerts (created_at DESC);
CREATE INDEX alerts_machine_idx ON alerts (machine_id, created_at DESC);
CREATE INDEX alerts_open_idx ON alerts (created_at DESC) WHERE status <> 'resolved';
CREATE INDEX alerts_notify_idx ON alerts (created_at) WHERE notify_started_at IS NULL AND level = 'critical';

-- A condition that holds but has not lasted the rule's duration yet, or
-- (suppressed) one whose alert was ignored and that has not cleared since.
CREATE TABLE alert_states (
    machine_id uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    type       text NOT NULL,
    gpu_index  smallint NOT NULL,
    since      timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    value      real NOT NULL,
    suppressed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (machine_id, type, gpu_index)
);

-- Every change of a lease's status tells the api replicas (their customer
-- WebSockets close when the lease of their machine ends), payload the machine id.
CREATE FUNCTION notify_allocation_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('allocation_changes', NEW.machine_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER allocations_notify AFTER INSERT OR UPDATE OF status ON allocations
    FOR EACH ROW EXECUTE FUNCTION notify_allocation_change();
