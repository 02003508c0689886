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
-- The password reaches the server in a SELECT (\gset: nothing printed) and is used inside a DO
-- block: with log_statement=ddl (the RDS parameter group) a CREATE/ALTER ROLE statement is
-- logged with its text, password included, and that log goes to CloudWatch; a SELECT and a DO
-- are not, and the DO's text holds no password. A failed CREATE/ALTER would show its text (the
-- password) as the error's context, in this task's output and in the server's log: the error is
-- raised again without it.
SELECT set_config('loyalty.role_name', :'role', false) AS role_set,
       set_config('loyalty.role_password', :'pw', false) IS NOT NULL AS password_set \gset
DO $$
DECLARE
    name text := current_setting('loyalty.role_name');
    secret text := current_setting('loyalty.role_password');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', name, secret);
    ELSE
        EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', name, secret);
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'setting the login and password of role %: %', name, SQLERRM
        USING ERRCODE = SQLSTATE;
END
$$;
RESET loyalty.role_password;
-- Needed on managed servers (the admin is not a superuser) to create a database it owns.
SELECT format('GRANT %I TO current_user', :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SELECT format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO %I', :'role', :'role') \gexec
SQL
    echo "create-databases: database $svc ready"
done
