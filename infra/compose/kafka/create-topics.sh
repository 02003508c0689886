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
client=()
if [[ -z "${KAFKA_CLIENT_CONFIG:-}" && "${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}" != "PLAINTEXT" ]]; then
    KAFKA_CLIENT_CONFIG=$(mktemp)
    printf 'security.protocol=%s\n' "$KAFKA_SECURITY_PROTOCOL" > "$KAFKA_CLIENT_CONFIG"
fi
if [[ -n "${KAFKA_CLIENT_CONFIG:-}" ]]; then
    client=(--command-config "$KAFKA_CLIENT_CONFIG")
fi

# The cluster must have all its brokers before topics with replication factor 3 can be created.
for attempt in $(seq 1 60); do
    brokers=$("$BIN/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" "${client[@]}" 2>/dev/null \
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
    "$BIN/kafka-topics.sh" --bootstrap-server "$bootstrap" "${client[@]}" --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" --replication-factor "$replication" \
        --config min.insync.replicas="$min_isr" --config retention.ms="$retention_ms"
    # Also enforce the settings on a topic that already existed.
    "$BIN/kafka-configs.sh" --bootstrap-server "$bootstrap" "${client[@]}" --alter \
        --entity-type topics --entity-name "$topic" \
        --add-config min.insync.replicas="$min_isr",retention.ms="$retention_ms"
}

for topic in "${TOPICS[@]}"; do
    create "$topic" 604800000        # 7 days
    create "$topic.dlq" 2419200000   # 28 days: time to inspect and replay
done

"$BIN/kafka-topics.sh" --bootstrap-server "$bootstrap" "${client[@]}" --describe \
    | grep -E '^Topic:' || true
echo "create-topics: ${#TOPICS[@]} topics and their dead-letter topics are ready"
