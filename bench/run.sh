#!/usr/bin/env bash
# `make bench`: measures, in one run on one machine, what each layer of Roost
# costs. First bench/spine.py (its own stack: embedded database, one broker,
# 2 workers, the ingress): static, nng ping, user by id, direct C, list,
# create, login and user by id at half its peak, with CPU µs and context
# switches per request for every process, then the same GET on four
# conventional peers (bench/peers/) reading the same document;
#
# then, on a stack of its own, the same page of 50 properties (about 25 KB of JSON) three times, with
# Accept-Encoding identity, gzip and br, and what each costs the ingress in
# CPU per request (utime + stime from /proc/PID/stat around the row),
# then bench/media.py (photos: 20 uploads of 10 MiB at once, with the
# ingress's RSS and other requests' latency meanwhile; downloads from the
# cache over wrk), and, last, bench/sizes.py: every list and search request on fresh stacks
# of 1k, 10k and 100k properties and listings (BENCH_SIZES), seeded with
# roostctl seed. It prints markdown tables (also written to
# BUILD/bench/results.md).
# Every process it starts it stops by pid; the temporary directory is removed.
#
#   bench/run.sh [BUILD_DIR]
#   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_WARMUP_SECONDS=2 bench/run.sh build
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD="$(cd "${1:-build}" && pwd)"
DURATION="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WARMUP="${BENCH_WARMUP_SECONDS:-2}"
WRK_THREADS=2
WORKERS=2
TOOLS="${ROOST_TOOLS_DIR:-$HOME/.cache/roost/bin}"

