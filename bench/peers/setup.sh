#!/usr/bin/env bash
# Installs the benchmark peer services (bench/peers/*) from their pinned manifests:
# Python venvs for fastapi/ and eve/, `npm ci` for express/, `go build` for go/.
# Usage: bench/peers/setup.sh [CACHE_DIR]   (default: bench/peers/.cache)
# Idempotent: each step is skipped when a stamp holding the hash of its inputs matches.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${1:-$HERE/.cache}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
PYTHON="${PYTHON:-python3}"

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { [[ -f "$CACHE/$1.stamp" && "$(cat "$CACHE/$1.stamp")" == "$2" ]]; }
stamp() { echo "$2" > "$CACHE/$1.stamp"; }

for py in fastapi eve; do
  h="$(hash_of "$HERE/$py/requirements.txt")"
  if fresh "venv-$py" "$h" && [[ -x "$CACHE/venv-$py/bin/python" ]]; then
    echo "setup: venv-$py up to date"
  else
    echo "setup: building venv-$py"
    rm -rf "$CACHE/venv-$py"
    "$PYTHON" -m venv "$CACHE/venv-$py"
    "$CACHE/venv-$py/bin/pip" install --quiet --disable-pip-version-check --no-deps \
      -r "$HERE/$py/requirements.txt"
    "$CACHE/venv-$py/bin/pip" check
    stamp "venv-$py" "$h"
  fi
done

h="$(hash_of "$HERE/express/package.json" "$HERE/express/package-lock.json")"
if fresh express "$h" && [[ -d "$HERE/express/node_modules" ]]; then
  echo "setup: express node_modules up to date"
else
  echo "setup: npm ci (express)"
  (cd "$HERE/express" && npm ci --no-audit --no-fund --loglevel=error)
  stamp express "$h"
fi

h="$(hash_of "$HERE/go/go.mod" "$HERE/go/go.sum" "$HERE/go/main.go")"
if fresh go "$h" && [[ -x "$CACHE/bin/roost-peer-go" ]]; then
  echo "setup: go peer up to date"
else
  echo "setup: go build"
  mkdir -p "$CACHE/bin"
  (cd "$HERE/go" && "$GO" build -trimpath -o "$CACHE/bin/roost-peer-go" .)
  stamp go "$h"
fi
echo "setup: done ($CACHE)"
