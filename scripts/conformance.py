#!/usr/bin/env python3
"""Runs the scim2-tester conformance checks against a SCIM server.

    conformance.py BASE_URL TOKEN

BASE_URL is the SCIM base (e.g. http://127.0.0.1:8080/scim/v2), TOKEN a SCIM API key.
Prints every check that did not pass and the totals per status; exits 1 when any check is
an error, critical or skipped (a skipped check is never counted as passed).
"""
import collections
import sys

import httpx2 as httpx
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token = sys.argv[1].rstrip("/"), sys.argv[2]
    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    totals = collections.Counter(r.status.name for r in results)
    for r in results:
        if r.status not in PASSING:
            print(f"{r.status.name:10} {r.title}: {r.reason}")
    print("scim2-tester totals: " + ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
    passed = sum(totals[s.name] for s in PASSING)
    failed = len(results) - passed
    print(f"conformance: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
