#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses (tests/fuzz) with clang under
# ASan + UBSan in build-fuzz/ and runs each for FUZZ_SECONDS (default 60),
# starting from the committed seeds. FUZZ_HARNESSES picks some ("json ops").
# The ops harness gets a roost-embedded-db of its own on a free loopback
# port in a temp dir, stopped by its pid at the end. A crash leaves its
# input in build-fuzz/artifacts/<harness>/; copy it to
# tests/fuzz/regressions/<harness>/ with the fix, and `make test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-60}
HARNESSES=${FUZZ_HARNESSES:-json query headers dates envelope ops odata}
BUILD=${FUZZ_BUILD:-build-fuzz}

ROOST_NEED_EMBEDDED_DB=1 scripts/setup.sh fuzz
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang -DROOST_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
cmake --build "$BUILD"

DB_PID=""
TMP=$(mktemp -d -t roost-fuzz-XXXXXX)
cleanup() {
  if [ -n "$DB_PID" ]; then kill "$DB_PID" 2>/dev/null || true; wait "$DB_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if [[ " $HARNESSES " == *" ops "* ]]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${ROOST_TOOLS_DIR:-$HOME/.cache/roost/bin}/roost-embedded-db" -listen-addr "127.0.0.1:$PORT" \
    -data-dir "$TMP/db" >"$TMP/db.log" 2>&1 &
  DB_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  export ROOST_MONGODB_URI="mongodb://127.0.0.1:$PORT/?serverSelectionTimeoutMS=2000"
  # Other services an op asks are not running: let those calls fail fast.
  export ROOST_POOL_URL="tcp://127.0.0.1:1" ROOST_REQUEST_TIMEOUT_MS=200
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for h in $HARNESSES; do
  corpus="$BUILD/corpus/$h" artifacts="$BUILD/artifacts/$h/"
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$h"/* "$corpus"/ 2>/dev/null || true
  if [ -d tests/fuzz/regressions/"$h" ]; then cp -n tests/fuzz/regressions/"$h"/* "$corpus"/ 2>/dev/null || true; fi
  echo "== fuzzing $h for ${SECONDS_EACH}s =="
  log="$BUILD/$h.log"
  if "$BUILD/tests/fuzz/${h}_fuzz" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
       -rss_limit_mb=2048 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log and $artifacts)"
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || echo '?')
  summary+=("$(printf '%-9s %-8s execs=%s exec/s=%s %s corpus=%s' "$h" "$result" "$execs" "$rate" "$cov" \
    "$(ls "$corpus" | wc -l)")")
done
echo "== fuzz summary (FUZZ_SECONDS=$SECONDS_EACH) =="
printf '%s\n' "${summary[@]}"
exit $status
