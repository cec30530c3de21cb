DROP TABLE IF EXISTS allocations, maintenance_records, machines;
