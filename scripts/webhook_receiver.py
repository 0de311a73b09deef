#!/usr/bin/env python3
"""A webhook receiver for scripts/delivery-bench.sh: answers 204 (or 503 while the file named by
--down exists), and records, for each delivery, when it arrived and how long after its event's
`time` (the lag from the change to the delivery). GET /stats answers the figures as JSON.

    webhook_receiver.py PORT [--down FILE]
"""
import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
ARRIVALS = []  # (arrival epoch seconds, lag ms, event id)
REFUSED = [0]
DOWN = None


def event_time(text):
    # RFC 3339 with milliseconds and Z.
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        now = time.time()
        if DOWN is not None:
            try:
                open(DOWN).close()
                with LOCK:
                    REFUSED[0] += 1
                self.send_response(503)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            except FileNotFoundError:
                pass
        event = json.loads(body)
        lag_ms = (now - event_time(event["data"]["time"])) * 1000.0
        with LOCK:
            ARRIVALS.append((now, lag_ms, event["data"]["id"]))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        with LOCK:
            arrivals = list(ARRIVALS)
            refused = REFUSED[0]
        lags = [a[1] for a in arrivals]
        out = {
            "delivered": len(arrivals),
            "unique": len({a[2] for a in arrivals}),
            "refused": refused,
            "first": arrivals[0][0] if arrivals else None,
            "last": arrivals[-1][0] if arrivals else None,
            "lag_p50_ms": percentile(lags, 50),
            "lag_p99_ms": percentile(lags, 99),
            "lag_max_ms": max(lags) if lags else None,
        }
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global DOWN
    port = int(sys.argv[1])
    if "--down" in sys.argv:
        DOWN = sys.argv[sys.argv.index("--down") + 1]
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
