#!/usr/bin/env python3
"""Node's HTTP/2 stack against wsmachine's, WebSockets over HTTP/2 (RFC 8441)
in both directions.

1. `node node_h2.js server` (Node `http2` with enableConnectProtocol, `ws`
   framing on the stream, cleartext HTTP/2) against the
   `h2_interop_client` example: text, binary, 1 MiB, our ping reported by
   the peer, the peer's ping answered, our close, the peer's close, ten
   WebSockets at once on the same connection afterwards.
2. `node node_h2.js client URL` (TLS, ALPN h2) against the `h2_echo`
   example: the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, text, binary,
   1 MiB, ping, close, ten WebSockets at once after the close.

Usage: h2_node.py EXAMPLES_DIR [--node NODE]
EXAMPLES_DIR holds the built h2_echo and h2_interop_client binaries. Prints
one line per exchange, prefixed by the direction; exit status 0 when all
passed.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 120


def first_match(process, pattern, lines=3):
    for _ in range(lines):
        line = process.stdout.readline()
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    return None


def run_lines(command):
    """Runs a peer's exchanges; returns its `ok`/`FAIL` lines."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return [f"FAIL run: {command[0]} did not finish within {TIMEOUT} s"]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("ok ", "FAIL "))]
    if done.returncode != 0 and not any(line.startswith("FAIL") for line in lines):
        lines.append(f"FAIL exit: status {done.returncode}: {done.stderr.strip()[-500:]}")
    return lines or [f"FAIL run: no result lines; stderr: {done.stderr.strip()[-500:]}"]


def node_server_rust_client(examples, node):
    server = subprocess.Popen([node, os.path.join(HERE, "node_h2.js"), "server"], stdout=subprocess.PIPE, text=True)
    try:
        port = first_match(server, r"PORT (\d+)")
        if port is None:
            return ["FAIL start: node_h2.js server printed no port"]
        return run_lines([os.path.join(examples, "h2_interop_client"), f"ws://127.0.0.1:{port}/echo"])
    finally:
        server.kill()
        server.wait()


def rust_server_node_client(examples, node):
    with tempfile.TemporaryDirectory() as cwd:  # h2_echo writes its certificate here
        server = subprocess.Popen(
            [os.path.join(examples, "h2_echo"), "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, cwd=cwd
        )
        try:
            address = first_match(server, r"wss://([0-9.]+:[0-9]+)/")
            if address is None:
                return ["FAIL start: h2_echo printed no address"]
            return run_lines([node, os.path.join(HERE, "node_h2.js"), "client", f"https://{address}/echo"])
        finally:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("examples")
    parser.add_argument("--node", default="node")
    args = parser.parse_args()
    examples = os.path.abspath(args.examples)
    lines = [f"node-server/wsmachine-client {line}" for line in node_server_rust_client(examples, args.node)]
    lines += [f"wsmachine-server/node-client {line}" for line in rust_server_node_client(examples, args.node)]
    for line in lines:
        print(line)
    failed = sum(" FAIL " in f" {line} " for line in lines)
    print(f"{len(lines) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
