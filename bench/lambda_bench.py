"""Cold start and memory of a function binary under a minimal Lambda Runtime API.

Usage: python bench/lambda_bench.py BINARY EVENT.json [INVOCATIONS]

Starts a Runtime API on 127.0.0.1, starts BINARY (configured with the embedded store and a
provider that is never contacted), and measures: time from process start to its first
`/next` poll (the runtime's init: config, clients), the latency of each invocation as the
Runtime API sees it, and the process's peak resident memory (VmHWM) at the end.
Prints one JSON line. Bounded: stops after INVOCATIONS (default 500) or 60 s.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = """
public_base_url = "https://auth.example.com"
[providers.dev]
preset = "oidc"
issuer = "https://issuer.invalid"
client_id = "bench"
client_secret = "bench-secret"
"""


def main() -> None:
    binary, event_path = sys.argv[1], sys.argv[2]
    invocations = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    event = open(event_path, "rb").read()
    state = {"first_poll": None, "sent": {}, "latencies": [], "n": 0}
    done = threading.Event()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with lock:
                if state["first_poll"] is None:
                    state["first_poll"] = time.perf_counter()
                if state["n"] >= invocations:
                    done.set()
                    time.sleep(0.2)
                state["n"] += 1
                rid = f"r{state['n']}"
                state["sent"][rid] = time.perf_counter()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:0:function:b")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            try:
                self.wfile.write(event)
            except BrokenPipeError:
                pass  # the function was stopped while polling

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            self.rfile.read(length)
            rid = self.path.split("/")[4]
            with lock:
                state["latencies"].append(time.perf_counter() - state["sent"].pop(rid))
            self.send_response(202)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AUTH_CONFIG": CONFIG,
        "RUST_LOG": "warn",
    }
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.wait(timeout=60)
    hwm_kb = None
    with open(f"/proc/{proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm_kb = int(line.split()[1])
    proc.kill()
    server.shutdown()
    lat = sorted(state["latencies"])
    print(json.dumps({
        "binary": binary,
        "binary_bytes": os.path.getsize(binary),
        "init_ms": round((state["first_poll"] - started) * 1000, 2),
        "invocations": len(lat),
        "p50_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3),
        "peak_rss_mb": round(hwm_kb / 1024, 1) if hwm_kb else None,
    }))


if __name__ == "__main__":
    main()
