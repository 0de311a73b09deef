#!/usr/bin/env bash
# Runs the scim2-tester conformance suite against a freshly started scimd, on SQLite and, when
# SCIMD_TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL too.
#
#   scripts/conformance.sh [path/to/scimd]
#
# Against any other deployment: python3 scripts/conformance.py BASE_URL SCIM_KEY (in a
# virtualenv with scripts/conformance-requirements.txt installed).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/scimd}"
[ -x "$bin" ] || { echo "no scimd binary at $bin (build it first)" >&2; exit 2; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
venv="${SCIMD_CONFORMANCE_VENV:-$HOME/.cache/scimd-conformance-venv}"
pinned_venv "$venv" scripts/conformance-requirements.txt

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

run_against() { # label database-url
  local label="$1" url="$2" port
  port=$(free_port)
  SCIMD_DATABASE_URL="$url" SCIMD_LISTEN="127.0.0.1:$port" SCIMD_LOG=warn \
    "$bin" serve > "$work/$label.out" 2> "$work/$label.err" &
  server=$!
  for _ in $(seq 1 100); do
    grep -q 'scimd_api_' "$work/$label.out" 2>/dev/null && break
    sleep 0.1
  done
  local key
  key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$work/$label.out" | head -1)
  [ -n "$key" ] || { echo "scimd did not print a bootstrap key" >&2; cat "$work/$label.err" >&2; exit 1; }
  echo "== scim2-tester on $label"
  "$venv/bin/python" scripts/conformance.py "http://127.0.0.1:$port/scim/v2" "$key"
  # Second pass with the tenant's custom attributes declared and switched on (through the CLI,
  # a separate process: the running server sees it at its next request). scim2-tester 0.5
  # generates no valid decimal or dateTime values and expects PATCH add on a multi-valued
  # attribute to replace it, so the schema sticks to the types it can exercise.
  SCIMD_DATABASE_URL="$url" SCIMD_LOG=warn "$bin" tenant custom-attributes --tenant default \
    --schema scripts/conformance-custom-schema.json --enable > /dev/null
  echo "== scim2-tester on $label, custom attributes on"
  "$venv/bin/python" scripts/conformance.py "http://127.0.0.1:$port/scim/v2" "$key"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
}

run_against sqlite "sqlite://$work/conformance.db?mode=rwc"

if [ -n "${SCIMD_TEST_DATABASE_URL:-}" ]; then
  db="scimd_conformance_$$_$RANDOM"
  base="${SCIMD_TEST_DATABASE_URL%/*}"
  psql "$SCIMD_TEST_DATABASE_URL" -qc "CREATE DATABASE $db"
  trap 'cleanup; psql "$SCIMD_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
  run_against postgres "$base/$db"
fi
