#!/usr/bin/env bash
# One database per service, each owned by its own role (no service reads another's tables, and
# none connects as the superuser). Run by the postgres image from /docker-entrypoint-initdb.d on the
# first start only, i.e. when its data volume is empty (`docker compose down -v` to run it again);
# elsewhere run it once with psql's environment (PGHOST, PGUSER = a role that may create roles and
# databases) and the four passwords set:
#   KAM_ACCOUNT_DB_PASSWORD=… KAM_OPPORTUNITY_DB_PASSWORD=… KAM_FORECAST_DB_PASSWORD=… \
#   KAM_TEAM_DB_PASSWORD=… bash deploy/postgres/init-databases.sh
# Role kam_<service> may log in and owns database kam_<service> (and so its public schema: PostgreSQL
# 15+); PUBLIC may not connect to any of the four, so one service's role cannot even open another's.
set -euo pipefail

for svc in account opportunity forecast team; do
  var="KAM_$(echo "$svc" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="${!var:?set $var (see .env.example)}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname postgres \
       -v role="kam_$svc" -v db="kam_$svc" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
done
