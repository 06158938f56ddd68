#!/usr/bin/env bash
# `make run`: the whole of Roost on one machine, supervised. Starts the
# database (the embedded one unless ROOST_MONGODB_URI is set; a mongod on
# PATH is used if there is one), migrates it (roostctl migrate up), then
# for each service two brokers and ROOST_WORKERS workers that dial both,
# then the ingress, which sends HTTP requests to the workers directly
# (each worker listens on a port of its own, counted up from
# ROOST_SERVE_BASE_PORT, 7300); the brokers are the front door for
# internal callers (roostctl, libroost). Any process that
# dies is started again, after a pause that grows while it keeps dying
# (0.1 s doubling to 5 s; back to 0.1 s once it has run 10 s): a dead
# broker's requests go through the service's other broker meanwhile, and
# the ingress is back within a second. Ctrl-C or SIGTERM stops every
# process it started, by pid, gracefully (ingress first, database last),
# and nothing is left.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"

export ROOST_HTTP_PORT="${ROOST_HTTP_PORT:-8080}"
export ROOST_DATA_DIR="${ROOST_DATA_DIR:-$PWD/var}"
export ROOST_WORKERS="${ROOST_WORKERS:-2}"
# libmongoc's counters live in /dev/shm/mongoc-<pid>, left behind by a
# process that is killed; with this, a restarted process neither leaves nor
# trips over one.
export MONGOC_DISABLE_SHM="${MONGOC_DISABLE_SHM:-1}"
BROKERS=2 # per service: one can die without an outage
TOOLS="${ROOST_TOOLS_DIR:-$HOME/.cache/roost/bin}"
mkdir -p "$ROOST_DATA_DIR/log"

declare -A pid_of=() name_of=() started_at=() pause_of=()
order=() # names in start order; stopped in reverse
stopping=0
hurry=0

# A stop in progress survives repeated signals: a second Ctrl-C or SIGTERM
# hurries it (what is still running is killed at once instead of given
# time to finish), and never abandons it, so no process is left behind.
# It ends the script, whatever it was doing (starting up included), with
# `status` (0 after a signal).
# Waits until `pid`, already killed, is reaped: a wait that a second signal
# interrupts is waited again (kill -0 still finds an unreaped child).
reap() {
  while kill -0 "$1" 2>/dev/null; do wait "$1" 2>/dev/null || true; done
}

