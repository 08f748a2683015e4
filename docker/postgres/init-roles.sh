#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d), as the
# superuser of POSTGRES_USER (bigbrotr), in the database POSTGRES_DB (bigbrotr). Makes the roles the
# other services log in as; the passwords come from .env through the container's environment.
#   bigbrotr_reader  NOLOGIN, SELECT on every table (sql/0013 grants it; made here so that it exists
#                    before the migrations, which reuse it)
#   bigbrotr_api     the API's and the DVM's login (API_DATABASE_URL): a bigbrotr_reader whose every
#                    transaction is read-only, with a statement timeout (README, "The reader role")
#   temporal         Temporal's own databases (temporal, temporal_visibility: made by the
#                    temporal-schema job with temporal-sql-tool, hence CREATEDB)
# Changing a password later: ALTER ROLE ... PASSWORD in psql, then the same value in .env.
set -Eeo pipefail
: "${API_DB_PASSWORD:?set API_DB_PASSWORD in .env}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD in .env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v api_password="$API_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'EOSQL'
CREATE ROLE bigbrotr_reader NOLOGIN;
GRANT USAGE ON SCHEMA public TO bigbrotr_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE bigbrotr IN SCHEMA public GRANT SELECT ON TABLES TO bigbrotr_reader;

CREATE ROLE bigbrotr_api LOGIN PASSWORD :'api_password' IN ROLE bigbrotr_reader;
ALTER ROLE bigbrotr_api SET default_transaction_read_only = on;
ALTER ROLE bigbrotr_api SET statement_timeout = '10s';

CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
EOSQL
