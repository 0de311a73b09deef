#!/usr/bin/env bash
# What a switchable feature costs: the benchmark's phases (scim-bench, the same phases and
# bodies as scripts/bench.sh) against scimd with the feature's switch (EB_SWITCH, by default
# SCIMD_EVENTS_CAPTURE: capturing provisioning events, issue 20; SCIMD_ACTIVITY: recording
# provisioning activity, issue 21) false and true, alternated off/on/on/off on a fresh
# database each run, on SQLite and PostgreSQL, in one run. Prints, per phase, ops/s and the server's (and PostgreSQL's) CPU per request, off and on,
# as medians of the rounds. It builds nothing: pass the release directory
# (cargo build --release -p scimd -p scim-bench).
#
#   scripts/events-bench.sh [path/to/target/release]
#
# Knobs: EB_BACKENDS ("sqlite postgres"), EB_PG_URL, EB_N (5000 users), EB_M (5000 members),
# EB_ROUNDS (2), EB_C (16), EB_PHASES (1,2,3,4,5,6), EB_SWITCH (SCIMD_EVENTS_CAPTURE), EB_PAUSE (5
# seconds of rest before each run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release}
BACKENDS=${EB_BACKENDS:-"sqlite postgres"}
PG_URL=${EB_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
N=${EB_N:-5000}
M=${EB_M:-5000}
ROUNDS=${EB_ROUNDS:-2}
C=${EB_C:-16}
PHASES=${EB_PHASES:-1,2,3,4,5,6}
SWITCH=${EB_SWITCH:-SCIMD_EVENTS_CAPTURE}
PAUSE=${EB_PAUSE:-5}
WORK=$(mktemp -d /tmp/scimd-events-bench.XXXXXX)
PID=""
DB=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ -n "$DB" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for b in scimd scim-bench; do
    [ -x "$BIN/$b" ] || { echo "no $b binary in $BIN" >&2; exit 2; }
done

for backend in $BACKENDS; do
    for round in $(seq "$ROUNDS"); do
        # The order alternates per round (off/on, then on/off), and the machine rests between
        # runs: a run that follows another was measured up to 25% slower on this VM whatever
        # its switch, so a fixed order would charge the second setting for it.
        order="false true"
        [ $((round % 2)) -eq 0 ] && order="true false"
        for capture in $order; do
            sync; sleep "$PAUSE"
            port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
            db_args=()
            case $backend in
                sqlite) url="sqlite://$WORK/eb-$round-$capture.db?mode=rwc" ;;
                postgres)
                    DB="scimd_events_bench_$$"
                    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
                    psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
                    url="${PG_URL%/*}/$DB"
                    pm=$(head -1 "$(psql "$PG_URL" -Atc 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
                    [ -n "$pm" ] && db_args=(--db-parent-pid "$pm") ;;
            esac
            out=$WORK/scimd-$backend-$round-$capture.out
            SCIMD_DATABASE_URL=$url SCIMD_LISTEN=127.0.0.1:$port SCIMD_LOG=warn \
                SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_EXPIRY_INTERVAL=0 \
                env "$SWITCH=$capture" "$BIN/scimd" >"$out" 2>&1 &
            PID=$!
            for _ in $(seq 200); do grep -q 'scimd_scim_' "$out" && break; sleep 0.1; done
            key=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$out" | head -1)
            [ -n "$key" ] || { cat "$out" >&2; exit 1; }
            echo "events-bench: $backend round $round $SWITCH=$capture" >&2
            "$BIN/scim-bench" run --base-url "http://127.0.0.1:$port/scim/v2" --token "$key" \
                -c "$C" -n "$N" -m "$M" --rfc-shapes --phases "$PHASES" --server-pid "$PID" \
                "${db_args[@]}" --label "$backend-$capture" \
                --json-out "$WORK/$backend-$round-$capture.json" >/dev/null
            kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
            rm -f "$WORK/eb-$round-$capture.db"*
            if [ "$backend" = postgres ]; then
                psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""
            fi
        done
    done
done

echo "switch: $SWITCH (off = false, on = true)"
python3 - "$WORK" $BACKENDS <<'PY'
import glob, json, os, statistics, sys
work, backends = sys.argv[1], sys.argv[2:]
for backend in backends:
    runs = {False: [], True: []}
    for path in glob.glob(os.path.join(work, f"{backend}-*-*.json")):
        capture = path.endswith("-true.json")
        runs[capture].append(json.load(open(path)))
    phases = [p["phase"] for p in runs[False][0]["phases"]]
    def med(capture, phase, field):
        vals = [p[field] for r in runs[capture] for p in r["phases"] if p["phase"] == phase and p[field] is not None]
        return statistics.median(vals) if vals else None
    errors = sum(p["errors"] for c in runs for r in runs[c] for p in r["phases"])
    print(f"\n{backend}: N = M = {runs[False][0]['users']}, {len(runs[False])} round(s) each, errors {errors}\n")
    print("| phase | ops/s off | ops/s on | Δ ops/s | server CPU ms/op off | on | Δ CPU | db CPU ms/op off | on |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ph in phases:
        o, n = med(False, ph, "ops_per_sec"), med(True, ph, "ops_per_sec")
        co, cn = med(False, ph, "server_cpu_ms_per_op"), med(True, ph, "server_cpu_ms_per_op")
        do, dn = med(False, ph, "db_cpu_ms_per_op"), med(True, ph, "db_cpu_ms_per_op")
        f = lambda v: "—" if v is None else f"{v:.3f}"
        d = lambda a, b: "—" if not a or b is None else f"{(b - a) / a * 100:+.1f}%"
        print(f"| {ph} | {o:,.0f} | {n:,.0f} | {d(o, n)} | {f(co)} | {f(cn)} | {d(co, cn)} | {f(do)} | {f(dn)} |")
PY
