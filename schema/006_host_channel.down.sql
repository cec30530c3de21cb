DROP TRIGGER IF EXISTS machines_agent_keys_notify ON machines;
DROP FUNCTION IF EXISTS notify_agent_keys();
DELETE FROM alerts WHERE type = 'lease_cleanup';
DELETE FROM alert_rules WHERE type = 'lease_cleanup';
ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline'));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_check CHECK ((type = 'offline') = (threshold IS NULL));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_type_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_type_check CHECK (type IN ('gpu_temperature', 'disk_usage', 'memory_usage', 'offline'));
ALTER TABLE allocations DROP COLUMN IF EXISTS cleanup_status;
DROP TRIGGER IF EXISTS users_ssh_keys_bump ON users;
DROP TRIGGER IF EXISTS ssh_keys_bump ON ssh_keys;
DROP FUNCTION IF EXISTS bump_ssh_keys_version();
ALTER TABLE allocations DROP COLUMN IF EXISTS ssh_keys_version;
ALTER TABLE tenants DROP COLUMN IF EXISTS ssh_keys_version;
ALTER TABLE maintenance_records DROP COLUMN IF EXISTS kind;
DROP INDEX IF EXISTS machines_agent_key_pending_hash_key;
ALTER TABLE machines
    DROP COLUMN IF EXISTS cleanup_since,
    DROP COLUMN IF EXISTS cleanup_allocation_id,
    DROP COLUMN IF EXISTS agent_token_expires_at,
    DROP COLUMN IF EXISTS agent_key_pending_hash;
DROP TABLE IF EXISTS host_commands;
