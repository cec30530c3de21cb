-- list-machines with migration 008 (store/machines.go): the allocation
-- status is a range condition on machines.live_until (allocated: live_until
-- >= now() + window), served by machines_list_idx.
-- The three statements of one request: the session, the count, the page.
SELECT s.id, u.id, u.username, u.name, u.role, coalesce(u.tenant_id::text, ''), u.status, coalesce(t.status, '')
	FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tenants t ON t.id = u.tenant_id
	WHERE s.id = :session AND s.revoked_at IS NULL AND s.expires_at > now();
SELECT count(*) FROM machines m
	WHERE m.deleted_at IS NULL AND m.region = :region AND m.status = :status AND m.live_until >= now() + :window::interval;
SELECT m.id, m.name, m.region, m.room, m.gpu_model, m.gpu_memory_gb, m.gpu_count, m.cuda_version,
	m.driver_version, m.cpu_model, m.cpu_cores, m.memory_gb, m.disk_gb, m.internal_ip, m.ssh_host, m.ssh_port,
	m.container_domain_prefix, m.ssh_user, m.ssh_password_enc, m.status, m.agent_token_hash IS NOT NULL, m.created_at, m.updated_at,
	a.id, a.tenant_id, t.company, a.status, a.start_at, a.end_at, l.gpu_util_avg,
	CASE WHEN m.live_until IS NULL THEN 'unallocated'
	WHEN m.live_until < now() + :window::interval THEN 'expiring' ELSE 'allocated' END AS allocation_status, m.cleanup_allocation_id, m.cleanup_since
	FROM machines m
	LEFT JOIN allocations a ON a.id = m.live_allocation_id
	LEFT JOIN tenants t ON t.id = a.tenant_id
	LEFT JOIN machine_latest l ON l.machine_id = m.id
	JOIN (SELECT id, row_number() OVER () AS ord FROM (SELECT m.id FROM machines m
		WHERE m.deleted_at IS NULL AND m.region = :region AND m.status = :status AND m.live_until >= now() + :window::interval
		ORDER BY m.name ASC NULLS LAST, m.created_at DESC, m.id LIMIT 20 OFFSET 40) page) pg ON pg.id = m.id ORDER BY pg.ord;
