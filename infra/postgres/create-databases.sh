#!/bin/sh
# Creates one database and one owning login role per SQL service (auth, rewards, redeem).
# Idempotent: existing roles get their password reset, existing databases are left alone.
# Connection: libpq environment (PGHOST, PGUSER, PGPASSWORD, ...) or the local socket of the
# postgres image's init phase. Passwords: <SVC>_DB_PASSWORD or <SVC>_DB_PASSWORD_FILE.
set -eu

password_for() {
    svc_upper=$(echo "$1" | tr '[:lower:]' '[:upper:]')
    eval "value=\${${svc_upper}_DB_PASSWORD:-}"
    eval "file=\${${svc_upper}_DB_PASSWORD_FILE:-}"
    if [ -z "$value" ] && [ -n "$file" ]; then
        value=$(cat "$file")
    fi
    if [ -z "$value" ]; then
        echo "create-databases: no password for $1 (set ${svc_upper}_DB_PASSWORD or ${svc_upper}_DB_PASSWORD_FILE)" >&2
        exit 1
    fi
    printf '%s' "$value"
}

for svc in ${LOYALTY_DATABASES:-auth rewards redeem}; do
    pw=$(password_for "$svc")
    psql -v ON_ERROR_STOP=1 --no-psqlrc -d "${PGDATABASE:-postgres}" \
        -v role="$svc" -v pw="$pw" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw') \gexec
-- Needed on managed servers (the admin is not a superuser) to create a database it owns.
SELECT format('GRANT %I TO current_user', :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SELECT format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO %I', :'role', :'role') \gexec
SQL
    echo "create-databases: database $svc ready"
done
