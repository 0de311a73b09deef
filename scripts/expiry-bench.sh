#!/usr/bin/env bash
# Times the expiry sweep over many keys, on SQLite and (with SCIMD_TEST_DATABASE_URL) on
# PostgreSQL, with the process's peak memory: N keys (default 100000) all entering the 30-day
# window at once (the worst case: one warning each), a second sweep (nothing new: the steady
# state), and the purge of all N keys 90 days after expiry.
#
#   cargo build --release && scripts/expiry-bench.sh [path/to/scimd]
#
# No SMTP is configured, so the warnings stay queued: this measures the sweep, not a mail
# server. Results go to stdout; docs/PERFORMANCE.md keeps the last figures.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-${CARGO_TARGET_DIR:-target}/release/scimd}"
[ -x "$bin" ] || { echo "no scimd binary at $bin (cargo build --release first)" >&2; exit 2; }
n="${N:-100000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

timed() { # label, then the command
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || {
    cat "$work/out" "$work/err" >&2; exit 1; }
  read -r secs kib < "$work/time"
  printf '  %-34s %8.2f s  peak RSS %6d MiB   %s\n' "$label" "$secs" $((kib / 1024)) \
    "$(tr '\n' ' ' < "$work/out")"
}

run() { # label database-url insert-command...
  local label="$1" url="$2"; shift 2
  export SCIMD_DATABASE_URL="$url" SCIMD_LOG=warn SCIMD_BOOTSTRAP=false
  "$bin" migrate > /dev/null
  "$bin" tenant create bench --admin-email ops@bench.test > /dev/null
  "$@"
  local now purge
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  purge="$(date -u -d '+111 days' +%Y-%m-%dT%H:%M:%SZ)"
  echo "== $label, $n keys"
  timed "sweep: $n warnings queued" "$bin" expiry run --once --now "$now"
  timed "sweep again: nothing due" "$bin" expiry run --once --now "$now"
  timed "sweep +111 days: purge $n keys" "$bin" expiry run --once --now "$purge"
  unset SCIMD_DATABASE_URL
}

sqlite_keys() {
  sqlite3 "$work/bench.db" <<SQL
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $n)
INSERT INTO api_keys (id, tenant_id, name, scope, permissions, options, token_hash, hash_alg,
                      token_hint, enabled, created_at, expires_at, updated_at)
SELECT printf('00000000-0000-0000-0000-%012d', i), 'bench', printf('key-%07d', i), 'scim',
       '["scim:read"]', '{}', printf('%064d', i), 'sha256', 'scimd_scim_…', 1,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-345 days'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+20 days', printf('+%d seconds', i % 86400)),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-345 days')
FROM seq;
SQL
}

run sqlite "sqlite://$work/bench.db?mode=rwc" sqlite_keys

if [ -n "${SCIMD_TEST_DATABASE_URL:-}" ]; then
  db="scimd_expiry_bench_$$"
  base="${SCIMD_TEST_DATABASE_URL%/*}"
  psql -q "$SCIMD_TEST_DATABASE_URL" -c "CREATE DATABASE $db"
  trap 'rm -rf "$work"; psql -q "$SCIMD_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
  pg_keys() {
    psql -q "$base/$db" -c "
INSERT INTO api_keys (id, tenant_id, name, scope, permissions, options, token_hash, hash_alg,
                      token_hint, enabled, created_at, expires_at, updated_at)
SELECT lpad(i::text, 36, '0'), 'bench', 'key-' || lpad(i::text, 7, '0'), 'scim',
       '[\"scim:read\"]'::jsonb, '{}'::jsonb, lpad(i::text, 64, '0'), 'sha256', 'scimd_scim_…',
       true, now() - interval '345 days', now() + interval '20 days' + (i % 86400) * interval '1 second',
       now() - interval '345 days'
FROM generate_series(1, $n) AS i; ANALYZE;"
  }
  run postgres "$base/$db" pg_keys
fi
