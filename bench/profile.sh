#!/usr/bin/env bash
# Where each Roost process spends its CPU under load (issue "The spine's
# cost"): starts the bench's stack (bench/spine.py --serve: embedded
# database, one broker, 2 workers, the ingress, one user), loads one request
# with wrk while `perf record -g` (Debian's linux-perf) samples the ingress,
# the broker and one worker, then writes for each a `perf report` summary
# (the hottest symbols, self and with children) and `perf sched`-free
# context-switch counts (`perf stat -e context-switches,cpu-clock`).
#
#   bench/profile.sh [BUILD_DIR] [PATH]        PATH defaults to /api/v1/users/{the user}
#   PROFILE_SECONDS=10 PROFILE_CONNECTIONS=32 bench/profile.sh build /ping
#
# Output in BUILD_DIR/bench/profile/: <process>.data (perf.data),
# <process>.txt (report), stat.txt. Needs perf_event access (root, or
# kernel.perf_event_paranoid <= 1). Stops everything it started, by pid.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD="$(cd "${1:-build}" && pwd)"
REQ_PATH="${2:-}"
SECONDS_="${PROFILE_SECONDS:-10}"
CONNS="${PROFILE_CONNECTIONS:-32}"
OUT="$BUILD/bench/profile"

command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/roost-profile-XXXXXX")"
serve_pid=""
perf_pids=()
cleanup() {
  local p
  for p in "${perf_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ROOST_BUILD_DIR="$BUILD" "$ROOT/.venv/bin/python" "$ROOT/bench/spine.py" --serve "$TMP/stack.env" 2>"$TMP/serve.log" &
serve_pid=$!
for _ in $(seq 600); do [ -f "$TMP/stack.env" ] && break; kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
[ -f "$TMP/stack.env" ] || { cat "$TMP/serve.log" >&2; echo "the stack did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$TMP/stack.env"
read -r -a workers <<<"$WORKER_PIDS"
REQ_PATH="${REQ_PATH:-/api/v1/users/$USER_ID}"
echo "[profile] $BASE$REQ_PATH for ${SECONDS_} s, $CONNS connections" >&2

wrk -t2 -c"$CONNS" -d2s "$BASE$REQ_PATH" >/dev/null # warm-up
declare -A PIDS=([ingress]=$INGRESS_PID [broker]=$BROKER_PID [worker]=${workers[0]})
for name in ingress broker worker; do
  perf record -q -g -F 999 -p "${PIDS[$name]}" -o "$OUT/$name.data" -- sleep "$SECONDS_" 2>"$TMP/perf-$name.log" &
  perf_pids+=($!)
done
perf stat -e context-switches,cpu-clock -p "$INGRESS_PID,$BROKER_PID,${workers[0]}" --per-thread \
  -o "$OUT/stat.txt" -- sleep "$SECONDS_" 2>"$TMP/perf-stat.log" &
perf_pids+=($!)
wrk -t2 -c"$CONNS" -d"${SECONDS_}s" "$BASE$REQ_PATH" | tee "$OUT/wrk.txt" >&2
failed=0
for p in "${perf_pids[@]}"; do wait "$p" || failed=1; done
perf_pids=()
if (( failed )); then
  for f in "$TMP"/perf-*.log; do [ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  echo "[profile] perf failed (perf events need root or kernel.perf_event_paranoid <= 1)" >&2
  exit 1
fi

for name in ingress broker worker; do
  {
    echo "# $name (pid ${PIDS[$name]}): $BASE$REQ_PATH, ${SECONDS_} s, $CONNS connections"
    echo "## self time by symbol"
    perf report -i "$OUT/$name.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 1 |
      grep -v '^$' | grep -v '^# \(To display\|Tip\|(Tip\)' | head -n 45
    echo "## with children, by thread (comm)"
    perf report -i "$OUT/$name.data" --stdio --children --sort comm -g none --percent-limit 2 |
      grep -v '^$' | grep -v '^# \(To display\|Tip\|(Tip\)' | head -n 25
  } >"$OUT/$name.txt"
  echo "[profile] $OUT/$name.txt" >&2
done
# Which process each thread of stat.txt belongs to (perf prints comm-tid only).
{
  echo "# process  pid: thread ids (for stat.txt)"
  for name in ingress broker worker; do
    echo "$name ${PIDS[$name]}: $(ls "/proc/${PIDS[$name]}/task" 2>/dev/null | tr '\n' ' ')"
  done
} >"$OUT/threads.txt"
echo "[profile] $OUT/stat.txt (context switches and CPU per thread; $OUT/threads.txt maps threads to processes)" >&2
