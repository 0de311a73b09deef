#!/usr/bin/env python3
"""Creates N Entra-shaped users through the SCIM API: seed_users.py PORT SCIM_KEY N THREADS.
Prints the id of the middle user (for single-resource benchmarks); the rate goes to stderr."""
import http.client, json, sys, threading, time
port, key, n, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ids = []
lock = threading.Lock()
def work(start, step):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(start, n, step):
        body = json.dumps({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
          "userName": f"user{i}@example.com", "externalId": f"ext-{i}", "active": True, "displayName": f"User {i}",
          "emails":[{"value": f"user{i}@example.com","type":"work","primary":True}], "name":{"givenName":"G","familyName":f"F{i}"},
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":str(i)}})
        c.request("POST", "/scim/v2/Users", body, {"Authorization": "Bearer "+key, "Content-Type":"application/scim+json"})
        r = c.getresponse(); data = r.read()
        if r.status != 201: print("error", r.status, data[:200]); continue
        with lock: ids.append(json.loads(data)["id"])
t0 = time.time()
ts = [threading.Thread(target=work, args=(s, threads)) for s in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
print(f"created {len(ids)} users in {dt:.1f}s ({len(ids)/dt:.0f}/s)", file=sys.stderr)
print(ids[len(ids)//2])
