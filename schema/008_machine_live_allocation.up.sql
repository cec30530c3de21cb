-- The machine's live (pending or active) allocation, kept on the machine row
-- so the machine list filters, sorts and counts by allocation status through
-- an index instead of joining every machine's allocation and computing a CASE
-- per row. A trigger on allocations keeps the columns right whatever writes
-- the allocations; nothing else writes them.
--
-- live_until is when the machine stops counting as "allocated" rather than
-- "expiring": the end of an active lease, infinity for a pending lease (or an
-- active one without an end), NULL when there is no live lease. With the
-- notice window w (ALLOCATION_EXPIRING_DAYS) the allocation status is
--   unallocated  live_until IS NULL
--   expiring     live_until <  now() + w
--   allocated    live_until >= now() + w
-- which is what store/machines.go queries (range conditions on the indexes below).
ALTER TABLE machines
    ADD COLUMN live_allocation_id     uuid,
    ADD COLUMN live_allocation_status text CHECK (live_allocation_status IN ('pending', 'active')),
    ADD COLUMN live_end_at            timestamptz,
    ADD COLUMN live_until             timestamptz GENERATED ALWAYS AS (
        CASE live_allocation_status WHEN 'active' THEN coalesce(live_end_at, 'infinity') WHEN 'pending' THEN 'infinity' END) STORED;

-- machine_live_allocation_refresh copies the machine's live allocation (or
-- none) onto the machine row. It locks the row first, so the allocation it
-- reads is the latest committed one (READ COMMITTED takes a new snapshot per
-- statement), and writes only when something changed.
CREATE FUNCTION machine_live_allocation_refresh(mid uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cur_id uuid; cur_status text; cur_end timestamptz;
    live_id uuid; live_status text; live_end timestamptz;
BEGIN
    SELECT live_allocation_id, live_allocation_status, live_end_at INTO cur_id, cur_status, cur_end
        FROM machines WHERE id = mid FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT id, status, end_at INTO live_id, live_status, live_end
        FROM allocations WHERE machine_id = mid AND status IN ('pending', 'active');
    IF (cur_id, cur_status, cur_end) IS DISTINCT FROM (live_id, live_status, live_end) THEN
        UPDATE machines SET live_allocation_id = live_id, live_allocation_status = live_status, live_end_at = live_end WHERE id = mid;
    END IF;
END $$;

CREATE FUNCTION allocations_sync_machine() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM machine_live_allocation_refresh(OLD.machine_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.machine_id <> OLD.machine_id) THEN
        PERFORM machine_live_allocation_refresh(NEW.machine_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER allocations_sync_machine_write AFTER INSERT OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_sync_machine();
CREATE TRIGGER allocations_sync_machine_change AFTER UPDATE OF status, end_at, machine_id ON allocations
    FOR EACH ROW WHEN ((OLD.status, OLD.end_at, OLD.machine_id) IS DISTINCT FROM (NEW.status, NEW.end_at, NEW.machine_id))
    EXECUTE FUNCTION allocations_sync_machine();

-- the machines that have a live lease now
UPDATE machines m SET live_allocation_id = a.id, live_allocation_status = a.status, live_end_at = a.end_at
    FROM allocations a WHERE a.machine_id = m.id AND a.status IN ('pending', 'active');

-- The list's filters (region, status, allocation status) and their count;
-- the same filters sorted by name; the allocation status alone (and the
-- dashboard's counts); the unfiltered sorts by name and newest first.
CREATE INDEX machines_list_idx ON machines (region, status, live_until) WHERE deleted_at IS NULL;
CREATE INDEX machines_list_name_idx ON machines (region, status, name) WHERE deleted_at IS NULL;
CREATE INDEX machines_live_until_idx ON machines (live_until) WHERE deleted_at IS NULL;
CREATE INDEX machines_name_idx ON machines (name) WHERE deleted_at IS NULL;
CREATE INDEX machines_created_idx ON machines (created_at DESC, id) WHERE deleted_at IS NULL;
