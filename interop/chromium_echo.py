#!/usr/bin/env python3
"""Headless Chromium against the echo_server example.

Starts the example on an ephemeral loopback port, opens its page with
`?selftest` in Debian's headless Chromium, and reads the page's
`console.log("RESULT ...")` line from Chromium's log: the page sends a text
and a binary (ArrayBuffer) message through `new WebSocket(url)`, checks the
echoes, and closes with code 4000.

Usage: chromium_echo.py SERVER_BINARY [CHROMIUM]
Exit status 0 when the page saw both echoes and a clean close with 4000.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60


def start_server(binary):
    server = subprocess.Popen([binary, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.search(r"ws://([0-9.]+:[0-9]+)/", line)
    if not match:
        server.kill()
        raise SystemExit(f"echo_server did not print its address: {line!r}")
    return server, match.group(1)


def run_page(chromium, url):
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryFile("w+") as log:
        browser = subprocess.Popen(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", url,
            ],
            stdout=subprocess.DEVNULL, stderr=log,
        )
        deadline = time.monotonic() + TIMEOUT
        result = None
        try:
            while time.monotonic() < deadline and result is None:
                time.sleep(0.2)
                log.seek(0)
                for line in log:
                    found = re.search(r'"(RESULT [^"]*)"', line)
                    if found:
                        result = found.group(1)
                        break
                if browser.poll() is not None and result is None:
                    break
        finally:
            browser.kill()
            browser.wait()
        return result


def main():
    binary = sys.argv[1]
    chromium = sys.argv[2] if len(sys.argv) > 2 else "chromium"
    server, addr = start_server(binary)
    try:
        result = run_page(chromium, f"http://{addr}/?selftest")
    finally:
        server.kill()
        server.wait()
    print(f"chromium page: {result}")
    ok = result is not None and result.startswith("RESULT ok") and "text=ok" in result and "binary=ok" in result
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
