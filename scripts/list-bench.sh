#!/usr/bin/env bash
# Deep lists (issue 23, target 4): what an unfiltered `/Users` page costs as the tenant grows
# and as the page goes deeper. For each size it starts scimd on a fresh database, creates a
# template user through the API and copies it into SIZE users with SQL (seconds, where the API
# would take minutes at 1M; the triggers that keep the tenant's counts run for these rows as for
# any), then measures, each over GETs sent one after the other on one connection (server CPU
# from /proc; the database's on PostgreSQL):
#   - a count-only page (`count=0`),
#   - cursor pages of 100 (the first LB_PAGES pages of a walk from `cursor=`),
#   - `startIndex` pages of 100 at depths 1, SIZE/2 and SIZE - 100 (LB_GETS each),
#   - a filtered page (`filter=userName sw "user1"`, counted by COUNT(*)),
#   - with LB_WALK=1 (the default), the whole walk by startIndex pages of 100, one page after the
#     other, against one process and then against two processes on the same database,
#     alternately; every user seen once.
# It builds nothing: pass the release directory.
#
#   scripts/list-bench.sh [path/to/target/release]
#
# Knobs: LB_BACKENDS ("sqlite postgres"), LB_SIZES ("10000 1000000"), LB_GETS (20), LB_PAGES (50),
# LB_PG_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release}
BACKENDS=${LB_BACKENDS:-"sqlite postgres"}
SIZES=${LB_SIZES:-"10000 1000000"}
GETS=${LB_GETS:-20}
PAGES=${LB_PAGES:-50}
PG_URL=${LB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d /tmp/scimd-list-bench.XXXXXX)
PID=""
PID2=""
DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$PID2" ] && kill "$PID2" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN/scimd" ] || { echo "no scimd binary in $BIN" >&2; exit 2; }
TICK=$(getconf CLK_TCK)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

