#!/usr/bin/env bash
# `make run`: the whole of Roost on one machine. Starts the database (the
# embedded one unless ROOST_MONGODB_URI is set; a mongod on PATH is used if
# there is one), the worker pool and the ingress, then waits. Ctrl-C or
# SIGTERM stops every process it started, by pid, and nothing is left.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"

export ROOST_HTTP_PORT="${ROOST_HTTP_PORT:-8080}"
export ROOST_DATA_DIR="${ROOST_DATA_DIR:-$PWD/var}"
export ROOST_WORKERS="${ROOST_WORKERS:-2}"
TOOLS="${ROOST_TOOLS_DIR:-$HOME/.cache/roost/bin}"
mkdir -p "$ROOST_DATA_DIR/log"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "[run] stopping"
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop INT TERM EXIT

wait_port() { # host port seconds
  for _ in $(seq $(( $3 * 10 ))); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "[run] nothing listens on $1:$2 after $3 s" >&2
  return 1
}

if [ -z "${ROOST_MONGODB_URI:-}" ]; then
  port="${ROOST_DB_PORT:-27017}"
  if command -v mongod >/dev/null; then
    mkdir -p "$ROOST_DATA_DIR/mongod"
    echo "[run] starting mongod on 127.0.0.1:$port (data in $ROOST_DATA_DIR/mongod)"
    mongod --bind_ip 127.0.0.1 --port "$port" --dbpath "$ROOST_DATA_DIR/mongod" \
      >"$ROOST_DATA_DIR/log/mongod.log" 2>&1 &
  else
    echo "[run] starting the embedded database on 127.0.0.1:$port (data in $ROOST_DATA_DIR/db)"
    "$TOOLS/roost-embedded-db" -listen-addr "127.0.0.1:$port" -data-dir "$ROOST_DATA_DIR/db" \
      >"$ROOST_DATA_DIR/log/db.log" 2>&1 &
  fi
  pids+=($!)
  wait_port 127.0.0.1 "$port" 30
  export ROOST_MONGODB_URI="mongodb://127.0.0.1:$port"
fi

# One pool per service, so that a slow or stopped service cannot starve
# another of workers; each pool's address goes to everyone through
# ROOST_POOL_URL_<SERVICE>. Ports count up from ROOST_POOL_BASE_PORT.
port=${ROOST_POOL_BASE_PORT:-7100}
first=""
for service in $("$BUILD/workers/roost-worker" --list-services); do
  upper=$(echo "$service" | tr a-z A-Z)
  export "ROOST_POOL_URL_$upper=tcp://127.0.0.1:$port"
  [ -n "$first" ] || first="tcp://127.0.0.1:$port"
  port=$((port + 2))
done
export ROOST_POOL_URL="$first" # the sys ops (health, ping) go to the first pool
# So that `. var/pools.env; build/tools/roostctl call ...` finds every pool.
env | grep '^ROOST_POOL_URL' | sed 's/^/export /' > "$ROOST_DATA_DIR/pools.env"
port=${ROOST_POOL_BASE_PORT:-7100}
for service in $("$BUILD/workers/roost-worker" --list-services); do
  echo "[run] starting the $service pool: $ROOST_WORKERS workers on tcp://127.0.0.1:$port"
  ROOST_SERVICES="$service" ROOST_POOL_URL="tcp://127.0.0.1:$port" ROOST_WORKER_URL="tcp://127.0.0.1:$((port + 1))" \
    "$BUILD/workers/roost-worker" --pool "$ROOST_WORKERS" &
  pids+=($!)
  port=$((port + 2))
done
echo "[run] starting the ingress on http://127.0.0.1:$ROOST_HTTP_PORT"
"$BUILD/ingress/roost-ingress" &
pids+=($!)

ready=0
for _ in $(seq 150); do
  if curl -fsS "http://127.0.0.1:$ROOST_HTTP_PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[ "$ready" = 1 ] || echo "[run] warning: /readyz did not answer 200 within 30 s; see the logs above" >&2

# A newcomer's first start gets data to look at; ROOST_SEED=0 skips it.
if [ "$ready" = 1 ] && [ "${ROOST_SEED:-1}" != 0 ]; then
  users=$("$BUILD/tools/roostctl" call users.list '{"query": {"per_page": 1}}' 2>/dev/null |
          sed -n 's/.*"total":\([0-9]*\).*/\1/p')
  if [ "${users:-}" = 0 ]; then
    echo "[run] the database is empty: seeding it (roostctl seed; ROOST_SEED=0 skips this)"
    "$BUILD/tools/roostctl" seed --seed "${ROOST_SEED_NUMBER:-1}" || echo "[run] seeding failed; Roost runs anyway" >&2
  fi
fi
echo "[run] Roost is ready: http://127.0.0.1:$ROOST_HTTP_PORT  (Ctrl-C stops everything)"

# Any process that dies takes the others down with it.
wait -n "${pids[@]}"
echo "[run] a process exited; stopping the rest" >&2
