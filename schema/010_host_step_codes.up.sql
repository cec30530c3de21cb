-- The end-of-lease host steps of an allocation carry a code and parameters
-- (lease.step.<x>), which the console translates, and an English detail.
-- Steps recorded before then held "中文 / English" prose: the two fixed texts
-- get their code, every other keeps only its English half (the console
-- shows a step without a code by its detail).
UPDATE allocations a SET host_steps = (
    SELECT jsonb_agg(
        CASE
            WHEN s->>'detail' = '等待主机代理确认 / waiting for the host agent to confirm'
                THEN s || '{"code": "lease.step.pending", "detail": "waiting for the host agent to confirm"}'
            WHEN s->>'detail' = '机器已重装 / the machine was reinstalled'
                THEN s || '{"code": "lease.step.reinstalled", "detail": "the machine was reinstalled"}'
            WHEN s->>'detail' ~ ' / (stopped|the tenant''s keys removed|new password set|the agent switched|the host failed) '
                THEN s || jsonb_build_object('detail',
                    substring(s->>'detail' FROM ' / ((stopped|the tenant''s keys removed|new password set|the agent switched|the host failed) .*)$'))
            ELSE s
        END ORDER BY ord)
    FROM jsonb_array_elements(a.host_steps) WITH ORDINALITY AS e(s, ord))
WHERE jsonb_typeof(a.host_steps) = 'array' AND jsonb_array_length(a.host_steps) > 0 AND a.host_steps::text LIKE '% / %';

-- The end reason of a reclaim given none: the console translates it.
UPDATE allocations SET end_reason = 'reclaimed early' WHERE end_reason = '提前回收 / early reclaim';