printf '| backend | users | request | GETs | server CPU ms/GET | database CPU ms/GET | ms/GET (wall) |\n'
printf '|---|---:|---|---:|---:|---:|---:|\n'
for backend in $BACKENDS; do
    for size in $SIZES; do
        fresh_database "$backend" "$WORK" "$PG_URL" "scimd_list_bench_$$"
        url=$DB_URL target=$DB_TARGET file=$DB_TARGET
        start_scimd "$BIN" "$url" "$WORK/scimd.out"
        PID=$SCIMD_PID port=$SCIMD_PORT key=$SCIMD_KEY
        base="http://127.0.0.1:$port/scim/v2"
        auth="Authorization: Bearer $key"
        template=$(curl -sf -H "$auth" -H 'Content-Type: application/scim+json' \
            -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"template@example.com","externalId":"ext-template","active":true,"displayName":"Template","emails":[{"value":"template@example.com","type":"work","primary":true}],"name":{"givenName":"G","familyName":"F"}}' \
            "$base/Users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        seed_users "$backend" "$target" "$template" $((size - 1))
        case $backend in
            sqlite) sqlite3 "$file" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null ;;
            postgres) psql "$url" -qc "VACUUM ANALYZE" >/dev/null ;;
        esac
        pg=()
        [ "$backend" = postgres ] && mapfile -t pg < <(pg_backends "$PG_URL")
        # measure LABEL GETS PATH...: the PATHs (relative to /scim/v2) one after the other.
        measure() {
            local label=$1 count=$2; shift 2
            local urls=() p s0 s1 d0 d1 t0 t1
            for p in "$@"; do urls+=("$base$p" -o /dev/null); done
            s0=$(cpu_ticks "$PID"); d0=$(cpu_ticks "${pg[@]}"); t0=$(date +%s%N)
            curl -sf -H "$auth" "${urls[@]}"
            t1=$(date +%s%N); s1=$(cpu_ticks "$PID"); d1=$(cpu_ticks "${pg[@]}")
            local database="–"
            [ "$backend" = postgres ] && database=$(python3 -c "print(f'{1000*($d1-$d0)/$TICK/$count:.2f}')")
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$backend" "$size" "$label" "$count" \
                "$(python3 -c "print(f'{1000*($s1-$s0)/$TICK/$count:.2f}')")" "$database" \
                "$(python3 -c "print(f'{($t1-$t0)/1e6/$count:.2f}')")"
        }
        curl -sf -o /dev/null -H "$auth" "$base/Users?count=100" # warm-up
        paths=(); for _ in $(seq "$GETS"); do paths+=("/Users?count=0"); done
        measure "count only (count=0)" "$GETS" "${paths[@]}"
        # The cursor walk's first pages (each page's nextCursor is needed for the next one).
        s0=$(cpu_ticks "$PID"); d0=$(cpu_ticks "${pg[@]}"); t0=$(date +%s%N)
        cursor=""
        for _ in $(seq "$PAGES"); do
            cursor=$(curl -sf -H "$auth" "$base/Users?count=100&cursor=$cursor" |
                python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin).get("nextCursor") or "", safe=""))')
        done
        t1=$(date +%s%N); s1=$(cpu_ticks "$PID"); d1=$(cpu_ticks "${pg[@]}")
        database="–"
        [ "$backend" = postgres ] && database=$(python3 -c "print(f'{1000*($d1-$d0)/$TICK/$PAGES:.2f}')")
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$backend" "$size" "cursor page of 100 (first $PAGES of a walk)" "$PAGES" \
            "$(python3 -c "print(f'{1000*($s1-$s0)/$TICK/$PAGES:.2f}')")" "$database" \
            "$(python3 -c "print(f'{($t1-$t0)/1e6/$PAGES:.2f}')")"
        for depth in 1 $((size / 2)) $((size - 100)); do
            paths=(); for _ in $(seq "$GETS"); do paths+=("/Users?count=100&startIndex=$depth"); done
            measure "startIndex=$depth, count=100" "$GETS" "${paths[@]}"
        done
        paths=(); for _ in $(seq "$GETS"); do paths+=("/Users?count=100&filter=userName%20sw%20%22user1%22"); done
        measure "filtered page (userName sw \"user1\")" "$GETS" "${paths[@]}"
        if [ "${LB_WALK:-1}" = 1 ]; then
            # The whole walk by startIndex pages of 100, one page after the other, as an import
            # does: against this process, then against it and a second process on the same
            # database, alternately (round-robin behind a load balancer). Wall time.
            port2=$(free_port)
            SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$port2 SCIMD_LOG=warn \
                SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_EXPIRY_INTERVAL=0 "$BIN/scimd" >"$WORK/scimd2.out" 2>&1 &
            PID2=$!
            for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$port2/healthz" && break; sleep 0.1; done
            for ports in "$port" "$port,$port2"; do
                s0=$(cpu_ticks "$PID" "$PID2"); d0=$(cpu_ticks "${pg[@]}")
                secs=$(python3 - "$ports" "$key" "$size" <<'EOF_WALK'
import http.client, json, sys, time
ports, key, total = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
conns = [http.client.HTTPConnection("127.0.0.1", int(p)) for p in ports]
seen, started = set(), time.time()
for k in range((total + 99) // 100):
    c = conns[k % len(conns)]
    c.request("GET", f"/scim/v2/Users?startIndex={k * 100 + 1}&count=100",
              headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 200 and body["totalResults"] == total, (r.status, body.get("totalResults"))
    seen.update(u["id"] for u in body["Resources"])
assert len(seen) == total, (len(seen), total)
print(f"{time.time() - started:.1f}")
EOF_WALK
)
                s1=$(cpu_ticks "$PID" "$PID2"); d1=$(cpu_ticks "${pg[@]}")
                pages=$(( (size + 99) / 100 ))
                database="–"
                [ "$backend" = postgres ] && database=$(python3 -c "print(f'{1000*($d1-$d0)/$TICK/$pages:.2f}')")
                procs=$(echo "$ports" | tr ',' '\n' | wc -l)
                printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$backend" "$size" \
                    "**whole startIndex walk, $procs process(es): $secs s**" "$pages" \
                    "$(python3 -c "print(f'{1000*($s1-$s0)/$TICK/$pages:.2f}')")" "$database" \
                    "$(python3 -c "print(f'{1000*$secs/$pages:.2f}')")"
            done
            kill "$PID2"; wait "$PID2" 2>/dev/null || true
        fi
        kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
        if [ "$backend" = postgres ]; then
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""
        fi
    done
done
