DROP TRIGGER IF EXISTS allocations_sync_machine_change ON allocations;
DROP TRIGGER IF EXISTS allocations_sync_machine_write ON allocations;
DROP FUNCTION IF EXISTS allocations_sync_machine();
DROP FUNCTION IF EXISTS machine_live_allocation_refresh(uuid);
DROP INDEX IF EXISTS machines_created_idx;
DROP INDEX IF EXISTS machines_name_idx;
DROP INDEX IF EXISTS machines_live_until_idx;
DROP INDEX IF EXISTS machines_list_name_idx;
DROP INDEX IF EXISTS machines_list_idx;
ALTER TABLE machines DROP COLUMN IF EXISTS live_until, DROP COLUMN IF EXISTS live_end_at,
    DROP COLUMN IF EXISTS live_allocation_status, DROP COLUMN IF EXISTS live_allocation_id;
