#!/usr/bin/env python3
"""Headless Chromium against the h2_echo example: WebSockets over HTTP/2.

Starts h2_echo (TLS on one loopback port, ALPN h2 and http/1.1, a fresh
self-signed certificate) and opens its page over https with `?selftest` in
Debian's headless Chromium, ignoring the test certificate. The page loads
over HTTP/2, then calls `new WebSocket("wss://…/echo")`, sends a text and a
binary message, checks the echoes and closes with 4000.

The proof that the WebSocket went over HTTP/2 (RFC 8441 extended CONNECT on
the page's own connection) and not over a second HTTP/1.1 connection is the
server's log: h2_echo prints "connected to /echo over HTTP/2 (stream N)"
for a WebSocket taken on an HTTP/2 stream and "connected over HTTP/1.1" for
an upgrade. The first run must show exactly one, over HTTP/2, and no
HTTP/1.1 upgrade. A second run with Chromium's HTTP/2 switched off must
show one over HTTP/1.1 on the same port.

Usage: chromium_h2.py H2_ECHO_BINARY [CHROMIUM]
Prints one line per check; exit status 0 when all passed.
"""
import os
import re
import subprocess
import sys
import tempfile

from chromium_echo import run_page


def run(binary, chromium, extra_flags):
    """One page load; returns (the page's RESULT line, the server's log)."""
    with tempfile.TemporaryDirectory() as cwd:  # the certificate is written here
        server = subprocess.Popen([binary, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, cwd=cwd)
        try:
            address = None
            for _ in range(3):
                line = server.stdout.readline()
                match = re.search(r"wss://([0-9.]+:[0-9]+)/", line)
                if match:
                    address = match.group(1)
                    break
            if address is None:
                raise SystemExit(f"{binary} did not print its address")
            flags = ["--ignore-certificate-errors", *extra_flags]
            result = run_page(chromium, f"https://{address}/?selftest", flags)
        finally:
            server.kill()
            server.wait()
            log = server.stdout.read()
    return result, log


def check(name, result, log, protocol, other):
    wanted = ["text=ok", "binary=ok", "close=4000", "clean=true"]
    seen = (result or "").split()[2:]
    missing = [item for item in wanted if item not in seen]
    over = len(re.findall(rf"connected to /echo over {re.escape(protocol)}|connected over {re.escape(protocol)}", log))
    stray = len(re.findall(rf"over {re.escape(other)}", log))
    if result is None:
        return f"FAIL {name}: the page reported no RESULT line; server log:\n{log}"
    if missing:
        return f"FAIL {name}: page saw {' '.join(seen)!r}, not {' '.join(missing)!r}"
    if over != 1 or stray:
        return f"FAIL {name}: expected one WebSocket over {protocol} and none over {other}; server log:\n{log}"
    return f"ok {name}: {result} ({protocol}, as the server logged)"


def main():
    binary = os.path.abspath(sys.argv[1])
    chromium = sys.argv[2] if len(sys.argv) > 2 else "chromium"
    lines = []
    result, log = run(binary, chromium, [])
    lines.append(check("websocket-over-http2", result, log, "HTTP/2", "HTTP/1.1"))
    result, log = run(binary, chromium, ["--disable-http2"])
    lines.append(check("websocket-over-http1-same-port", result, log, "HTTP/1.1", "HTTP/2"))
    for line in lines:
        print(line)
    failed = sum(line.startswith("FAIL") for line in lines)
    print(f"{len(lines) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
