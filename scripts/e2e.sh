#!/usr/bin/env bash
# End-to-end tests of the admin console in a real headless browser: Debian's chromium (and
# chromium-driver) driven by playwright-core (pinned in e2e/package-lock.json), against the
# scimd binary on a fresh SQLite database. Installs what is missing, builds the debug binary
# unless one is given, and writes screenshots to docs/screenshots/.
#
#   scripts/e2e.sh [path/to/scimd]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

if [ $# -ge 1 ]; then
  bin="$1"
else
  cargo_cmd="cargo"
  command -v xcargo >/dev/null 2>&1 && cargo_cmd="xcargo"
  "$cargo_cmd" build --bin scimd
  bin="${CARGO_TARGET_DIR:-target}/debug/scimd"
fi
[ -x "$bin" ] || { echo "no scimd binary at $bin" >&2; exit 2; }

(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
SCIMD_BIN="$(realpath "$bin")" CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}" \
  node --test e2e/console.test.mjs
