#!/usr/bin/env bash
# Make sure the services the tests talk to are up: PostgreSQL (127.0.0.1:5432, database test)
# and Mosquitto (127.0.0.1:1883). Starts them the way this machine kind starts them.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 30); do up "$port" && { echo "$name is up on 127.0.0.1:$port"; return 0; }; sleep 1; done
  echo "error: $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

if ! up 5432; then
  echo "starting PostgreSQL"
  if ! command -v pg_ctlcluster >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
wait_for 5432 PostgreSQL || exit 1
if command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres >/dev/null 2>&1 || true
fi

if ! up 1883; then
  echo "starting Mosquitto"
  if ! command -v mosquitto >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
  fi
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
fi
wait_for 1883 Mosquitto || exit 1
