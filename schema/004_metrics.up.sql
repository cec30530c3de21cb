-- Monitoring: the agent's credentials and inventory on the machine, raw
-- samples in daily partitions, 1-minute and 1-hour roll-ups, the latest
-- figures per machine, and the roll-up bookkeeping.
--
-- Partitions are created by the code (store/metrics_partitions.go): ahead of
-- time by the hourly maintenance schedule and on demand by the ingest path;
-- they are named <parent>_pYYYYMMDD (daily) or <parent>_pYYYYMM (monthly,
-- the 1-hour tables), with UTC bounds, and expire by DROP.

ALTER TABLE machines
    ADD COLUMN agent_key_hash      bytea,        -- SHA-256 of the agent's own long-lived token (agent_token_hash is the one-use bootstrap)
    ADD COLUMN agent_registered_at timestamptz,
    ADD COLUMN inventory           jsonb,        -- agentproto.Inventory as last reported
    ADD COLUMN inventory_at        timestamptz,
    ADD COLUMN gpu_source          text CHECK (gpu_source IN ('nvml', 'simulated')),
    ADD COLUMN last_seen_at        timestamptz;  -- when the api last stored a sample of the machine (server clock)
CREATE UNIQUE INDEX machines_agent_key_hash_key ON machines (agent_key_hash);

-- Raw samples: one row per GPU or host per sampling round. No foreign key
-- (checked per row on COPY); machines are soft-deleted anyway.
CREATE TABLE gpu_samples (
    machine_id    uuid NOT NULL,
    at            timestamptz NOT NULL,
    gpu_index     smallint NOT NULL,
    utilization   real NOT NULL,
    mem_used_mib  int NOT NULL,
    mem_total_mib int NOT NULL,
    temp_c        real NOT NULL,
    power_w       real NOT NULL,
    power_limit_w real NOT NULL,
    fan_pct       real,
    ecc_errors    bigint
) PARTITION BY RANGE (at);
CREATE INDEX gpu_samples_machine_at_idx ON gpu_samples (machine_id, at);
CREATE INDEX gpu_samples_at_brin ON gpu_samples USING brin (at);

CREATE TABLE host_samples (
    machine_id     uuid NOT NULL,
    at             timestamptz NOT NULL,
    cpu_pct        real NOT NULL,
    mem_used_mib   bigint NOT NULL,
    mem_total_mib  bigint NOT NULL,
    disk_used_gib  real NOT NULL,   -- all disks
    disk_total_gib real NOT NULL,
    disk_pct       real NOT NULL,   -- the fullest disk
    disk_read_bps  real NOT NULL,
    disk_write_bps real NOT NULL,
    net_rx_bps     real NOT NULL,
    net_tx_bps     real NOT NULL,
    load1          real NOT NULL
) PARTITION BY RANGE (at);
CREATE INDEX host_samples_machine_at_idx ON host_samples (machine_id, at);
CREATE INDEX host_samples_at_brin ON host_samples USING brin (at);

-- Roll-ups keep the number of samples, so coarser averages stay exact.
CREATE TABLE gpu_samples_1m (
    machine_id    uuid NOT NULL,
    bucket        timestamptz NOT NULL,
    gpu_index     smallint NOT NULL,
    samples       int NOT NULL,
    util_avg      real NOT NULL,
    util_max      real NOT NULL,
    mem_used_avg  real NOT NULL,
    mem_used_max  int NOT NULL,
    mem_total_mib int NOT NULL,
    temp_avg      real NOT NULL,
    temp_max      real NOT NULL,
    power_avg     real NOT NULL,
    power_max     real NOT NULL,
    PRIMARY KEY (machine_id, bucket, gpu_index)
) PARTITION BY RANGE (bucket);
CREATE INDEX gpu_samples_1m_bucket_brin ON gpu_samples_1m USING brin (bucket);

CREATE TABLE gpu_samples_1h (LIKE gpu_samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE INDEX gpu_samples_1h_bucket_brin ON gpu_samples_1h USING brin (bucket);

CREATE TABLE host_samples_1m (
    machine_id     uuid NOT NULL,
    bucket         timestamptz NOT NULL,
    samples        int NOT NULL,
    cpu_avg        real NOT NULL,
    cpu_max        real NOT NULL,
    mem_pct_avg    real NOT NULL,
    mem_pct_max    real NOT NULL,
    disk_pct_avg   real NOT NULL,
    disk_pct_max   real NOT NULL,
    disk_read_avg  real NOT NULL,
    disk_read_max  real NOT NULL,
    disk_write_avg real NOT NULL,
    disk_write_max real NOT NULL,
    net_rx_avg     real NOT NULL,
    net_rx_max     real NOT NULL,
    net_tx_avg     real NOT NULL,
    net_tx_max     real NOT NULL,
    load1_avg      real NOT NULL,
    PRIMARY KEY (machine_id, bucket)
) PARTITION BY RANGE (bucket);
CREATE INDEX host_samples_1m_bucket_brin ON host_samples_1m USING brin (bucket);

CREATE TABLE host_samples_1h (LIKE host_samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE INDEX host_samples_1h_bucket_brin ON host_samples_1h USING brin (bucket);

-- Fleet-wide GPU utilisation per region (the admin home's trend). A few rows
-- per minute, so these are plain tables trimmed by DELETE.
CREATE TABLE gpu_fleet_1m (
    bucket   timestamptz NOT NULL,
    region   text NOT NULL,
    samples  bigint NOT NULL,
    util_sum double precision NOT NULL,  -- sum of utilisation over all GPU samples: avg = util_sum / samples
    util_max real NOT NULL,              -- the busiest GPU's 1-minute average
    gpus     int NOT NULL,
    PRIMARY KEY (bucket, region)
);
CREATE TABLE gpu_fleet_1h (LIKE gpu_fleet_1m INCLUDING ALL);

-- Roll-up progress per level ('1m', '1h'). Buckets before done_until are
-- computed; marked_until (>= done_until) is what a run has claimed: samples
-- stored later for earlier buckets are "late" and recorded per machine in
-- metrics_rollup_late, which the next run recomputes.
CREATE TABLE metrics_rollups (
    level        text PRIMARY KEY,
    done_until   timestamptz,
    marked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO metrics_rollups (level) VALUES ('1m'), ('1h');

CREATE TABLE metrics_rollup_late (
    level      text NOT NULL,
    machine_id uuid NOT NULL,
    from_at    timestamptz NOT NULL,
    PRIMARY KEY (level, machine_id)
);

-- The latest figures of each machine, for the real-time views: updated by
-- every ingest (never by an older backlog sample).
CREATE TABLE machine_latest (
    machine_id   uuid PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
    sample_at    timestamptz NOT NULL,   -- the agent's clock
    received_at  timestamptz NOT NULL,   -- the api's clock
    gpu_count    int NOT NULL,
    gpu_util_avg real,
    gpu_util_max real,
    gpu_mem_pct  real,
    gpu_temp_max real,
    gpu_power_w  real,
    cpu_pct      real NOT NULL,
    mem_pct      real NOT NULL,
    disk_pct     real NOT NULL,
    net_rx_bps   real NOT NULL,
    net_tx_bps   real NOT NULL,
    gpus         jsonb NOT NULL,         -- per-GPU figures, without processes
    processes    jsonb NOT NULL,         -- [{gpuIndex, pid, name, memUsedMib}]: the latest state only, never history
    host         jsonb NOT NULL          -- agentproto.HostSample
);
