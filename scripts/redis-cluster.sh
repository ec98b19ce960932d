#!/usr/bin/env bash
# Starts (or stops) a throwaway three-master Redis Cluster on 127.0.0.1:7001-7003 for the
# sessionwarden-redis tests. Idempotent: `start` does nothing if the cluster is up and ok.
#
#   scripts/redis-cluster.sh start   # then: cargo test -p sessionwarden-redis
#   scripts/redis-cluster.sh stop
#
# Data and cluster config files live in $SESSIONWARDEN_REDIS_CLUSTER_DIR
# (default /tmp/sessionwarden-redis-cluster); nothing is persisted (--save "", no AOF).
set -euo pipefail

DIR="${SESSIONWARDEN_REDIS_CLUSTER_DIR:-/tmp/sessionwarden-redis-cluster}"
PORTS=(7001 7002 7003)
HOST=127.0.0.1

cluster_ok() {
    redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

wait_for() { # wait_for <seconds> <command...>
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        if ((SECONDS >= deadline)); then return 1; fi
        sleep 0.2
    done
}

start() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
        echo "redis-cluster.sh: redis-server and redis-cli are required (apt-get install redis-server)" >&2
        exit 1
    }
    if cluster_ok; then
        echo "redis cluster already running on ports ${PORTS[*]}"
        return 0
    fi
    mkdir -p "$DIR"
    for port in "${PORTS[@]}"; do
        if redis-cli -h "$HOST" -p "$port" ping >/dev/null 2>&1; then
            continue # running, maybe not yet joined
        fi
        mkdir -p "$DIR/$port"
        rm -f "$DIR/$port/nodes.conf"
        redis-server --bind "$HOST" --port "$port" --dir "$DIR/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
            --save "" --appendonly no --daemonize yes \
            --logfile "$DIR/$port/redis.log" --pidfile "$DIR/$port/redis.pid"
    done
    for port in "${PORTS[@]}"; do
        wait_for 10 redis-cli -h "$HOST" -p "$port" ping >/dev/null 2>&1 || {
            echo "redis-cluster.sh: node $port did not start; see $DIR/$port/redis.log" >&2
            exit 1
        }
    done
    # Join the nodes unless they already know each other (a restart after a partial start).
    local known
    known=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info | awk -F: '/^cluster_known_nodes/ {print $2}' | tr -d '\r')
    if [[ "$known" != "${#PORTS[@]}" ]]; then
        local nodes=()
        for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 || {
            cat "$DIR/create.log" >&2
            echo "redis-cluster.sh: cluster create failed; try '$0 stop' then '$0 start'" >&2
            exit 1
        }
    fi
    wait_for 30 cluster_ok || {
        redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info >&2 || true
        echo "redis-cluster.sh: cluster did not reach cluster_state:ok" >&2
        exit 1
    }
    echo "redis cluster ok on ports ${PORTS[*]}"
}

stop() {
    for port in "${PORTS[@]}"; do
        redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    rm -rf "$DIR"
    echo "redis cluster stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
