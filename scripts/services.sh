#!/usr/bin/env bash
# Starts the services the test suite talks to, if they are not running already:
# PostgreSQL (127.0.0.1:5432, database `test`), Redis (127.0.0.1:6379) and a 3-master
# Redis Cluster on 127.0.0.1:7001-7003. Idempotent; safe to run before every test run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 50); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "services: $name did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi
psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 \
  || psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

if [ -x "$here/redis-cluster.sh" ]; then
  "$here/redis-cluster.sh" start
fi
echo "services: PostgreSQL, Redis and Redis Cluster are up"
