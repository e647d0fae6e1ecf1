#!/usr/bin/env python3
"""Headless Chromium against the echo_server example.

Starts the example on an ephemeral loopback port, opens its page with
`?selftest` in Debian's headless Chromium, and reads the page's
`console.log("RESULT ...")` line from Chromium's log: the page sends a text
and a binary (ArrayBuffer) message through `new WebSocket(url)`, checks the
echoes, and closes with code 4000.

Chromium offers permessage-deflate; the page also reports the extensions
the server accepted. By default that must be none (`deflate-declined`: a
server built without feature `deflate`); with --deflate it must be
permessage-deflate (`deflate-negotiated`: echo_server built with
`--features deflate`, whose echoes Chromium then inflated).

Usage: chromium_echo.py SERVER_BINARY [CHROMIUM] [--deflate]
Works with any server that prints `ws://ADDR/` on its first line and serves
the page on `GET /` (echo_server, tokio_echo). Prints one line per exchange
the page reported (text, binary, close-4000, deflate-declined); exit status
0 when all passed. `interop/run.py` imports `exchanges()` for its suite.
"""
import os
import re
import signal
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
        raise SystemExit(f"{binary} did not print its address: {line!r}")
    return server, match.group(1)


def run_page(chromium, url, extra_flags=()):
    # Chromium's helper processes may still write to the profile for a moment
    # after the browser is killed: kill its whole process group, and do not
    # fail on what they leave behind.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile, tempfile.TemporaryFile("w+") as log:
        browser = subprocess.Popen(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *extra_flags, url,
            ],
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
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
            try:
                os.killpg(browser.pid, signal.SIGKILL)  # the group this Popen started
            except ProcessLookupError:
                pass
            browser.wait()
        return result


EXCHANGES = ["text", "binary", "close-4000", "deflate-declined"]
DEFLATE_EXCHANGES = ["text", "binary", "close-4000", "deflate-negotiated"]  # and used, both ways


def exchanges(binary, chromium="chromium", deflate=False):
    """Runs the page against the server `binary`; returns the page's RESULT
    line and {exchange: None if it passed, else why}. With `deflate`, the
    server must have accepted Chromium's permessage-deflate offer."""
    names = DEFLATE_EXCHANGES if deflate else EXCHANGES
    server, addr = start_server(binary)
    try:
        result = run_page(chromium, f"http://{addr}/?selftest")
    finally:
        server.kill()
        server.wait()
        said = server.stdout.read()
    if result is None:
        return None, {name: "the page reported no RESULT line" for name in names}
    seen = result.split()[2:]
    wanted = {
        "text": ["text=ok"],
        "binary": ["binary=ok"],
        "close-4000": ["close=4000", "clean=true"],
    }
    if deflate:
        wanted["deflate-negotiated"] = ["extensions=permessage-deflate"]
        # Used both ways: echo_server counts the page's compressed messages
        # and compresses its echoes, which the page then checked.
        used = re.search(r"received (\d+) compressed messages, sent (\d+)", said or "")
        counts = (int(used.group(1)), int(used.group(2))) if used else (0, 0)
        seen.append(f"compressed-by-page={counts[0]}")
        seen.append(f"compressed-by-server={counts[1]}")
        # The page sends a text and a binary message; both and both echoes
        # must have been compressed.
        wanted["deflate-negotiated"] += ["compressed-by-page=2", "compressed-by-server=2"]
        result += f" (echo_server: {seen[-2]} {seen[-1]})"
    else:
        wanted["deflate-declined"] = ["extensions=none"]
    outcome = {}
    for name, items in wanted.items():
        missing = [item for item in items if item not in seen]
        outcome[name] = None if not missing else f"page saw {' '.join(seen)!r}, not {' '.join(missing)!r}"
    return result, outcome


def main():
    args = [a for a in sys.argv[1:] if a != "--deflate"]
    binary = args[0]
    chromium = args[1] if len(args) > 1 else "chromium"
    result, outcome = exchanges(binary, chromium, deflate="--deflate" in sys.argv[1:])
    print(f"chromium page: {result}")
    for name, error in outcome.items():
        print(f"ok {name}" if error is None else f"FAIL {name}: {error}")
    failed = sum(error is not None for error in outcome.values())
    print(f"{len(outcome) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
