#!/usr/bin/env bash
# User-space instructions per GET /scim/v2/Users/{id}, with the API key and with an OAuth
# access token, under valgrind's callgrind (counts instructions, not seconds: repeatable on a
# noisy VM). One scimd worker; the load is a keep-alive Python loop outside the measured
# process; each phase is zeroed, measured over N requests and dumped, key/token/key/token.
#
#   scripts/oauth-callgrind.sh [sqlite|postgres] [path/to/release/scimd]
#
# Knobs: N (500 requests per phase), OB_PG_URL. Needs valgrind, curl, python3.
set -euo pipefail
backend=${1:-sqlite}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/scimd}
N=${N:-500}
PG_URL=${OB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
W=$(mktemp -d /tmp/scimd-callgrind.XXXXXX)
VPID=""
DB=""
cleanup() {
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
case $backend in
    sqlite) url="sqlite://$W/cg.db?mode=rwc" ;;
    postgres)
        DB="scimd_callgrind_$$"
        psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
        url="${PG_URL%/*}/$DB" ;;
    *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
esac
SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$port SCIMD_LOG=warn SCIMD_WORKERS=1 \
    SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_OAUTH_TOKENS_PER_MINUTE=0 SCIMD_EXPIRY_INTERVAL=0 \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg.out" "$BIN" \
    > "$W/out" 2>&1 &
VPID=$!
for _ in $(seq 600); do grep -q 'scimd_api_' "$W/out" 2>/dev/null && break; sleep 0.2; done
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.3; done
key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$W/out" | head -1)
admin=$(grep -o 'scimd_api_[A-Za-z0-9]*' "$W/out" | head -1)
client_id=$(curl -fs -H "Authorization: Bearer $admin" "$base/api/default/admin/apiKeys" \
    | python3 -c 'import json,sys; print([k["clientId"] for k in json.load(sys.stdin) if k["scope"]=="scim"][0])')
user=$(curl -fs -X POST "$base/scim/v2/Users" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cg@example.test"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
access=$(curl -fs -X POST "$base/oauth2/default/token" -u "$client_id:$key" \
    -d grant_type=client_credentials | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat > "$W/load.py" <<PY
import http.client, sys
token, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", $port)
for _ in range(n):
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
path="/scim/v2/Users/$user"
python3 "$W/load.py" "$key" "$path" 200
python3 "$W/load.py" "$access" "$path" 200
phase() {
    callgrind_control -z "$VPID" >/dev/null 2>&1
    callgrind_control -i on "$VPID" >/dev/null 2>&1
    python3 "$W/load.py" "$1" "$path" "$N"
    callgrind_control -i off "$VPID" >/dev/null 2>&1
    callgrind_control -d "$2" "$VPID" >/dev/null 2>&1
    sleep 1
    local f total
    f=$(ls -t "$W"/cg.out.* | head -1)
    total=$(grep -h '^totals:' "$f" | head -1 | awk '{print $2}')
    echo "$backend $2: $((total / N)) instructions/request"
}
phase "$key" key
phase "$access" token
phase "$key" key
phase "$access" token
