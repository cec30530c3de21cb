DROP TRIGGER IF EXISTS allocations_notify ON allocations;
DROP FUNCTION IF EXISTS notify_allocation_change();
DROP TABLE IF EXISTS alert_states, alerts, alert_rules;
