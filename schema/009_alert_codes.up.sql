-- Alerts keep their text as a code and its figures (params), which the
-- console translates (web/src/locales/codes/alerting.ts) and the mails
-- render from internal/alerting/eval's texts; message keeps the English
-- text for mail, webhooks and API clients.
ALTER TABLE alerts ADD COLUMN code text NOT NULL DEFAULT '',
                   ADD COLUMN params jsonb NOT NULL DEFAULT '{}';

-- Existing alerts: the English half of their "中文 / English" text, and the
-- code and figures read back from it (a text that does not parse keeps an
-- empty code: the console shows its message).
UPDATE alerts SET message = regexp_replace(message, '^.* / ', '') WHERE message LIKE '% / %';

UPDATE alerts SET code = 'alerting.gpuTemperature',
    params = jsonb_build_object('gpu', gpu_index, 'value', m[1], 'threshold', threshold, 'seconds', duration_s)
FROM (SELECT id AS mid, regexp_match(message, '^GPU [0-9]+ temperature ([0-9.]+) °C') AS m FROM alerts WHERE type = 'gpu_temperature') x
WHERE alerts.id = x.mid AND x.m IS NOT NULL;

UPDATE alerts SET code = CASE WHEN m[1] IS NULL THEN 'alerting.diskUsage' ELSE 'alerting.diskUsageOn' END,
    params = jsonb_strip_nulls(jsonb_build_object('mount', m[1], 'value', m[2], 'threshold', threshold, 'seconds', duration_s))
FROM (SELECT id AS mid, regexp_match(message, '^disk usage(?: \((.*)\))? ([0-9.]+)%') AS m FROM alerts WHERE type = 'disk_usage') x
WHERE alerts.id = x.mid AND x.m IS NOT NULL;

UPDATE alerts SET code = 'alerting.memoryUsage',
    params = jsonb_build_object('value', m[1], 'threshold', threshold, 'seconds', duration_s)
FROM (SELECT id AS mid, regexp_match(message, '^memory usage ([0-9.]+)%') AS m FROM alerts WHERE type = 'memory_usage') x
WHERE alerts.id = x.mid AND x.m IS NOT NULL;

UPDATE alerts SET code = 'alerting.offline', params = jsonb_build_object('seconds', duration_s) WHERE type = 'offline';

UPDATE alerts SET code = 'alerting.leaseCleanupStuck',
    params = jsonb_build_object('minutes', m[1]::int, 'steps', m[2])
FROM (SELECT id AS mid, regexp_match(message, 'not done after ([0-9]+) minutes; waiting for the host to confirm: (.*)$') AS m
      FROM alerts WHERE type = 'lease_cleanup') x
WHERE alerts.id = x.mid AND x.m IS NOT NULL;
