#!/usr/bin/env bash
# User-space instructions per SCIM write with a feature's switch (EC_SWITCH, by default
# SCIMD_EVENTS_CAPTURE: provisioning events; SCIMD_ACTIVITY: provisioning activity) false and
# true, under valgrind's callgrind: counts instructions, not
# seconds, so the difference is repeatable on a noisy VM. One scimd worker per run; the load
# is a keep-alive Python client outside the measured process; each phase is zeroed, measured
# over N requests and dumped. Work paced by the clock rather than by requests is switched off
# (the expiry sweep; the webhook delivery loop, which has no endpoint to serve here and whose
# idle passes would be counted by how long a phase lasts under valgrind, not by its requests). Phases: create a user, PATCH it (Entra's shape), deactivate it,
# delete it; and a single-member group PATCH. EC_PHASES picks phases (also `get`: GET
# /Users/{id}, and `lookup`: a list filtered by userName, both of the users created).
#
#   scripts/events-callgrind.sh [sqlite|postgres] [path/to/release/scimd]
#
# Knobs: N (300 requests per phase), EC_SWITCH (SCIMD_EVENTS_CAPTURE), EC_PG_URL, EC_KEEP=1 (keep the callgrind profiles),
# EC_SETTLE (seconds the count goes on after a phase's last request, so that work it left
# behind, such as the activity writer's last flush, is counted in it: by default
# SCIMD_ACTIVITY_FLUSH_MS plus half a second). Needs valgrind, curl, python3.
set -euo pipefail
backend=${1:-sqlite}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/scimd}
N=${N:-300}
SWITCH=${EC_SWITCH:-SCIMD_EVENTS_CAPTURE}
PG_URL=${EC_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SETTLE=${EC_SETTLE:-$(python3 -c "print(${SCIMD_ACTIVITY_FLUSH_MS:-200} / 1000 + 0.5)")}
W=$(mktemp -d /tmp/scimd-events-callgrind.XXXXXX)
VPID=""
DB=""
cleanup() {
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    if [ -n "${EC_KEEP:-}" ]; then echo "profiles kept in $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

cat > "$W/load.py" <<'PY'
import http.client, json, sys, urllib.parse
port, token, phase, n, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
c = http.client.HTTPConnection("127.0.0.1", port)
ids_file = f"{sys.argv[6]}/ids-{tag}.json"
def call(method, path, body=None, ok=(200, 201, 204)):
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"})
    r = c.getresponse(); data = r.read()
    assert r.status in ok, (r.status, data)
    return json.loads(data) if data else None
patch = lambda ops: {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}
if phase == "create":
    ids = [call("POST", "/scim/v2/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"{tag}-{i}@example.test",
        "externalId": f"{tag}-{i}", "active": True, "displayName": f"User {i}",
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": f"{tag}-{i}@example.test", "type": "work", "primary": True}]})["id"] for i in range(n)]
    json.dump(ids, open(ids_file, "w"))
else:
    ids = json.load(open(ids_file))
    for i, uid in enumerate(ids[:n]):
        if phase == "patch":
            call("PATCH", f"/scim/v2/Users/{uid}", patch([{"op": "Replace", "path": "displayName", "value": f"Renamed {i}"}]))
        elif phase == "deactivate":
            call("PATCH", f"/scim/v2/Users/{uid}", patch([{"op": "Replace", "path": "active", "value": "False"}]))
        elif phase == "member":
            gid = json.load(open(f"{sys.argv[6]}/group-{tag}.json"))
            call("PATCH", f"/scim/v2/Groups/{gid}", patch([{"op": "Add", "path": "members", "value": [{"value": uid}]}]))
        elif phase == "get":
            call("GET", f"/scim/v2/Users/{uid}")
        elif phase == "lookup":
            call("GET", "/scim/v2/Users?filter=" + urllib.parse.quote(f'userName eq "{tag}-{i}@example.test"'))
        elif phase == "delete":
            call("DELETE", f"/scim/v2/Users/{uid}")
PY

for capture in false true; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $backend in
        sqlite) url="sqlite://$W/cg-$capture.db?mode=rwc" ;;
        postgres)
            DB="scimd_events_cg_$$"
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
            psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
            url="${PG_URL%/*}/$DB" ;;
        *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
    esac
    SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$port SCIMD_LOG=warn SCIMD_WORKERS=1 \
        SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_EXPIRY_INTERVAL=0 SCIMD_WEBHOOK_POLL_MS=0 \
        env "$SWITCH=$capture" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg-$capture.out" "$BIN" \
        > "$W/out-$capture" 2>&1 &
    VPID=$!
    for _ in $(seq 600); do grep -q 'scimd_api_' "$W/out-$capture" 2>/dev/null && break; sleep 0.2; done
    base=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.3; done
    key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$W/out-$capture" | head -1)
    # Warm up (first requests fill caches and pools), and a group for the member phase.
    python3 "$W/load.py" "$port" "$key" create 50 warm "$W"
    python3 "$W/load.py" "$port" "$key" patch 50 warm "$W"
    curl -fs -X POST "$base/scim/v2/Groups" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/scim+json' -d '{"displayName":"cg"}' \
        | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["id"]))' > "$W/group-m.json"
    sleep "$SETTLE"  # the warm-up's records are written before the first count
    for phase in ${EC_PHASES:-create patch deactivate member delete}; do
        callgrind_control -z "$VPID" >/dev/null 2>&1
        callgrind_control -i on "$VPID" >/dev/null 2>&1
        python3 "$W/load.py" "$port" "$key" "$phase" "$N" m "$W"
        # Work a phase leaves behind (the activity writer's last flush) is counted in it.
        sleep "$SETTLE"
        callgrind_control -i off "$VPID" >/dev/null 2>&1
        callgrind_control -d "$phase" "$VPID" >/dev/null 2>&1
        sleep 1
        f=$(ls -t "$W"/cg-$capture.out.* | head -1)
        total=$(grep -h '^totals:' "$f" | head -1 | awk '{print $2}')
        echo "$backend $SWITCH=$capture $phase: $((total / N)) instructions/request"
    done
    kill "$VPID"; wait "$VPID" 2>/dev/null || true; VPID=""
    [ "$backend" = postgres ] && { psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; }
done
