#!/usr/bin/env bash
# Runs schemathesis (pinned in scripts/schemathesis-requirements.txt, configured in
# scripts/schemathesis.toml: derandomised, a fixed example cap, no stateful phase) against
# /api/openapi.json of a freshly started scimd on SQLite: once with the operator token (every
# operation), once with a tenant admin key (the tenant's operations). Zero failures pass.
#
#   scripts/schemathesis.sh [path/to/scimd]
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/scimd}"
[ -x "$bin" ] || { echo "no scimd binary at $bin (build it first)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
venv="${SCIMD_SCHEMATHESIS_VENV:-$HOME/.cache/scimd-schemathesis-venv}"
pinned_venv "$venv" scripts/schemathesis-requirements.txt

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export SCIMD_DATABASE_URL="sqlite://$work/st.db?mode=rwc"
export SCIMD_LOG=warn
export SCIMD_OPERATOR_TOKEN="schemathesis-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# The fuzzer sends many requests without a valid credential (ignored_auth check): no throttling
# of failed authentications from its one address, no rate limit.
export SCIMD_AUTH_FAILURE_BURST=1000000 SCIMD_AUTH_FAILURES_PER_MINUTE=1000000
export SCIMD_RATE_LIMIT_PER_SECOND=0

# The objects the run works on (scripts/schemathesis.toml names them).
"$bin" tenant create st > /dev/null
"$bin" tenant create st-throwaway > /dev/null
admin_key=$("$bin" key create --tenant st --name st-admin --scope public_api --permissions '*' | tail -1)
for name in throwaway throwaway-delete throwaway-revoke throwaway-rotate; do
  "$bin" key create --tenant st --name "$name" --scope scim > /dev/null
done

port=$(free_port)
SCIMD_LISTEN="127.0.0.1:$port" "$bin" serve > "$work/out" 2> "$work/err" &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fs "$base/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done
machine() {
  curl -fs -X POST "$base/api/st/admin/machines" -H "Authorization: Bearer $SCIMD_OPERATOR_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"name\": \"$1\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
export ST_MACHINE ST_MACHINE_DELETE
ST_MACHINE=$(machine st-machine)
ST_MACHINE_DELETE=$(machine st-machine-delete)
# Webhook endpoints (a public host name: registration does not resolve it; nothing is sent,
# as the run makes no SCIM change).
webhook() {
  curl -fs -X POST "$base/api/st/admin/webhooks" -H "Authorization: Bearer $SCIMD_OPERATOR_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"url\": \"https://hooks.example.com/$1\", \"eventTypes\": [\"*\"]}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
export ST_WEBHOOK ST_WEBHOOK_DELETE
ST_WEBHOOK=$(webhook st)
ST_WEBHOOK_DELETE=$(webhook st-delete)
# RFC 9967 event streams, polled (nothing is sent).
stream() {
  curl -fs -X POST "$base/api/st/admin/eventStreams" -H "Authorization: Bearer $SCIMD_OPERATOR_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"delivery\": \"poll\", \"audience\": \"https://rp.example.com/$1\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
export ST_STREAM ST_STREAM_DELETE
ST_STREAM=$(stream st)
ST_STREAM_DELETE=$(stream st-delete)

run() { # label authorization-token [filters...]
  local label="$1" token="$2"
  shift 2
  echo "== schemathesis: $label"
  "$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/openapi.json" \
    -H "Authorization: Bearer $token" --no-color "$@"
}
status=0
run "operator token, every operation" "$SCIMD_OPERATOR_TOKEN" || status=1
run "tenant admin key, the tenant's operations" "$admin_key" --include-path-regex '^/api/\{tenantId\}/admin/' || status=1
if [ "$status" != 0 ]; then
  echo "schemathesis found failures; server log:" >&2
  tail -50 "$work/err" >&2
fi
exit "$status"