say() { echo "[bench] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

for v in DURATION CONNECTIONS WARMUP; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
(( DURATION >= 1 )) || die "BENCH_SECONDS must be at least 1"
(( CONNECTIONS >= WRK_THREADS )) || die "BENCH_CONNECTIONS must be at least $WRK_THREADS"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
for b in ingress/roost-ingress workers/roost-worker; do
  [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: build first (make build)"
done
[ -x "$TOOLS/roost-embedded-db" ] || die "$TOOLS/roost-embedded-db is missing: run scripts/setup.sh"

RESULTS="$BUILD/bench/results.md"
rm -f "$RESULTS" # a failed run must not leave an older table behind

# --- the direct C client, built apart from the product ----------------------
DIRECT="$BUILD/bench/direct_read"
if [ ! -x "$DIRECT" ] || [ "$ROOT/bench/direct_read.c" -nt "$DIRECT" ]; then
  say "building $DIRECT"
  mkdir -p "$BUILD/bench"
  # shellcheck disable=SC2046
  nice gcc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread -o "$DIRECT.tmp" "$ROOT/bench/direct_read.c" \
    $(pkg-config --cflags --libs libmongoc-1.0)
  mv "$DIRECT.tmp" "$DIRECT"
fi

# --- the spine's cost: Roost's rows and the peers' (its own stack; bench/spine.py) ---
SPINE_MD="$BUILD/bench/spine.md"
say "the spine's cost (bench/spine.py; BENCH_PEERS=none leaves the peers out)"
ROOST_BUILD_DIR="$BUILD" "$ROOT/.venv/bin/python" "$ROOT/bench/spine.py" "$BUILD" >"$SPINE_MD.tmp" \
  || die "bench/spine.py failed"
mv "$SPINE_MD.tmp" "$SPINE_MD"

# --- processes and clean-up ----------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/roost-bench-XXXXXX")"
pids=()        # servers, in start order
worker_pids=() # the pool's children, seen while it ran
client_pid=""  # the wrk / direct_read running now
cleaned=0
cleanup() {
  (( cleaned )) && return 0
  cleaned=1
  if [ -n "$client_pid" ]; then kill -TERM "$client_pid" 2>/dev/null || true; wait "$client_pid" 2>/dev/null || true; fi
  local i pid
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # The pool stops its workers (and they die with it), but never leave one behind.
  for pid in "${worker_pids[@]}"; do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "roost-worker" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

show_logs() {
  local f
  for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f (last lines)" >&2; tail -n 20 "$f" >&2; }; done
}
fail() { show_logs; die "$*"; }

# Free loopback ports, below the ephemeral range so no client socket takes them meanwhile.
taken=" "
free_port() { # VAR: sets VAR to a port nothing listens on and no other VAR got
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    [[ "$taken" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then taken+="$p "; printf -v "$1" '%s' "$p"; return 0; fi
  done
  die "no free port found"
}
wait_port() { # port seconds what
  for _ in $(seq $(( $2 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$3 does not listen on 127.0.0.1:$1 after $2 s"
}
pool_children() { cat "/proc/${pids[1]}/task/${pids[1]}/children" 2>/dev/null || true; }

free_port DB_PORT; free_port HTTP_PORT; free_port POOL_PORT; free_port WORKER_PORT
# One pool for every service: per-service pool URLs from the caller's environment would leave this stack.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ROOST_POOL_URL_' || true)
export ROOST_MONGODB_URI="mongodb://127.0.0.1:$DB_PORT"
export ROOST_HTTP_HOST=127.0.0.1 ROOST_HTTP_PORT="$HTTP_PORT"
export ROOST_POOL_URL="tcp://127.0.0.1:$POOL_PORT" ROOST_WORKER_URL="tcp://127.0.0.1:$WORKER_PORT"
export ROOST_DB_PREFIX="bench$$_${RANDOM}_"
export ROOST_WORKERS="$WORKERS" ROOST_DATA_DIR="$TMP"
BASE="http://127.0.0.1:$HTTP_PORT"

say "temporary directory $TMP, database prefix $ROOST_DB_PREFIX"
say "starting the embedded database on 127.0.0.1:$DB_PORT"
"$TOOLS/roost-embedded-db" -listen-addr "127.0.0.1:$DB_PORT" -data-dir "$TMP/db" >"$TMP/db.log" 2>&1 &
pids+=($!)
wait_port "$DB_PORT" 30 "the embedded database"
say "migrating the databases (roostctl migrate up)"
"$BUILD/tools/roostctl" migrate up >"$TMP/migrate.log" 2>&1 ||
  { cat "$TMP/migrate.log" >&2; exit 1; }
say "starting roost-worker --pool $WORKERS"
"$BUILD/workers/roost-worker" --pool "$WORKERS" >"$TMP/pool.log" 2>&1 &
pids+=($!)
say "starting the ingress on $BASE"
"$BUILD/ingress/roost-ingress" >"$TMP/ingress.log" 2>&1 &
pids+=($!)
wait_port "$HTTP_PORT" 10 "the ingress"

ready=0
for _ in $(seq 150); do
  if curl -fsS -m 2 "$BASE/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
(( ready )) || fail "GET /readyz did not answer 200 within 30 s"
read -r -a worker_pids <<<"$(pool_children)"
(( ${#worker_pids[@]} == WORKERS )) || fail "the pool has ${#worker_pids[@]} workers, expected $WORKERS"

# --- one user -------------------------------------------------------------------
code=$(curl -sS -m 10 -o "$TMP/create.body" -D "$TMP/create.headers" -w '%{http_code}' -XPOST "$BASE/api/v1/users" \
  -H 'Content-Type: application/json' \
  -d '{"username":"benchuser","password":"correct horse","first_name":"Ada","last_name":"Lovelace","birth_date":"1990-12-10"}') \
  || fail "POST /api/v1/users failed"
[ "$code" = 201 ] || fail "POST /api/v1/users answered $code: $(cat "$TMP/create.body")"
USER_ID=$(tr -d '\r' <"$TMP/create.headers" | sed -n 's|^[Ll]ocation: .*/api/v1/users/\([0-9][0-9]*\)$|\1|p')
[ -n "$USER_ID" ] || fail "no user id in the Location header: $(cat "$TMP/create.headers")"
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$BASE/api/v1/users/$USER_ID") || fail "GET /api/v1/users/$USER_ID failed"
[ "$code" = 200 ] || fail "GET /api/v1/users/$USER_ID answered $code"
say "user $USER_ID created in ${ROOST_DB_PREFIX}users.users"

# --- a page of 50 properties, for the content-coding rows ------------------------
TOKEN=$(curl -sS -m 10 -XPOST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d '{"username":"benchuser","password":"correct horse"}' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || fail "no token for benchuser"
for i in $(seq 50); do
  code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -XPOST "$BASE/api/v1/properties" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Bench flat $i\",\"type\":\"apartment\",\"city\":\"Benchville\",\"address\":\"$i Long Street\",
         \"description\":\"A bright flat with a view of the river and the old town, close to the station and the market.\",
         \"rooms\":[{\"name\":\"Living\",\"kind\":\"living\",\"area_m2\":21.5,\"characteristics\":{\"floor\":$((i % 7)),\"windows\":2}},
                  {\"name\":\"Bedroom\",\"kind\":\"bedroom\",\"area_m2\":12.25}]}") || fail "POST /api/v1/properties failed"
  [ "$code" = 201 ] || fail "POST /api/v1/properties answered $code"
done
PAGE="/api/v1/properties?city=Benchville&per_page=50"

# --- the runs -------------------------------------------------------------------
# Clients run in the background so that a signal reaches the trap at once;
# `timeout` bounds each one whatever happens.
run_client() { # outfile seconds argv...
  local out=$1 secs=$2; shift 2
  timeout -k 5 $(( secs + 30 )) "$@" >"$out" 2>&1 &
  client_pid=$!
  local rc=0
  wait "$client_pid" || rc=$?
  client_pid=""
  return "$rc"
}
# A server that died during a row makes the whole table meaningless: stop there.
check_alive() { # row
  local names=(database pool ingress) i
  for i in 0 1 2; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      local rc=0; wait "${pids[i]}" 2>/dev/null || rc=$?
      fail "the ${names[i]} (pid ${pids[i]}) died during '$1' (exit status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))"))"
    fi
  done
}
# CPU time of a process so far, in clock ticks: utime + stime (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A INGRESS_TICKS BROKER_TICKS
wrk_run() { # name path [request header]
  local name=$1 url="$BASE$2" header=("${@:3}")
  header=("${header[@]/#/-H}")
  if (( WARMUP > 0 )); then
    run_client "$TMP/warmup.out" "$WARMUP" wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" --timeout 10s \
      "${header[@]}" "$url" || { check_alive "$name (warm-up)"; fail "wrk warm-up of $name failed: $(cat "$TMP/warmup.out")"; }
    check_alive "$name (warm-up)"
  fi
  say "$name: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s ${header[*]} $url"
  local before broker_before; before=$(cpu_ticks "${pids[2]}"); broker_before=$(cpu_ticks "${pids[1]}")
  run_client "$TMP/$name.out" "$DURATION" wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --timeout 10s \
    --latency -s "$ROOT/bench/report.lua" "${header[@]}" "$url" \
    || { check_alive "$name"; fail "wrk $name failed: $(cat "$TMP/$name.out")"; }
  INGRESS_TICKS[$name]=$(( $(cpu_ticks "${pids[2]}") - before ))
  BROKER_TICKS[$name]=$(( $(cpu_ticks "${pids[1]}") - broker_before ))
  cat "$TMP/$name.out" >&2
  check_alive "$name"
  grep -q '^WRK_RESULT ' "$TMP/$name.out" || fail "no WRK_RESULT line from wrk $name"
}

declare -A PAGE_BYTES
for coding in identity gzip br; do
  wrk_run "page-$coding" "$PAGE" "Accept-Encoding: $coding"
  PAGE_BYTES[$coding]=$(curl -sS -m 10 -H "Accept-Encoding: $coding" -o /dev/null -w '%{size_download}' "$BASE$PAGE")
done

# --- peak memory, while everything still runs --------------------------------
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
read -r -a end_workers <<<"$(pool_children)"
RSS_INGRESS=$(hwm_kib "${pids[2]}")
RSS_POOL=$(hwm_kib "${pids[1]}")
RSS_DB=$(hwm_kib "${pids[0]}")
RSS_WORKERS=()
for pid in "${end_workers[@]}"; do RSS_WORKERS+=("$(hwm_kib "$pid")"); done
restarts=""
if [ "${end_workers[*]}" != "${worker_pids[*]}" ]; then
  restarts="warning: the pool's workers changed during the run (${worker_pids[*]} -> ${end_workers[*]}); a worker died"
  worker_pids+=("${end_workers[@]}")
fi

LOOPS=$(sed -n 's/.*listening on .* with \([0-9][0-9]*\) loops.*/\1/p' "$TMP/ingress.log" | tail -n 1)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null || REV="$REV + uncommitted changes"

# --- the table ------------------------------------------------------------------
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" "$1" | tail -n 1; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
sum_kib=$(( RSS_INGRESS + RSS_POOL ))
workers_txt=""
for k in "${RSS_WORKERS[@]}"; do sum_kib=$(( sum_kib + k )); workers_txt+="${workers_txt:+ + }$(mib "$k")"; done

{
  echo "The spine's cost, Roost against conventional peers (bench/spine.py, its own stack and database):"
  echo
  cat "$SPINE_MD"
  echo
  hz=$(getconf CLK_TCK)
  echo "The stack below is a second one, for the content codings: peak RSS (VmHWM) ingress + pool + workers" \
       "$(mib "$sum_kib") MiB (ingress $(mib "$RSS_INGRESS"), pool $(mib "$RSS_POOL"), workers $workers_txt);" \
       "embedded database $(mib "$RSS_DB") MiB; source $REV."
  [ -z "$restarts" ] || echo "$restarts"
  echo
  echo "The same page of 50 properties (GET $PAGE), by content coding:"
  echo
  echo "| Accept-Encoding | body bytes | req/s | p50 ms | p99 ms | ingress CPU µs/req |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for coding in identity gzip br; do
    f="$TMP/page-$coding.out"
    printf '| %s | %s | %.0f | %.3f | %.3f | %s |\n' "$coding" "${PAGE_BYTES[$coding]}" "$(field "$f" rps)" \
      "$(awk -v u="$(field "$f" p50_us)" 'BEGIN{print u/1000}')" "$(awk -v u="$(field "$f" p99_us)" 'BEGIN{print u/1000}')" \
      "$(awk -v t="${INGRESS_TICKS[page-$coding]}" -v hz="$hz" -v n="$(field "$f" requests)" \
           'BEGIN{ if (n > 0) printf "%.0f", t / hz * 1e6 / n; else printf "n/a" }')"
  done
} >"$TMP/results.md"
TMP_RESULTS="$BUILD/bench/results.partial.md"
mkdir -p "$BUILD/bench"
cp "$TMP/results.md" "$TMP_RESULTS"
# --- the spine's cost with mutual TLS: /ping on a tcp:// and a tls+tcp:// stack ---
# (bench/tls.py starts and stops its own stacks; this one is stopped first.)
cleanup
if [ "${BENCH_TLS:-}" != none ]; then
  say "the spine with mutual TLS against plain TCP (BENCH_TLS=none skips it)"
  {
    echo
    echo "The spine's cost with mutual TLS between every nng party (fresh stacks, one run):"
    echo
    ROOST_BUILD_DIR="$BUILD" ROOST_NEED_EMBEDDED_DB=1 "$ROOT/.venv/bin/python" "$ROOT/bench/tls.py"
  } >>"$TMP_RESULTS" || die "bench/tls.py failed"
fi
# --- photos: uploads at once, downloads from the cache (its own stack) -----------
say "photos (bench/media.py): 20 uploads of 10 MiB at once, then a 2 MiB photo and its 320 px copy over wrk"
{
  echo
  echo "Photos (issue 24): uploads at once, and reads from the ingress's cache (a fresh stack, one run):"
  echo
  ROOST_BUILD_DIR="$BUILD" ROOST_NEED_EMBEDDED_DB=1 BENCH_SECONDS="$DURATION" BENCH_CONNECTIONS="$CONNECTIONS" \
    "$ROOT/.venv/bin/python" "$ROOT/bench/media.py" "$BUILD"
} >>"$TMP_RESULTS" || die "bench/media.py failed"
# --- scale with data: the same list requests at each size, on fresh stacks --------
# (bench/sizes.py starts and stops its own stacks.)
SIZES="${BENCH_SIZES:-1000 10000 100000}"
if [ "$SIZES" = none ]; then
  mv "$TMP_RESULTS" "$RESULTS"
  cat "$RESULTS"
  say "written to $RESULTS (BENCH_SIZES=none: no data-size table)"
  exit 0
fi
say "the data-size table ($SIZES documents of each kind); 100k takes a few minutes to seed"
{
  echo
  echo "Scale with data: every list and search request, on fresh stacks of each size:"
  echo
  # shellcheck disable=SC2086
  ROOST_BUILD_DIR="$BUILD" "$ROOT/.venv/bin/python" "$ROOT/bench/sizes.py" $SIZES
} >"$BUILD/bench/results.tmp.md" || die "bench/sizes.py failed"
cat "$BUILD/bench/results.tmp.md" >>"$TMP_RESULTS"
rm -f "$BUILD/bench/results.tmp.md"
mv "$TMP_RESULTS" "$RESULTS"
echo
cat "$RESULTS"
say "written to $RESULTS"
