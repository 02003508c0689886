#!/bin/bash
# Creates every platform topic and its dead-letter topic; idempotent, safe to rerun.
#   KAFKA_BOOTSTRAP_SERVERS   brokers to talk to (required)
#   KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default) or SSL (MSK's TLS listener)
#   KAFKA_CLIENT_CONFIG       optional client properties file (overrides the protocol above)
#   TOPIC_PARTITIONS          partitions per topic (default 6)
#   TOPIC_REPLICATION_FACTOR  default 3;  TOPIC_MIN_INSYNC_REPLICAS default 2
set -euo pipefail

TOPICS=(players user-status notifications reward-events reward-confirmed redeem-events redeem-confirmed)
BIN=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}
partitions=${TOPIC_PARTITIONS:-6}
replication=${TOPIC_REPLICATION_FACTOR:-3}
min_isr=${TOPIC_MIN_INSYNC_REPLICAS:-2}
# The client properties: a file given, or the protocol alone, handed to each tool on a pipe
# (no temporary file: the task's root file system is read-only and its /tmp root-owned).
protocol=${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}
kafka() {
    local tool=$1
    shift
    if [[ -n "${KAFKA_CLIENT_CONFIG:-}" ]]; then
        "$BIN/$tool" --bootstrap-server "$bootstrap" --command-config "$KAFKA_CLIENT_CONFIG" "$@"
    elif [[ "$protocol" != "PLAINTEXT" ]]; then
        "$BIN/$tool" --bootstrap-server "$bootstrap" \
            --command-config <(printf 'security.protocol=%s\n' "$protocol") "$@"
    else
        "$BIN/$tool" --bootstrap-server "$bootstrap" "$@"
    fi
}

# The cluster must have all its brokers before topics with replication factor 3 can be created.
for attempt in $(seq 1 60); do
    brokers=$(kafka kafka-broker-api-versions.sh 2>/dev/null \
        | grep -c '^[^ ].*(id: [0-9]* rack' || true)
    if (( brokers >= replication )); then
        break
    fi
    echo "create-topics: $brokers of $replication brokers up (attempt $attempt)"
    sleep 5
done
if (( brokers < replication )); then
    echo "create-topics: only $brokers brokers reachable, need $replication" >&2
    exit 1
fi

create() {
    local topic=$1 retention_ms=$2
    kafka kafka-topics.sh --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" --replication-factor "$replication" \
        --config min.insync.replicas="$min_isr" --config retention.ms="$retention_ms"
    # Also enforce the settings on a topic that already existed.
    kafka kafka-configs.sh --alter \
        --entity-type topics --entity-name "$topic" \
        --add-config min.insync.replicas="$min_isr",retention.ms="$retention_ms"
}

for topic in "${TOPICS[@]}"; do
    create "$topic" 604800000        # 7 days
    create "$topic.dlq" 2419200000   # 28 days: time to inspect and replay
done

kafka kafka-topics.sh --describe \
    | grep -E '^Topic:' || true
echo "create-topics: ${#TOPICS[@]} topics and their dead-letter topics are ready"
