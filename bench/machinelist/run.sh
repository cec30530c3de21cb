#!/usr/bin/env bash
# Machine-list load test: 10,000 machines, the admin's list-machines page
# (region, status and allocation-status filters, sort by name, page 3) through
# the api (bench/apiload) and the same SQL statements straight to Postgres
# (pgbench), one after the other on the same stack. Run it inside a throwaway
# stack from the repository root:
#
#	make build && bin/remotegpu testenv -- bash bench/machinelist/run.sh
#
# Variables: CLIENTS (50), DURATION (seconds, 20), PGBENCH
# (/usr/lib/postgresql/15/bin/pgbench), SEEDMACHINES / APILOAD (prebuilt
# binaries of bench/seedmachines and bench/apiload; default go run).
set -euo pipefail
: "${DATABASE_URL:?run inside bin/remotegpu testenv}" "${REMOTEGPU_URL:?run inside bin/remotegpu testenv}"
cd "$(dirname "$0")/../.."
dir=bench/machinelist
clients=${CLIENTS:-50}
duration=${DURATION:-20}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
seed=${SEEDMACHINES:-go run ./bench/seedmachines}
apiload=${APILOAD:-go run ./bench/apiload}
window=$(( ${ALLOCATION_EXPIRING_DAYS:-7} * 24 ))' hours'
region=北京 status=online alloc=allocated

$seed -n 10000
psql -qX "$DATABASE_URL" -c 'VACUUM ANALYZE machines' -c 'VACUUM ANALYZE allocations'
psql -AtX "$DATABASE_URL" -c "SELECT 'machines ' || count(*) || ', live leases ' || count(a.id) || ', expiring ' ||
	count(a.id) FILTER (WHERE a.status = 'active' AND a.end_at < now() + interval '$window') || ', in the page''s filter ' ||
	count(*) FILTER (WHERE m.region = '$region' AND m.status = '$status' AND a.id IS NOT NULL)
	FROM machines m LEFT JOIN allocations a ON a.machine_id = m.id AND a.status IN ('pending', 'active') WHERE m.deleted_at IS NULL"

# a session for the principal lookup every request makes
curl -sf -o /dev/null -XPOST "$REMOTEGPU_URL/api/auth/login" -H 'Content-Type: application/json' -d '{"username":"admin","password":"Admin@12345"}'
session=$(psql -AtX "$DATABASE_URL" -c "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'admin' AND s.revoked_at IS NULL ORDER BY s.created_at DESC LIMIT 1")

scripts=("$dir/list-v7.sql")
if [ "$(psql -AtX "$DATABASE_URL" -c "SELECT count(*) FROM information_schema.columns WHERE table_name = 'machines' AND column_name = 'live_until'")" = 1 ]; then
	scripts+=("$dir/list-v8.sql")
fi

for f in "${scripts[@]}"; do
	# the pgbench script as psql: :name becomes a quoted literal, each statement an EXPLAIN
	sql=$(sed -e "s/:\(window\|region\|status\|alloc\|session\)\b/:'\1'/g" -e 's/^SELECT/EXPLAIN (ANALYZE, BUFFERS) SELECT/' "$f")
	vars=(-v window="$window" -v region=$region -v status=$status -v alloc=$alloc -v session="$session")
	echo "== EXPLAIN ANALYZE $f (after 2 warm-up runs)"
	for _ in 1 2; do psql -qX "$DATABASE_URL" "${vars[@]}" <<<"$sql" >/dev/null; done
	psql -qX "$DATABASE_URL" "${vars[@]}" <<<"$sql"
	# the machine is shared and noisy: the fastest and the median of 50 runs per statement
	n=$(grep -c '^EXPLAIN' <<<"$sql")
	for _ in $(seq 50); do echo "$sql"; done | psql -qX "$DATABASE_URL" "${vars[@]}" |
		awk -v n="$n" '/Planning Time/ {print k % n + 1, "planning", $3} /Execution Time/ {print k % n + 1, "execution", $3; k++}' |
		sort -k1,1n -k2,2r -k3,3g |
		awk -v f="$f" '{key = "statement " $1 " of " f ": " $2; if (!(key in v)) order[++m] = key; v[key] = v[key] " " $3}
			END {for (i = 1; i <= m; i++) {c = split(v[order[i]], a, " "); printf "%s min %.3f median %.3f ms\n", order[i], a[1], a[int((c + 1) / 2)]}}'
done

for f in "${scripts[@]}"; do
	echo "== pgbench $f: -M prepared -c $clients -j 2 -T $duration"
	"$pgbench" -n -M prepared -c "$clients" -j 2 -T "$duration" -f "$f" \
		-D window="$window" -D region=$region -D status=$status -D alloc=$alloc -D session="$session" "$DATABASE_URL" |
		grep -E 'latency|tps|failed|processed'
done

# healthz first: what the api and this machine answer with no database work at all
echo "== apiload healthz,list-machines -c $clients -d ${duration}s"
$apiload -url "$REMOTEGPU_URL" -only healthz,list-machines -c "$clients" -d "${duration}s"
