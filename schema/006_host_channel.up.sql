-- The host channel (issue: host trust boundary). Work for a GPU host is a
-- host command: a workflow's activity records it with its Temporal task
-- token and waits; the machine's agent long-polls the api for its own
-- commands, heartbeats, and reports the result, which completes the
-- activity. Agents never reach Temporal.
CREATE TABLE host_commands (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    machine_id        uuid NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    kind              text NOT NULL,
    args              jsonb NOT NULL DEFAULT '{}',
    serial            text NOT NULL DEFAULT '',   -- commands with the same serial run one after another on the host
    -- a secret for this command only (a password, a new agent key), sealed
    -- with SECRETS_KEY; handed to the agent once, cleared when the command ends
    secret_enc        bytea,
    secret_fetched_at timestamptz,
    -- the activity the command completes; a retried activity (a new attempt)
    -- takes over the same row with its new task token
    workflow_id       text NOT NULL,
    run_id            text NOT NULL,
    activity_id       text NOT NULL,
    attempt           int NOT NULL DEFAULT 1,
    task_token        bytea NOT NULL,
    heartbeat_s       int NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    progress          jsonb,
    result            jsonb,
    error             text NOT NULL DEFAULT '',
    error_type        text NOT NULL DEFAULT '',
    error_permanent   boolean NOT NULL DEFAULT false,  -- the host says retrying will not help
    -- the result reached Temporal (or the activity was found gone): a second report is refused
    settled           boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    heartbeat_at      timestamptz,
    finished_at       timestamptz,
    UNIQUE (workflow_id, run_id, activity_id)
);
CREATE INDEX host_commands_open_idx ON host_commands (machine_id, created_at) WHERE status IN ('pending', 'running');
CREATE INDEX host_commands_unsettled_idx ON host_commands (finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled') AND NOT settled;
CREATE INDEX host_commands_workflow_idx ON host_commands (workflow_id, created_at DESC);

ALTER TABLE machines
    -- a new agent key issued by a rotate_agent_key command, valid beside the
    -- current one until the agent confirms it with a call made with it
    ADD COLUMN agent_key_pending_hash bytea,
    -- bootstrap tokens expire (BOOTSTRAP_TOKEN_TTL)
    ADD COLUMN agent_token_expires_at timestamptz,
    -- the lease whose end-of-lease steps are not all confirmed by the host
    -- yet: the machine cannot be leased again until they are (or until an
    -- admin marks it reinstalled)
    ADD COLUMN cleanup_allocation_id uuid REFERENCES allocations (id) ON DELETE SET NULL,
    ADD COLUMN cleanup_since timestamptz;
CREATE UNIQUE INDEX machines_agent_key_pending_hash_key ON machines (agent_key_pending_hash);

-- Maintenance opened by the platform for a lease cleanup (not by an admin).
ALTER TABLE maintenance_records ADD COLUMN kind text NOT NULL DEFAULT 'manual' CHECK (kind IN ('manual', 'lease_cleanup'));

-- The tenant's SSH keys land on its leased machines: every change of the
-- keys that apply (a key added or removed, a user disabled or enabled)
-- bumps the tenant's version; a lease records the version its machine's
-- authorized_keys holds, so a lagging machine is found and synced again.
ALTER TABLE tenants ADD COLUMN ssh_keys_version bigint NOT NULL DEFAULT 0;
ALTER TABLE allocations ADD COLUMN ssh_keys_version bigint NOT NULL DEFAULT -1;
CREATE FUNCTION bump_ssh_keys_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ssh_keys' THEN
        UPDATE tenants SET ssh_keys_version = ssh_keys_version + 1
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        UPDATE tenants SET ssh_keys_version = ssh_keys_version + 1 WHERE id IN (NEW.tenant_id, OLD.tenant_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ssh_keys_bump AFTER INSERT OR DELETE ON ssh_keys FOR EACH ROW EXECUTE FUNCTION bump_ssh_keys_version();
CREATE TRIGGER users_ssh_keys_bump AFTER UPDATE OF status, tenant_id ON users FOR EACH ROW EXECUTE FUNCTION bump_ssh_keys_version();

-- End-of-lease progress: one row per step, confirmed when the host confirmed it.
ALTER TABLE allocations ADD COLUMN cleanup_status text NOT NULL DEFAULT 'none'
    CHECK (cleanup_status IN ('none', 'running', 'done', 'reinstalled'));

-- A lease whose cleanup outlasts the rule's duration raises an alert.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_type_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_type_check
    CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline', 'lease_cleanup'));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_check CHECK ((type IN ('offline', 'lease_cleanup')) = (threshold IS NULL));
ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_type_check
    CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline', 'lease_cleanup'));
INSERT INTO alert_rules (type, level, threshold, clear_margin, duration_s) VALUES ('lease_cleanup', 'warning', NULL, 0, 1800);

-- A change of a machine's agent keys tells every api replica to forget the
-- keys it cached, so a rotated-away key stops working everywhere at once.
CREATE FUNCTION notify_agent_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agent_keys', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER machines_agent_keys_notify AFTER UPDATE OF agent_key_hash, agent_key_pending_hash, deleted_at ON machines
    FOR EACH ROW WHEN (OLD.agent_key_hash IS DISTINCT FROM NEW.agent_key_hash
                    OR OLD.agent_key_pending_hash IS DISTINCT FROM NEW.agent_key_pending_hash
                    OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION notify_agent_keys();
