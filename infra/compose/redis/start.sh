#!/bin/sh
# Starts Redis with the password from the compose secret (kept off the command line).
# REDIS_PRIMARY_HOST set: this instance replicates that primary.
set -eu
password=$(cat /run/secrets/redis_password)
umask 077
{
    printf 'requirepass "%s"\n' "$password"
    printf 'masterauth "%s"\n' "$password"
    if [ -n "${REDIS_PRIMARY_HOST:-}" ]; then
        printf 'replicaof %s 6379\n' "$REDIS_PRIMARY_HOST"
        printf 'replica-read-only yes\n'
    fi
} > /tmp/redis.conf
chown redis:redis /tmp/redis.conf
exec docker-entrypoint.sh redis-server /tmp/redis.conf \
    --appendonly yes --appendfsync everysec --maxmemory "${REDIS_MAXMEMORY:-256mb}" \
    --maxmemory-policy noeviction --protected-mode no
