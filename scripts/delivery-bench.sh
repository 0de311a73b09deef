#!/usr/bin/env bash
# Webhook delivery measured (issue 20): a receiver on loopback (scripts/webhook_receiver.py),
# scimd (release) on a fresh SQLite or PostgreSQL database, the benchmark's sync phase
# (scim-bench phase 1: lookup + create, Entra's shapes) as the load.
#   1. Lag under sync: DB_N users created while the receiver is up; per event, the time from
#      its capture (the event's `time`, set in the write's transaction) to its arrival; p50,
#      p99, max; and events delivered per second.
#   2. Backlog drain: DB_BACKLOG users created while the receiver answers 503; then it answers
#      again: the wait for the next attempt (back-off) and the time to deliver the backlog.
# It builds nothing: pass the release directory (cargo build --release -p scimd -p scim-bench).
#
#   scripts/delivery-bench.sh [path/to/target/release]
#
# Knobs: DB_BACKENDS ("sqlite postgres"), DB_PG_URL, DB_N (10000), DB_BACKLOG (100000; 0 skips
# the backlog run), DB_C (16).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release}
BACKENDS=${DB_BACKENDS:-"sqlite postgres"}
PG_URL=${DB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
N=${DB_N:-10000}
BACKLOG=${DB_BACKLOG:-100000}
C=${DB_C:-16}
OPERATOR=delivery-bench-operator-token-0123456789
WORK=$(mktemp -d /tmp/scimd-delivery-bench.XXXXXX)
PID=""; RPID=""; DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for b in scimd scim-bench; do
    [ -x "$BIN/$b" ] || { echo "no $b binary in $BIN" >&2; exit 2; }
done

# start_scimd BACKEND NAME: a fresh database, scimd on it; sets PID, PORT, KEY.
start_scimd() {
    local backend=$1 name=$2 url
    case $backend in
        sqlite) url="sqlite://$WORK/$name.db?mode=rwc" ;;
        postgres)
            DB="scimd_delivery_bench_$$"
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
            psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
            url="${PG_URL%/*}/$DB" ;;
    esac
    PORT=$(free_port)
    SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$PORT SCIMD_LOG=warn \
        SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_EXPIRY_INTERVAL=0 SCIMD_OPERATOR_TOKEN=$OPERATOR \
        SCIMD_WEBHOOK_ALLOW_HTTP=1 SCIMD_WEBHOOK_ALLOW_PRIVATE=1 SCIMD_WEBHOOK_RETRY_BASE_SECS=1 \
        "$BIN/scimd" >"$WORK/$name.out" 2>&1 &
    PID=$!
    for _ in $(seq 200); do grep -q 'scimd_scim_' "$WORK/$name.out" && break; sleep 0.1; done
    KEY=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$WORK/$name.out" | head -1)
    [ -n "$KEY" ] || { cat "$WORK/$name.out" >&2; exit 1; }
}
stop_scimd() {
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    if [ -n "$DB" ]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; fi
}
# start_receiver: sets RPID, RPORT; the receiver refuses while $WORK/down exists.
start_receiver() {
    RPORT=$(free_port)
    python3 scripts/webhook_receiver.py "$RPORT" --down "$WORK/down" &
    RPID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$RPORT/stats" >/dev/null 2>&1 && break; sleep 0.05; done
}
stop_receiver() { kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=""; }
register() {
    curl -fs -X POST "http://127.0.0.1:$PORT/api/default/admin/webhooks" \
        -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: application/json' \
        -d "{\"url\": \"http://127.0.0.1:$RPORT/hook\", \"eventTypes\": [\"*\"]}" >/dev/null
}
stats() { curl -fs "http://127.0.0.1:$RPORT/stats"; }
# wait_for COUNT: until the receiver has COUNT distinct events (at most 30 minutes).
wait_for() {
    for _ in $(seq 18000); do
        [ "$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["unique"])')" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "delivery-bench: the receiver never got $1 events" >&2; return 1
}
sync() { # COUNT LABEL
    "$BIN/scim-bench" run --base-url "http://127.0.0.1:$PORT/scim/v2" --token "$KEY" \
        -c "$C" -n "$1" --rfc-shapes --phases 1 --server-pid "$PID" --label "$2" \
        --json-out "$WORK/$2.json" >/dev/null 2>"$WORK/$2.err"
}

for backend in $BACKENDS; do
    # 1. Lag under sync.
    start_receiver
    start_scimd "$backend" "lag-$backend"
    register
    sync "$N" "lag-$backend"
    synced=$(date +%s.%N)
    wait_for "$N"
    stats > "$WORK/lag-$backend.stats"
    python3 - "$WORK/lag-$backend.stats" "$WORK/lag-$backend.json" "$backend" "$N" "$synced" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
backend, n, synced = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
phase = b["phases"][0]
rate = s["unique"] / max(1e-9, s["last"] - s["first"])
print(f"{backend}: sync of {n} users at {phase['ops_per_sec']:.0f} ops/s ({phase['errors']} errors); "
      f"{s['unique']} events delivered ({s['delivered'] - s['unique']} twice) at {rate:.0f} events/s; "
      f"lag p50 {s['lag_p50_ms']:.0f} ms, p99 {s['lag_p99_ms']:.0f} ms, max {s['lag_max_ms']:.0f} ms; "
      f"last delivery {max(0.0, s['last'] - synced):.1f} s after the sync ended")
PY
    stop_scimd; stop_receiver

    # 2. Backlog drain.
    [ "$BACKLOG" -gt 0 ] || continue
    touch "$WORK/down"
    start_receiver
    start_scimd "$backend" "backlog-$backend"
    register
    sync "$BACKLOG" "backlog-$backend"
    rm -f "$WORK/down"
    up=$(date +%s.%N)
    wait_for "$BACKLOG"
    stats > "$WORK/backlog-$backend.stats"
    python3 - "$WORK/backlog-$backend.stats" "$backend" "$BACKLOG" "$up" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); backend, n, up = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
print(f"{backend}: backlog of {n} events after {s['refused']} refused attempts: first delivery "
      f"{s['first'] - up:.1f} s after the receiver was back (the back-off), all delivered "
      f"{s['last'] - s['first']:.1f} s later ({s['unique'] / max(1e-9, s['last'] - s['first']):.0f} events/s)")
PY
    stop_scimd; stop_receiver
done