stop() {
  local status=${1:-0}
  trap 'hurry=1; echo "[run] hurrying: what is still running is killed now"' INT TERM
  trap - EXIT
  [ "$stopping" = 1 ] && return
  stopping=1
  echo "[run] stopping"
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do
    local pid="${pid_of[${order[i]}]:-}"
    [ -z "$pid" ] && continue
    kill -TERM "$pid" 2>/dev/null || true
    # The ingress and brokers finish what is in flight (bounded by the request deadline).
    for _ in $(seq 150); do
      kill -0 "$pid" 2>/dev/null || break
      [ "$hurry" = 1 ] && break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    reap "$pid"
  done
  # Whatever else this script started and is still there goes too.
  for pid in $(jobs -p); do
    kill -KILL "$pid" 2>/dev/null || true
    reap "$pid"
  done
  exit "$status"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

wait_port() { # host port seconds
  for _ in $(seq $(($3 * 10))); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "[run] nothing listens on $1:$2 after $3 s" >&2
  return 1
}

# The addresses of a service's pool: client URLs (ROOST_POOL_URL_<SERVICE>)
# and the workers' side of each broker, as comma lists. Ports count up from
# ROOST_POOL_BASE_PORT, four per service (client and worker port of two brokers).
declare -A clients_of=() workers_of=() base_of=() serve_of=()
services=$("$BUILD/workers/roost-worker" --list-services)
port=${ROOST_POOL_BASE_PORT:-7100}
serve_port=${ROOST_SERVE_BASE_PORT:-7300}
for service in $services; do
  base_of[$service]=$port
  serve_of[$service]=$serve_port
  c="" w="" d=""
  for ((b = 0; b < BROKERS; b++)); do
    c+="${c:+,}tcp://127.0.0.1:$((port + 2 * b))"
    w+="${w:+,}tcp://127.0.0.1:$((port + 2 * b + 1))"
  done
  for ((n = 0; n < ROOST_WORKERS; n++)); do d+="${d:+,}tcp://127.0.0.1:$((serve_port + n))"; done
  clients_of[$service]=$c
  workers_of[$service]=$w
  export "ROOST_POOL_URL_$(echo "$service" | tr a-z A-Z)=$c"
  export "ROOST_WORKERS_URL_$(echo "$service" | tr a-z A-Z)=$d"
  port=$((port + 2 * BROKERS))
  serve_port=$((serve_port + ROOST_WORKERS))
done
first=$(echo $services | cut -d' ' -f1)
export ROOST_POOL_URL="${clients_of[$first]}" # the sys ops (health, ping) go to the first pool
export ROOST_WORKERS_URL="$(printenv "ROOST_WORKERS_URL_$(echo "$first" | tr a-z A-Z)")"
# So that `. var/pools.env; build/tools/roostctl call ...` finds every pool.
env | grep '^ROOST_POOL_URL' | sed 's/^/export /' >"$ROOST_DATA_DIR/pools.env"

# CPU placement (ROOST_PIN_CPUS=1, the default with 2 or more CPUs; 0 turns
# it off), over the CPUs this script may use (its own affinity, which a
# cpuset or `taskset make run` narrows): the ingress on the first quarter
# of them (at least one), each service's brokers and workers together on
# an equal share of the rest, or on one of them in turn when there are
# fewer CPUs left than services. nng hands every message between its own
# threads several times per hop; when those threads and the process at the
# other end of the hop share a CPU, a hand-off needs no cross-CPU wake-up
# and the waker runs on until it blocks: on 2 CPUs (ingress on one, every
# pool on the other) `make bench` measured about 40 % less CPU and half the
# context switches per request (bench/README.md). The price is capacity:
# a service can then use only its share of the CPUs, so turn placement off
# where one service needs more. Kubernetes: docs/deploy.md.
cpus=()
while IFS= read -r range; do
  if [[ "$range" == *-* ]]; then
    for ((c = ${range%-*}; c <= ${range#*-}; c++)); do cpus+=("$c"); done
  elif [ -n "$range" ]; then
    cpus+=("$range")
  fi
done < <(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status | tr ',' '\n')
ncpu=${#cpus[@]}
pin=${ROOST_PIN_CPUS:-$([ "$ncpu" -ge 2 ] && echo 1 || echo 0)}
if [ "$pin" = 1 ] && { [ "$ncpu" -lt 2 ] || ! command -v taskset >/dev/null; }; then
  echo "[run] ROOST_PIN_CPUS=1 needs taskset and 2 or more CPUs; placement left to the kernel" >&2
  pin=0
fi
join_cpus() { local IFS=,; echo "$*"; }
declare -A cpu_of=()
ingress_cpus=""
if [ "$pin" = 1 ]; then
  ni=$((ncpu / 4 > 0 ? ncpu / 4 : 1))
  ingress_cpus=$(join_cpus "${cpus[@]:0:ni}")
  rest=("${cpus[@]:ni}")
  nservices=$(echo $services | wc -w)
  share=$((${#rest[@]} / nservices))
  i=0
  for service in $services; do
    if [ "$share" -ge 1 ]; then
      cpu_of[$service]=$(join_cpus "${rest[@]:i*share:share}")
    else
      cpu_of[$service]=${rest[i % ${#rest[@]}]}
    fi
    i=$((i + 1))
  done
fi
on_cpu() { # cpus: sets the array `pinned` to the command prefix that pins to them (taskset execs, so $! stays the process)
  pinned=()
  if [ "$pin" = 1 ]; then pinned=(taskset -c "$1"); fi
}

# Metrics (Prometheus text format): the ingress at /metrics on its HTTP
# port; every broker and worker on a port of its own, counted up from
# ROOST_METRICS_BASE_PORT (9100) in start order; ROOST_METRICS_BASE_PORT=0
# turns theirs off. Written to var/metrics.txt, one "name url" per line.
metrics_base=${ROOST_METRICS_BASE_PORT:-9100}
declare -A metrics_port_of=()
k=0
for service in $services; do
  for ((b = 0; b < BROKERS; b++)); do metrics_port_of[broker:$service:$b]=$((metrics_base + k)); k=$((k + 1)); done
  for ((w = 0; w < ROOST_WORKERS; w++)); do metrics_port_of[worker:$service:$w]=$((metrics_base + k)); k=$((k + 1)); done
done
{
  echo "ingress http://127.0.0.1:$ROOST_HTTP_PORT/metrics"
  if [ "$metrics_base" != 0 ]; then
    for service in $services; do
      for ((b = 0; b < BROKERS; b++)); do echo "broker:$service:$b http://127.0.0.1:${metrics_port_of[broker:$service:$b]}/metrics"; done
      for ((w = 0; w < ROOST_WORKERS; w++)); do echo "worker:$service:$w http://127.0.0.1:${metrics_port_of[worker:$service:$w]}/metrics"; done
    done
  fi
} >"$ROOST_DATA_DIR/metrics.txt"

# Starts the process called NAME: db, ingress, broker:<service>:<n> or worker:<service>:<n>.
launch() {
  local name=$1 kind service n base pinned
  IFS=: read -r kind service n <<<"$name"
  pinned=()
  case $kind in broker | worker) on_cpu "${cpu_of[$service]:-}" ;; ingress) on_cpu "$ingress_cpus" ;; esac
  local metrics_port=0
  if [ "$metrics_base" != 0 ] && [ -n "${metrics_port_of[$name]:-}" ]; then metrics_port=${metrics_port_of[$name]}; fi
  case $kind in
  db)
    if command -v mongod >/dev/null; then
      mongod --bind_ip 127.0.0.1 --port "$db_port" --dbpath "$ROOST_DATA_DIR/mongod" \
        >>"$ROOST_DATA_DIR/log/mongod.log" 2>&1 &
    else
      "$TOOLS/roost-embedded-db" -listen-addr "127.0.0.1:$db_port" -data-dir "$ROOST_DATA_DIR/db" \
        >>"$ROOST_DATA_DIR/log/db.log" 2>&1 &
    fi
    ;;
  broker)
    base=${base_of[$service]}
    ROOST_SERVICES="$service" ROOST_POOL_URL="tcp://127.0.0.1:$((base + 2 * n))" \
      ROOST_WORKER_URL="tcp://127.0.0.1:$((base + 2 * n + 1))" ROOST_METRICS_PORT=$metrics_port \
      "${pinned[@]}" "$BUILD/workers/roost-worker" --broker "$service" &
    ;;
  worker)
    ROOST_SERVICES="$service" ROOST_WORKER_URL="${workers_of[$service]}" ROOST_METRICS_PORT=$metrics_port \
      ROOST_SERVE_URL="tcp://127.0.0.1:$((${serve_of[$service]} + n))" \
      "${pinned[@]}" "$BUILD/workers/roost-worker" "$service" &
    ;;
  ingress)
    "${pinned[@]}" "$BUILD/ingress/roost-ingress" &
    ;;
  esac
  pid_of[$name]=$!
  name_of[$!]=$name
  started_at[$name]=$SECONDS
}

start() { # name
  order+=("$1")
  pause_of[$1]=0.1
  launch "$1"
}

if [ -z "${ROOST_MONGODB_URI:-}" ]; then
  db_port="${ROOST_DB_PORT:-27017}"
  if command -v mongod >/dev/null; then
    mkdir -p "$ROOST_DATA_DIR/mongod"
    echo "[run] starting mongod on 127.0.0.1:$db_port (data in $ROOST_DATA_DIR/mongod)"
  else
    echo "[run] starting the embedded database on 127.0.0.1:$db_port (data in $ROOST_DATA_DIR/db)"
  fi
  start db
  wait_port 127.0.0.1 "$db_port" 30
  export ROOST_MONGODB_URI="mongodb://127.0.0.1:$db_port"
fi

# Every service's database gets the migrations its workers need before any
# worker starts (a worker refuses the ops of a service whose database is
# behind). Safe while other runners run: one of them applies each step.
echo "[run] migrating the databases (roostctl migrate up)"
if ! "$BUILD/tools/roostctl" migrate up | sed 's/^/[run]   /'; then
  echo "[run] a migration failed (above): fix what it names, then \`make run\` again resumes it; stopping" >&2
  exit 1
fi

for service in $services; do
  echo "[run] starting the $service pool: $BROKERS brokers (${clients_of[$service]}), $ROOST_WORKERS workers (ports ${serve_of[$service]}+)$(
    [ "$pin" = 1 ] && echo ", on CPU ${cpu_of[$service]}")"
  for ((b = 0; b < BROKERS; b++)); do start "broker:$service:$b"; done
  for ((w = 0; w < ROOST_WORKERS; w++)); do start "worker:$service:$w"; done
done
echo "[run] starting the ingress on http://127.0.0.1:$ROOST_HTTP_PORT$([ "$pin" = 1 ] && echo ", on CPU $ingress_cpus")"
start ingress

ready=0
for _ in $(seq 150); do
  if curl -fsS "http://127.0.0.1:$ROOST_HTTP_PORT/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
[ "$ready" = 1 ] || echo "[run] warning: /readyz did not answer 200 within 30 s; see the logs above" >&2

# A newcomer's first start gets data to look at; ROOST_SEED=0 skips it.
if [ "$ready" = 1 ] && [ "${ROOST_SEED:-1}" != 0 ]; then
  users=$("$BUILD/tools/roostctl" call users.list '{"query": {"per_page": 1}}' 2>/dev/null |
    sed -n 's/.*"total":\([0-9]*\).*/\1/p')
  if [ "${users:-}" = 0 ]; then
    echo "[run] the database is empty: seeding it, two drawn photos a property (roostctl seed; ROOST_SEED=0 skips this)"
    "$BUILD/tools/roostctl" seed --seed "${ROOST_SEED_NUMBER:-1}" --photos "${ROOST_SEED_PHOTOS:-2}" ||
      echo "[run] seeding failed; Roost runs anyway" >&2
  fi
fi
echo "[run] metrics (Prometheus): ingress http://127.0.0.1:$ROOST_HTTP_PORT/metrics$(
  [ "$metrics_base" != 0 ] && echo "; brokers and workers on ports $metrics_base-$((metrics_base + k - 1)), each listed in $ROOST_DATA_DIR/metrics.txt")"
echo "[run] Roost is ready: http://127.0.0.1:$ROOST_HTTP_PORT  (Ctrl-C stops everything)"

# Supervise: whichever process dies is started again after its pause.
set +e
while [ "$stopping" = 0 ]; do
  dead=""
  wait -n -p dead "${!name_of[@]}"
  status=$?
  [ -n "${dead:-}" ] || continue # a signal interrupted the wait
  name=${name_of[$dead]}
  unset "name_of[$dead]"
  ran=$((SECONDS - ${started_at[$name]}))
  if [ "$ran" -ge 10 ]; then pause_of[$name]=0.1; fi
  echo "[run] $name (pid $dead) exited with status $status after ${ran}s; starting it again in ${pause_of[$name]}s" >&2
  sleep "${pause_of[$name]}"
  [ "$stopping" = 0 ] || break
  launch "$name"
  pause_of[$name]=$(awk -v p="${pause_of[$name]}" 'BEGIN { p *= 2; if (p > 5) p = 5; print p }')
done
