#!/usr/bin/env bash
# Installs everything Roost needs to build, run and test, idempotently:
# Debian packages (as root or through sudo), the Python test tools in
# .venv/, the npm packages in node_modules/, roost-embedded-db (Roost's
# MongoDB wire server on SQLite, embedded-db, built with Go from the
# module proxy) when no ROOST_MONGODB_URI is set and no mongod is on PATH,
# and the deployment checkers kustomize and roost-compose-check (also from
# the Go module proxy); with the argument `fuzz`, clang and libFuzzer for
# `make fuzz`. Safe to run again and again: each step checks
# before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
  SUDO="sudo"
fi

# --- Debian packages -----------------------------------------------------
PACKAGES=(build-essential cmake ninja-build pkg-config git curl
          libh2o-evloop-dev libssl-dev libuv1-dev libnng-dev libmongoc-dev libbson-dev
          libcmocka-dev clang-format libsodium-dev libjwt-dev libutf8proc-dev libvips-dev libwebp-dev libbrotli-dev zlib1g-dev libsqlite3-dev libmicrohttpd-dev prometheus wrk golang-go python3 python3-venv
          nodejs npm chromium)
# `scripts/setup.sh fuzz` (make fuzz) adds clang and libFuzzer.
if [ "${1:-}" = fuzz ]; then PACKAGES+=(clang libfuzzer-14-dev); fi
missing=()
for p in "${PACKAGES[@]}"; do
  # golang-go and python3 may come from elsewhere (e.g. /usr/local/go, pyenv).
  case "$p" in
    golang-go) command -v go >/dev/null && continue ;;
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    python3) command -v python3 >/dev/null && continue ;;
    python3-venv) python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Python test tools ---------------------------------------------------
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
REQS=tests/requirements.txt
if ! cmp -s "$REQS" "$VENV/.requirements" 2>/dev/null; then
  say "installing Python test tools"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$VENV/.requirements"
fi

# --- front-end assets and the browser test's driver -------------------------
# Swagger UI for /docs, Leaflet for the browse page's map and
# playwright-core, from the npm registry, pinned by
# package-lock.json. No install scripts run (one dependency's only script
# reports telemetry), and the browser test uses Debian's chromium, never a
# downloaded browser.
if ! cmp -s package-lock.json node_modules/.roost-lock 2>/dev/null; then
  say "installing npm packages (swagger-ui-dist, leaflet, playwright-core)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.roost-lock
fi

# --- the embedded database -------------------------------------------------
TOOLS="${ROOST_TOOLS_DIR:-$HOME/.cache/roost/bin}"
mkdir -p "$TOOLS"
stamp="$TOOLS/roost-embedded-db.stamp"
want="$(find embedded-db -name '*.go' | LC_ALL=C sort | xargs cat embedded-db/go.mod embedded-db/go.sum | sha256sum | cut -c1-16)"
if [ -n "${ROOST_MONGODB_URI:-}" ] && [ "${ROOST_NEED_EMBEDDED_DB:-0}" != 1 ]; then
  say "ROOST_MONGODB_URI is set: no embedded database needed"
elif command -v mongod >/dev/null && [ "${ROOST_NEED_EMBEDDED_DB:-0}" != 1 ]; then
  say "using mongod from PATH"
elif [ -x "$TOOLS/roost-embedded-db" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  : # already built from these sources
else
  say "building roost-embedded-db (embedded-db: MongoDB wire protocol over SQLite)"
  # -tags libsqlite3: link Debian's SQLite rather than compile the amalgamation.
  # go mod download also fetches what its tests (in make test) use.
  (cd embedded-db && go mod download && CGO_ENABLED=1 go build -tags libsqlite3 -trimpath \
     -o "$TOOLS/roost-embedded-db" .)
  echo "$want" > "$stamp"
fi

# --- the deployment checkers -----------------------------------------------
# tests/integration/test_manifests.py renders k8s/ with kustomize and loads
# deploy/compose.yaml with roost-compose-check (compose-go, the loader of
# `docker compose`); both are built from the Go module proxy, no Docker needed.
KUSTOMIZE_VERSION=v5.8.1
if [ "$("$TOOLS/kustomize" version 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]; then
  say "installing kustomize $KUSTOMIZE_VERSION"
  GOBIN="$TOOLS" GOFLAGS='' go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
stamp="$TOOLS/roost-compose-check.stamp"
want="$(cat tools/compose-check/go.mod tools/compose-check/go.sum tools/compose-check/main.go | sha256sum | cut -c1-16)"
if [ ! -x "$TOOLS/roost-compose-check" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "building roost-compose-check"
  (cd tools/compose-check && GOFLAGS=-mod=mod go build -o "$TOOLS/roost-compose-check" .)
  echo "$want" > "$stamp"
fi
say "ready"
