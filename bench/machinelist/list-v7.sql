-- list-machines before migration 008 (store/machines.go at c8da7b7): the
-- allocation status is a CASE over a join of every machine's live allocation.
-- The three statements of one request: the session, the count, the page.
SELECT s.id, u.id, u.username, u.name, u.role, coalesce(u.tenant_id::text, ''), u.status, coalesce(t.status, '')
	FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tenants t ON t.id = u.tenant_id
	WHERE s.id = :session AND s.revoked_at IS NULL AND s.expires_at > now();
SELECT count(*) FROM (SELECT m.*, a.tenant_id AS alloc_tenant, a.end_at AS alloc_end, a.status AS alloc_status,
		CASE WHEN a.id IS NULL THEN 'unallocated' WHEN a.status = 'active' AND a.end_at < now() + :window::interval THEN 'expiring' ELSE 'allocated' END AS allocation_status
		FROM machines m LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')) x
	WHERE deleted_at IS NULL AND region = :region AND status = :status AND allocation_status = :alloc;
SELECT m.id, m.name, m.region, m.room, m.gpu_model, m.gpu_memory_gb, m.gpu_count, m.cuda_version,
	m.driver_version, m.cpu_model, m.cpu_cores, m.memory_gb, m.disk_gb, m.internal_ip, m.ssh_host, m.ssh_port,
	m.container_domain_prefix, m.ssh_user, m.ssh_password_enc, m.status, m.agent_token_hash IS NOT NULL, m.created_at, m.updated_at,
	a.id, a.tenant_id, t.company, a.status, a.start_at, a.end_at, l.gpu_util_avg,
	CASE WHEN a.id IS NULL THEN 'unallocated'
	     WHEN a.status = 'active' AND a.end_at < now() + :window::interval THEN 'expiring'
	     ELSE 'allocated' END AS allocation_status, m.cleanup_allocation_id, m.cleanup_since
	FROM machines m
	LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')
	LEFT JOIN tenants t ON t.id = a.tenant_id
	LEFT JOIN machine_latest l ON l.machine_id = m.id
	JOIN (SELECT id, row_number() OVER () AS ord FROM (SELECT id FROM (SELECT m.*, a.tenant_id AS alloc_tenant, a.end_at AS alloc_end, a.status AS alloc_status,
		CASE WHEN a.id IS NULL THEN 'unallocated' WHEN a.status = 'active' AND a.end_at < now() + :window::interval THEN 'expiring' ELSE 'allocated' END AS allocation_status
		FROM machines m LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active')) x
		WHERE deleted_at IS NULL AND region = :region AND status = :status AND allocation_status = :alloc
		ORDER BY name ASC NULLS LAST, created_at DESC, id LIMIT 20 OFFSET 40) page) pg ON pg.id = m.id ORDER BY pg.ord;
