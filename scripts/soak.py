#!/usr/bin/env python3
"""Sustained mixed Entra-shaped load against a running scimd, with its memory watched.

    soak.py BASE_URL SCIM_KEY SECONDS RATE [SERVER_PID]

Each cycle does what Entra ID's incremental sync does: look a user up by userName, create it,
PATCH it (capitalised ops, string booleans), add it to a group and remove an earlier member,
read it back, deactivate it, and delete one created earlier. RATE is requests per second
(paced, bounded), SECONDS the duration. Every 10 s it prints the request count, errors and, with
SERVER_PID, the server's resident memory; at the end a summary. Exits 1 on any error.
Loopback only.
"""
import http.client
import json
import sys
import time
import urllib.parse
import uuid

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, key, seconds, rate = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
    url = urllib.parse.urlparse(base)
    assert url.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=70)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
    prefix = url.path.rstrip("/")
    stats = {"requests": 0, "errors": 0, "latencies": []}
    interval = 1.0 / rate
    next_at = time.monotonic()

    def call(method, path, body=None, ok=(200, 201, 204)):
        nonlocal next_at
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at = max(next_at + interval, time.monotonic() - 1.0)
        started = time.monotonic()
        conn.request(method, prefix + path, json.dumps(body) if body is not None else None, headers)
        r = conn.getresponse()
        data = r.read()
        stats["latencies"].append(time.monotonic() - started)
        stats["requests"] += 1
        if r.status not in ok:
            stats["errors"] += 1
            print(f"error {r.status} {method} {path}: {data[:200]!r}", flush=True)
            return None
        return json.loads(data) if data else {}

    group = call("POST", "/Groups", {"displayName": f"soak-{uuid.uuid4()}"})
    gid = group["id"]
    created = []
    start = time.monotonic()
    rss = []
    last_report = start
    cycle = 0
    while time.monotonic() - start < seconds:
        cycle += 1
        name = f"soak-{uuid.uuid4()}@example.com"
        q = urllib.parse.quote(f'userName eq "{name}"')
        call("GET", f"/Users?filter={q}&excludedAttributes=groups")
        user = call("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": name, "externalId": str(uuid.uuid4()), "active": True,
            "displayName": "Soak User", "emails": [{"value": name, "type": "work", "primary": True}],
            "name": {"givenName": "Soak", "familyName": str(cycle)},
            ENT: {"department": "Load", "employeeNumber": str(cycle)},
        })
        if not user:
            continue
        uid = user["id"]
        created.append(uid)
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Replace", "path": "title", "value": "Tester"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x" + name},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        ]}
        call("PATCH", f"/Users/{uid}", patch)
        ops = [{"op": "Add", "path": "members", "value": [{"value": uid}]}]
        if len(created) > 50:
            ops.append({"op": "Remove", "path": "members", "value": [{"value": created[-50]}]})
        call("PATCH", f"/Groups/{gid}?excludedAttributes=members",
             {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
        call("GET", f"/Users/{uid}")
        call("PATCH", f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        if len(created) > 100:
            call("DELETE", f"/Users/{created.pop(0)}")
        now = time.monotonic()
        if now - last_report >= 10:
            last_report = now
            r = rss_kib(pid) if pid else None
            if r:
                rss.append(r)
            print(f"t={now - start:6.0f}s requests={stats['requests']} errors={stats['errors']}"
                  + (f" rss={r // 1024}MiB" if r else ""), flush=True)
    lat = sorted(stats["latencies"])
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    elapsed = time.monotonic() - start
    print(f"soak: {stats['requests']} requests in {elapsed:.0f}s ({stats['requests'] / elapsed:.1f}/s), "
          f"errors={stats['errors']}, p50={p(0.5):.1f}ms p99={p(0.99):.1f}ms max={lat[-1] * 1000:.1f}ms")
    if rss:
        print(f"soak: server RSS first={rss[0] // 1024}MiB min={min(rss) // 1024}MiB "
              f"max={max(rss) // 1024}MiB last={rss[-1] // 1024}MiB over {len(rss)} samples")
    return 0 if stats["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
