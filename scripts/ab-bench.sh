#!/usr/bin/env bash
# Two (or more) release builds of scimd side by side on the phases of scripts/bench.sh, run by
# run interleaved (A, B, A, B, ...), each run on a fresh database: what issue 23 measures "before
# and after" (server CPU per request), on a VM whose speed drifts between minutes.
#
#   scripts/ab-bench.sh label=path/to/scimd label=path/to/scimd ...
#
# Knobs: AB_RUNS (3 runs per build), AB_N (5000 users and members), AB_BACKEND (sqlite or
# postgres), AB_PG_URL, AB_C (16), AB_PHASES (1,2,3,4,5,6), AB_BENCH (the scim-bench binary,
# default: beside the first scimd), AB_LIMIT (seconds after which each phase but 1 and 4a stops
# issuing requests: scim-bench's --phase-limit, 900 by default), AB_ENV (extra VAR=value settings for every scimd, e.g.
# "SCIMD_EVENTS_CAPTURE=false SCIMD_ACTIVITY=false" to compare with a build older than them). Prints a Markdown table of each phase's mean ops/s and mean
# server CPU ms per request per build, and the static responder's CPU per request (the
# load generator's ceiling, which issue 23 compares reads with), then a second table of each
# phase's mean p99 latency per build. Everything listens on 127.0.0.1.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 label=scimd label=scimd ..." >&2; exit 2; }
RUNS=${AB_RUNS:-3}
N=${AB_N:-5000}
BACKEND=${AB_BACKEND:-sqlite}
PG_URL=${AB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
C=${AB_C:-16}
PHASES=${AB_PHASES:-1,2,3,4,5,6}
first=${1#*=}
BENCH=${AB_BENCH:-$(dirname "$first")/scim-bench}
W=$(mktemp -d /tmp/scimd-ab.XXXXXX)
PID=""
DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

"$BENCH" static-responder --listen 127.0.0.1:18199 >"$W/static.out" 2>&1 &
PID=$!
sleep 0.5
"$BENCH" ceiling --base-url http://127.0.0.1:18199 --token unused -c "$C" --requests 100000 \
    --server-pid "$PID" --label static --json-out "$W/static.json" >/dev/null
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""

for run in $(seq "$RUNS"); do
    for pair in "$@"; do
        label=${pair%%=*}; bin=${pair#*=}
        case $BACKEND in
            sqlite) url="sqlite://$W/$label-$run.db?mode=rwc" ;;
            postgres)
                DB="scimd_ab_$$_${run}_${label//[^a-zA-Z0-9]/_}"
                psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
                url="${PG_URL%/*}/$DB" ;;
        esac
        out=$W/$label-$run.out
        # shellcheck disable=SC2086 # AB_ENV is a list of VAR=value words
        env ${AB_ENV:-} SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:18180 SCIMD_LOG=warn \
            SCIMD_RATE_LIMIT_PER_SECOND=0 "$bin" >"$out" 2>&1 &
        PID=$!
        wait_for "$out" 'scimd_scim_'
        key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$out" | head -1)
        echo "ab-bench: run $run, $label" >&2
        "$BENCH" run --base-url http://127.0.0.1:18180/scim/v2 --token "$key" -c "$C" -n "$N" \
            -m "$N" --rfc-shapes --phases "$PHASES" --phase-limit "${AB_LIMIT:-900}" --server-pid "$PID" --label "$label" \
            --json-out "$W/$label-$run.json" >/dev/null
        kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
        if [ -n "$DB" ]; then
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""
        fi
    done
done

python3 - "$W" "$@" <<'PY'
import json, sys, glob, statistics as st
w, labels = sys.argv[1], [p.split("=", 1)[0] for p in sys.argv[2:]]
static = json.load(open(f"{w}/static.json"))["phases"][0]["server_cpu_ms_per_op"]
runs = {l: [json.load(open(f)) for f in sorted(glob.glob(f"{w}/{l}-*.json"))] for l in labels}
phases = [p["phase"] for p in runs[labels[0]][0]["phases"]]
print("| phase | " + " | ".join(f"{l} ops/s" for l in labels) + " | "
      + " | ".join(f"{l} CPU ms/op" for l in labels) + " | change |")
print("| --- |" + " ---: |" * (2 * len(labels) + 1))
for ph in phases:
    ops, cpu = [], []
    for l in labels:
        rs = [p for r in runs[l] for p in r["phases"] if p["phase"] == ph and not p.get("unsupported")]
        ops.append(st.mean(p["ops_per_sec"] for p in rs) if rs else float("nan"))
        cpu.append(st.mean(p["server_cpu_ms_per_op"] for p in rs) if rs else float("nan"))
        if any(p["errors"] for p in rs):
            ph_err = sum(p["errors"] for p in rs)
            print(f"<!-- {l} {ph}: {ph_err} errors -->")
    change = f"{(cpu[-1] / cpu[0] - 1) * 100:+.0f}%" if cpu[0] else "—"
    print(f"| {ph} | " + " | ".join(f"{o:,.0f}" for o in ops) + " | "
          + " | ".join(f"{c:.3f}" for c in cpu) + f" | {change} |")
print("\n| phase | " + " | ".join(f"{l} p99 ms" for l in labels) + " |")
print("| --- |" + " ---: |" * len(labels))
for ph in phases:
    p99 = []
    for l in labels:
        rs = [p for r in runs[l] for p in r["phases"] if p["phase"] == ph and not p.get("unsupported")]
        p99.append(st.mean(p["p99_ms"] for p in rs) if rs else float("nan"))
    print(f"| {ph} | " + " | ".join(f"{v:.2f}" for v in p99) + " |")
print(f"\nstatic responder: {static:.4f} ms of server CPU per request; runs per build: {len(runs[labels[0]])}")
PY
