#!/bin/sh
# The temporal-schema job (temporalio/admin-tools): creates Temporal's two databases and brings their
# schemas up to this server version, the way Temporal's documentation sets up a production server
# (temporal-sql-tool), instead of the auto-setup image (development only). Safe to run on every
# `docker compose up`: an existing database is kept, and update-schema applies only what is missing.
# Upgrading Temporal: pin the new temporalio/server and temporalio/admin-tools versions together.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"; }

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  echo "temporal-schema: $db"
  tool --db "$db" create
  tool --db "$db" setup-schema -v 0.0
  tool --db "$db" update-schema -d "$SCHEMA/$dir/versioned"
done
echo 'temporal-schema: done'
