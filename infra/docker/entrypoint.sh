#!/bin/sh
# Entrypoint of the loyalty image: runs one process of one service.
#   SERVICE  auth_service | rewards_service | redeem_service | notification_service
#   PROCESS  web | worker | grpc | migrate | seed | manage  (or pass the role as the first
#            argument; anything else is executed as given)
#   manage   python -m $SERVICE.manage with the arguments: `manage republish-confirmed --since
#            <time>`, or PROCESS=manage with `republish-confirmed --since <time>` as the arguments
#            (with PROCESS=manage the arguments are always the command, even `seed`)
# For every VAR_FILE variable, VAR is read from that file (compose secrets, mounted files).
set -eu

for file_var in $(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)_FILE=.*/\1/p'); do
    eval "file_path=\${${file_var}_FILE}"
    if [ ! -r "$file_path" ]; then
        echo "loyalty: ${file_var}_FILE points to an unreadable file: $file_path" >&2
        exit 64
    fi
    value=$(cat "$file_path")
    export "$file_var=$value"
    unset "${file_var}_FILE"
done

if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

if [ "$#" -eq 0 ]; then
    role="${PROCESS:-web}"
elif [ "${PROCESS:-}" = "manage" ]; then
    # The arguments are the manage command (a task's command override), even one named like a
    # role (`seed`); a leading `manage` is the role said twice.
    role=manage
    if [ "$1" = "manage" ]; then
        shift
    fi
else
    role="$1"
    shift
fi

need_service() {
    case "${SERVICE:-}" in
        auth_service | rewards_service | redeem_service | notification_service) ;;
        *)
            echo "loyalty: set SERVICE to auth_service, rewards_service, redeem_service or notification_service" >&2
            exit 64
            ;;
    esac
}

case "$role" in
    web)
        need_service
        # prometheus_client's multiprocess mode needs an empty directory when gunicorn starts.
        find "${PROMETHEUS_MULTIPROC_DIR:?}" -mindepth 1 -delete
        exec gunicorn -c python:shared.web.gunicorn_conf "${SERVICE}.app:create_app()" "$@"
        ;;
    worker)
        need_service
        exec python -m "${SERVICE}.worker" "$@"
        ;;
    grpc)
        exec python -m redeem_service.grpc_server "$@"
        ;;
    migrate)
        need_service
        exec python -m "${SERVICE}.manage" migrate "$@"
        ;;
    manage)
        need_service
        if [ "$#" -eq 0 ]; then
            echo "loyalty: manage needs a command, e.g. manage republish-confirmed --since <time>" >&2
            exit 64
        fi
        exec python -m "${SERVICE}.manage" "$@"
        ;;
    seed)
        if [ "${LOYALTY_PROFILE:-prod}" = "prod" ]; then
            echo "loyalty: the demo seed is refused with LOYALTY_PROFILE=prod" >&2
            exit 64
        fi
        exec python -m auth_service.manage seed "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
