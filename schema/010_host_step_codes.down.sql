-- Older code reads a step's detail and ignores its code: the English detail
-- stays readable; the fixed texts get their Chinese half back.
UPDATE allocations a SET host_steps = (
    SELECT jsonb_agg(
        CASE s->>'code'
            WHEN 'lease.step.pending' THEN (s - 'code' - 'params') || '{"detail": "等待主机代理确认 / waiting for the host agent to confirm"}'
            WHEN 'lease.step.reinstalled' THEN (s - 'code' - 'params') || '{"detail": "机器已重装 / the machine was reinstalled"}'
            ELSE s
        END ORDER BY ord)
    FROM jsonb_array_elements(a.host_steps) WITH ORDINALITY AS e(s, ord))
WHERE jsonb_typeof(a.host_steps) = 'array' AND jsonb_array_length(a.host_steps) > 0 AND a.host_steps::text LIKE '%lease.step.%';

UPDATE allocations SET end_reason = '提前回收 / early reclaim' WHERE end_reason = 'reclaimed early';
