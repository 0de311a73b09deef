#!/usr/bin/env bash
# The OAuth benchmark of issue 19, in one command, on SQLite and PostgreSQL:
#   - token issuance per second (client_secret_basic at POST /oauth2/{tenantId}/token);
#   - GET /scim/v2/Users/{id} with an access token against the same with the API key, in one
#     run, alternated key/token/key/token…, with throughput (wrk) and the server's CPU time per
#     request (from /proc, so the load generator's share is not counted).
# It builds nothing: pass the release binary (cargo build --release -p scimd).
#
#   scripts/oauth-bench.sh [path/to/release/scimd]
#
# Knobs: OB_BACKENDS ("sqlite postgres"), OB_PG_URL, OB_SECS (10 per run), OB_ROUNDS (3),
# OB_C (16 connections for reads, 4 for token issuance). Needs wrk, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/scimd}
BACKENDS=${OB_BACKENDS:-"sqlite postgres"}
PG_URL=${OB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SECS=${OB_SECS:-10}
ROUNDS=${OB_ROUNDS:-3}
C=${OB_C:-16}
WORK=$(mktemp -d /tmp/scimd-oauth-bench.XXXXXX)
PID=""
DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no scimd binary at $BIN" >&2; exit 2; }
TICKS=$(getconf CLK_TCK)

# CPU seconds (user + system) the server has used so far.
cpu() { awk -v t="$TICKS" '{print ($14 + $15) / t}' "/proc/$PID/stat"; }

# measure LABEL WRK-ARGS...: one run; prints "LABEL ops/s cpu-us/request".
measure() {
    local label=$1; shift
    local before after out requests rps
    before=$(cpu)
    out=$(wrk "$@" 2>&1)
    after=$(cpu)
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    [ -z "$non2xx" ] || { echo "$label: $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
    python3 -c "import sys; print('$label', $rps, round(($after - $before) * 1e6 / $requests, 1))"
}

for backend in $BACKENDS; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $backend in
        sqlite) url="sqlite://$WORK/ob.db?mode=rwc" ;;
        postgres)
            DB="scimd_oauth_bench_$$"
            psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
            url="${PG_URL%/*}/$DB" ;;
    esac
    SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$port SCIMD_LOG=warn \
        SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_OAUTH_TOKENS_PER_MINUTE=0 \
        "$BIN" > "$WORK/out-$backend" 2>&1 &
    PID=$!
    for _ in $(seq 200); do grep -q 'scimd_api_' "$WORK/out-$backend" 2>/dev/null && break; sleep 0.1; done
    base="http://127.0.0.1:$port"
    key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$WORK/out-$backend" | head -1)
    admin=$(grep -o 'scimd_api_[A-Za-z0-9]*' "$WORK/out-$backend" | head -1)
    client_id=$(curl -fs -H "Authorization: Bearer $admin" "$base/api/default/admin/apiKeys" \
        | python3 -c 'import json,sys; print([k["clientId"] for k in json.load(sys.stdin) if k["scope"]=="scim"][0])')
    user=$(curl -fs -X POST "$base/scim/v2/Users" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/scim+json' \
        -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench@example.test"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    basic=$(printf '%s:%s' "$client_id" "$key" | base64 -w0)
    token() {
        curl -fs -X POST "$base/oauth2/default/token" -H "Authorization: Basic $basic" \
            -d grant_type=client_credentials | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    }
    access=$(token)
    cat > "$WORK/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
    path="/scim/v2/Users/$user"
    # Warm-up (connections, caches, the page cache of the database).
    wrk -t2 -c"$C" -d3s -H "Authorization: Bearer $key" "$base$path" > /dev/null
    wrk -t2 -c"$C" -d3s -H "Authorization: Bearer $access" "$base$path" > /dev/null
    for round in $(seq "$ROUNDS"); do
        measure "$backend key GET" -t2 -c"$C" -d"${SECS}s" -H "Authorization: Bearer $key" "$base$path"
        measure "$backend token GET" -t2 -c"$C" -d"${SECS}s" -H "Authorization: Bearer $access" "$base$path"
        measure "$backend issuance" -t2 -c4 -d"${SECS}s" -s "$WORK/token.lua" "$base/oauth2/default/token"
        # Issuance keeps 100 live tokens per key: take a fresh one for the next round.
        access=$(token)
    done
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    if [ -n "$DB" ]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; fi
done
