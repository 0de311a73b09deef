#!/usr/bin/env bash
# Measures the cost of authentication per request: requests/s of routes with and without a key,
# in one run of a release build on a fresh SQLite file (or SCIMD_DATABASE_URL when set).
# Usage: docs/bench/auth-cost.sh [seconds per route, default 10] [users to seed, default 1000]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"
users="${2:-1000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/scimd-target}"
cargo build --release -q
bin="$CARGO_TARGET_DIR/release/scimd"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=18480
SCIMD_DATABASE_URL="${SCIMD_DATABASE_URL:-sqlite://$dir/bench.db?mode=rwc}" \
SCIMD_LISTEN="127.0.0.1:$port" SCIMD_LOG=warn SCIMD_WORKERS="${SCIMD_WORKERS:-2}" \
  "$bin" serve >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
scim="$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$dir/out" | head -1)"
admin="$(grep -o 'scimd_api_[A-Za-z0-9]*' "$dir/out" | head -1)"
id="$(python3 - "$port" "$scim" "$users" <<'PY'
import http.client, json, sys
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
ids = []
for i in range(n):
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": f"user{i}@example.com", "externalId": f"ext-{i}",
                       "displayName": f"User {i}", "active": True,
                       "emails": [{"value": f"user{i}@example.com", "type": "work", "primary": True}]})
    c.request("POST", "/scim/v2/Users", body,
              {"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"})
    r = c.getresponse(); data = r.read()
    if r.status == 201:
        ids.append(json.loads(data)["id"])
print(ids[len(ids) // 2])
PY
)"
# A well-formed token (valid CRC) that no key has: it costs a hash and a database lookup.
unknown="$(python3 -c '
import secrets, string, zlib
a = string.digits + string.ascii_uppercase + string.ascii_lowercase
body = "scimd_scim_" + "".join(secrets.choice(a) for _ in range(43))
n = zlib.crc32(body.encode()) & 0xFFFFFFFF
crc = ""
for _ in range(6):
    crc = a[n % 62] + crc
    n //= 62
print(body + crc)')"
run() { # label, path, [token]
  local label="$1" path="$2" token="${3:-}" hdr=()
  [ -n "$token" ] && hdr=(-H "Authorization: Bearer $token")
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "http://127.0.0.1:$port$path")"
  local rps
  rps="$(wrk -t1 -c16 -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}')"
  printf '| %s | %s | %s |\n' "$label" "$status" "$rps"
}
echo "| route | status | requests/s |"
echo "| --- | --- | --- |"
run "GET /healthz (no key, no database)" /healthz
run "GET /scim/v2/ServiceProviderConfig (no key)" /scim/v2/ServiceProviderConfig
run "GET /scim/v2/Users/{id}, valid SCIM key" "/scim/v2/Users/$id" "$scim"
run "GET /scim/v2/Users/{id}, valid key without SCIM scope (auth only)" "/scim/v2/Users/$id" "$admin"
run "GET /scim/v2/Users/{id}, unknown well-formed key (hash + lookup)" "/scim/v2/Users/$id" "$unknown"
run "GET /scim/v2/Users/{id}, malformed key (refused before the database)" "/scim/v2/Users/$id" "garbage"
run "GET /healthz again (drift check)" /healthz
