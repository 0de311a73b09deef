#!/usr/bin/env bash
# A group in full (issue 23, target 2): what `GET /Groups/{id}` with all its members costs as the
# group grows. For each size it starts scimd on a fresh database, creates a template user and a
# group through the API, copies the template into SIZE users and makes them all members with
# SQL (seconds, where the API would take minutes at 1M; the rows are the ones the API writes,
# with their own ids, names and member rows), then
#   - sends GB_GETS full GETs one after the other on one connection (curl) and reports the
#     server's CPU per request (utime + stime of the process, /proc) and the database's on
#     PostgreSQL, with the time to the first byte and the whole answer;
#   - for sizes of GB_STREAM_MIN members and more, sends one GET while sampling the server's
#     resident memory every 20 ms, and checks that the body holds SIZE members.
# It builds nothing: pass the release directory (cargo build --release -p scimd).
#
#   scripts/group-bench.sh [path/to/target/release]
#
# Knobs: GB_BACKENDS ("sqlite postgres"), GB_SIZES ("5000 1000000"), GB_GETS (100; 3 for sizes of
# GB_STREAM_MIN and more), GB_STREAM_MIN (100000), GB_PG_URL, GB_PERF (a path: record the server
# with perf during the GETs, one file per backend and size).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release}
BACKENDS=${GB_BACKENDS:-"sqlite postgres"}
SIZES=${GB_SIZES:-"5000 1000000"}
GETS=${GB_GETS:-100}
STREAM_MIN=${GB_STREAM_MIN:-100000}
PG_URL=${GB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d /tmp/scimd-group-bench.XXXXXX)
PID=""
DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN/scimd" ] || { echo "no scimd binary in $BIN" >&2; exit 2; }
TICK=$(getconf CLK_TCK)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

printf '| backend | members | GETs | server CPU ms/GET | database CPU ms/GET | first byte ms | whole answer ms | body MiB | peak RSS MiB (before) |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for backend in $BACKENDS; do
    for size in $SIZES; do
        fresh_database "$backend" "$WORK" "$PG_URL" "scimd_group_bench_$$"
        url=$DB_URL target=$DB_TARGET file=$DB_TARGET
        start_scimd "$BIN" "$url" "$WORK/scimd.out"
        PID=$SCIMD_PID
        base="http://127.0.0.1:$SCIMD_PORT/scim/v2"
        auth="Authorization: Bearer $SCIMD_KEY"
        post() {
            curl -sf -H "$auth" -H 'Content-Type: application/scim+json' -d "$2" "$base/$1" |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
        }
        template=$(post Users '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"template@example.com","externalId":"ext-template","active":true,"displayName":"Template","emails":[{"value":"template@example.com","type":"work","primary":true}],"name":{"givenName":"G","familyName":"F"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"0"}}')
        group=$(post Groups '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone","externalId":"grp-everyone"}')
        seed_users "$backend" "$target" "$template" "$size"
        members="INSERT INTO group_members SELECT tenant_id, '$group', id, 'User' FROM users WHERE id <> '$template';
            UPDATE groups SET member_count = (SELECT COUNT(*) FROM group_members WHERE group_id = '$group') WHERE id = '$group';"
        case $backend in
            sqlite) sqlite3 "$file" "PRAGMA busy_timeout = 10000; $members PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null ;;
            postgres) psql "$url" -qc "$members" -c "VACUUM ANALYZE" >/dev/null ;;
        esac
        gets=$GETS
        [ "$size" -ge "$STREAM_MIN" ] && gets=3
        curl -sf -o /dev/null -H "$auth" "$base/Groups/$group" # warm-up
        rss_before=$(awk '/VmRSS/{print $2}' "/proc/$PID/status")
        # Peak resident memory while the GETs run, sampled every 20 ms.
        (peak=0; while kill -0 "$PID" 2>/dev/null && [ ! -e "$WORK/stop" ]; do
            r=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
            [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$WORK/peak"
            sleep 0.02; done) &
        sampler=$!
        pg=()
        [ "$backend" = postgres ] && mapfile -t pg < <(pg_backends "$PG_URL")
        s0=$(cpu_ticks "$PID"); d0=$(cpu_ticks "${pg[@]}")
        urls=()
        for _ in $(seq "$gets"); do urls+=("$base/Groups/$group" -o /dev/null); done
        if [ -n "${GB_PERF:-}" ]; then
            perf record -F 1999 -g -p "$PID" -o "$GB_PERF.$backend.$size" 2>/dev/null &
            perf_pid=$!
            sleep 0.5
        fi
        curl -sf -H "$auth" -w '%{time_starttransfer} %{time_total} %{size_download}\n' "${urls[@]}" >"$WORK/times"
        if [ -n "${GB_PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
        s1=$(cpu_ticks "$PID"); d1=$(cpu_ticks "${pg[@]}")
        touch "$WORK/stop"; wait "$sampler" 2>/dev/null || true; rm -f "$WORK/stop"
        peak=$(cat "$WORK/peak" 2>/dev/null || echo 0); rm -f "$WORK/peak"
        # The body holds every member, each once.
        curl -sf -H "$auth" "$base/Groups/$group" -o "$WORK/body.json"
        python3 - "$WORK/body.json" "$size" <<'EOF'
import json, sys
body = json.load(open(sys.argv[1]))
ids = [m["value"] for m in body.get("members", [])]
assert len(ids) == int(sys.argv[2]) and len(set(ids)) == len(ids), (len(ids), sys.argv[2])
EOF
        rm -f "$WORK/body.json"
        read -r ttfb total bytes < <(awk '{a+=$1; b+=$2; c+=$3} END {printf "%.1f %.1f %.1f\n", 1000*a/NR, 1000*b/NR, c/NR/1048576}' "$WORK/times")
        server=$(python3 -c "print(f'{1000*($s1-$s0)/$TICK/$gets:.2f}')")
        database="–"
        [ "$backend" = postgres ] && database=$(python3 -c "print(f'{1000*($d1-$d0)/$TICK/$gets:.2f}')")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) |\n' "$backend" "$size" "$gets" \
            "$server" "$database" "$ttfb" "$total" "$bytes" "$((peak / 1024))" "$((rss_before / 1024))"
        kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
        if [ "$backend" = postgres ]; then
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""
        fi
    done
done
