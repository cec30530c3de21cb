#!/bin/sh
# Creates Temporal's two databases and brings their schemas up to date.
# Safe to run again (on every `docker compose up`).
set -eu
tool() {
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p 5432 -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"
}
for db in temporal temporal_visibility; do
	tool --db "$db" create || true # fails when it exists
done
tool --db temporal setup-schema -v 0.0 || true # fails when already set up
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0 || true
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
