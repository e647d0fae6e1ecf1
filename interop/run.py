#!/usr/bin/env python3
"""wsmachine against real peers over loopback: every (peer, role, exchange)
is a named test.

  - Python `websockets`, Tornado and Node `ws` clients against both of our
    servers (the `echo_server` and `tokio_echo` examples);
  - 50 `websockets` clients at once against each server (20 echoes each);
  - headless Chromium loading each server's page, which talks to it through
    `new WebSocket(url)` (see chromium_echo.py);
  - C#'s `System.Net.WebSockets.ClientWebSocket` on Mono against both of our
    servers (csharp_client.cs, compiled with `mcs` here): text, a 300 KiB
    binary message, and a close whose code and reason must come back;
  - our client (the `interop_client` example) against `websockets`, Tornado
    and Node `ws` echo servers.

The exchanges: text, binary, empty text and binary, 125/126/65535/65536-byte
and 16 MiB messages, fragmented text (a character split across fragments)
and binary (a ping between fragments), ping/pong with a payload, permessage-
deflate offered by the peer and declined by our server, a close with code
and reason started by the client (the server echoes the code), and a close
started by the peer server (`close-me CODE REASON`, see common.py).

Builds nothing: it takes the example binaries' paths.

Usage:
  run.py ECHO_SERVER TOKIO_ECHO INTEROP_CLIENT [--python PY] [--node NODE]
         [--chromium CHROMIUM] [--mono MONO] [--mcs MCS] [--only PEERS]
         [--table FILE]

PY (default: this interpreter) must have `websockets` and `tornado`
(interop/requirements.txt); `ws` must be installed in interop/node_modules
(`npm ci --prefix interop`); MONO and MCS (default: `mono`, `mcs`) come
from Debian's `mono-runtime` and `mono-mcs`. --only runs the named peers
alone (a comma-separated list of websockets, tornado, ws, chromium,
csharp). Every listener binds 127.0.0.1:0. Prints a
summary table and a final line `N passed, M failed`; exits non-zero on any
failure. With --table, writes the README's "works with" table to FILE.
"""
import argparse
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import chromium_echo  # noqa: E402
import common  # noqa: E402

CLIENT_TIMEOUT = 300  # one peer client's whole script, 14 exchanges
CSHARP_EXCHANGES = ["text", "binary-300KiB", "close-with-reason"]
SERVER_START_TIMEOUT = 20
OUR_CLIENT_EXCHANGES = [name for name in common.CLIENT_EXCHANGES if name != "deflate-declined"] + [
    "close-by-server"
]


def peer_command(args, peer, *rest):
    script = os.path.join(HERE, peer["script"])
    runner = args.node if script.endswith(".js") else args.python
    return [runner, script, *rest]


def read_line(process, timeout):
    """The first line `process` prints, or None after `timeout` seconds."""
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return None
    return process.stdout.readline()


def start(command, pattern):
    """Starts a server and returns (process, address) once it printed it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = read_line(process, SERVER_START_TIMEOUT) or ""
    match = re.search(pattern, line)
    if not match:
        stop(process)
        raise RuntimeError(f"{command[0]} did not print its address (got {line!r})")
    return process, match.group(1)


def stop(process):
    process.kill()
    process.wait()


def run_script(command, expected):
    """Runs a client printing `ok NAME` / `FAIL NAME: why` lines; returns
    {name: None or why} for every expected name (a missing line fails)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
        out, why_missing = done.stdout, f"no result line (exit status {done.returncode})"
        tail = done.stderr.strip().splitlines()[-3:]
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        why_missing, tail = f"no result line (killed after {CLIENT_TIMEOUT} s)", []
    results = {}
    for line in out.splitlines():
        if line.startswith("ok "):
            results[line[3:].strip()] = None
        elif line.startswith("FAIL "):
            name, _, why = line[5:].partition(": ")
            results[name.strip()] = why or "failed"
    if tail:
        why_missing += ": " + " | ".join(tail)
    for name in expected:
        results.setdefault(name, why_missing)
    return results


def versions(args):
    def out(command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    python = out([args.python, "-c", "import platform; print(platform.python_version())"])
    node = out([args.node, "--version"])
    chromium = out([args.chromium, "--version"])
    chromium = re.search(r"[0-9]+(\.[0-9]+)+", chromium)
    mono = out([args.mono, "--version"])
    mono = re.search(r"version ([0-9.]+)", mono)
    return {  # key: (peer as the README names it, version tested)
        "websockets": ("Python `websockets`", f"{out(peer_command(args, PEERS[0], '--version'))} (Python {python})"),
        "tornado": ("Tornado", f"{out(peer_command(args, PEERS[1], '--version'))} (Python {python})"),
        "ws": ("Node `ws`", f"{out(peer_command(args, PEERS[2], '--version'))} (Node {node.lstrip('v')})"),
        "chromium": ("Chromium, headless", f"{chromium.group(0) if chromium else '?'} (Debian)"),
        "csharp": ("C# `ClientWebSocket`", f"Mono {mono.group(1) if mono else '?'} (Debian)"),
    }


def build_csharp(args, out_dir):
    """Compiles csharp_client.cs with mcs; returns the program's path."""
    exe = os.path.join(out_dir, "csharp_client.exe")
    done = subprocess.run([args.mcs, "-nologo", f"-out:{exe}", os.path.join(HERE, "csharp_client.cs")],
                          capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"mcs failed: {(done.stdout + done.stderr).strip()[-300:]}")
    return exe


PEERS = [
    {"name": "websockets", "label": "Python websockets", "script": "py_websockets.py"},
    {"name": "tornado", "label": "Tornado", "script": "py_tornado.py"},
    {"name": "ws", "label": "Node ws", "script": "node_ws.js"},
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("echo_server")
    parser.add_argument("tokio_echo")
    parser.add_argument("interop_client")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--node", default="node")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--mono", default="mono")
    parser.add_argument("--mcs", default="mcs")
    parser.add_argument("--only", help="comma-separated peers to run (default: all)")
    parser.add_argument("--table", help="write the markdown 'works with' table here")
    args = parser.parse_args()
    ours = {"echo_server": args.echo_server, "tokio_echo": args.tokio_echo}
    only = set(args.only.split(",")) if args.only else None

    def wanted(key):
        return only is None or key in only

    groups = []  # (peer key, peer label, role, {exchange: None or why})

    def record(key, label, role, results):
        groups.append((key, label, role, results))
        for name, why in results.items():
            status = "ok  " if why is None else "FAIL"
            print(f"{status} {label} {role}: {name}" + ("" if why is None else f" -- {why}"), flush=True)

    # Peer clients against our servers.
    for server_name, binary in ours.items():
        for peer in filter(lambda p: wanted(p["name"]), PEERS):
            try:
                server, addr = start([binary, "127.0.0.1:0"], r"ws://([0-9.]+:[0-9]+)/")
            except RuntimeError as e:
                record(peer["name"], peer["label"], f"client -> {server_name}",
                       {n: str(e) for n in common.CLIENT_EXCHANGES})
                continue
            try:
                results = run_script(peer_command(args, peer, "client", f"ws://{addr}/"), common.CLIENT_EXCHANGES)
            finally:
                stop(server)
            record(peer["name"], peer["label"], f"client -> {server_name}", results)

    # Many connections at once against each of our servers.
    for server_name, binary in ours.items() if wanted("websockets") else ():
        try:
            server, addr = start([binary, "127.0.0.1:0"], r"ws://([0-9.]+:[0-9]+)/")
        except RuntimeError as e:
            record("websockets", PEERS[0]["label"], f"50 clients -> {server_name}", {"concurrent-connections": str(e)})
            continue
        try:
            results = run_script(peer_command(args, PEERS[0], "many", f"ws://{addr}/"), ["concurrent-connections"])
        finally:
            stop(server)
        record("websockets", PEERS[0]["label"], f"50 clients -> {server_name}", results)

    # Chromium's page against our servers.
    for server_name, binary in ours.items() if wanted("chromium") else ():
        try:
            _, results = chromium_echo.exchanges(binary, args.chromium)
        except (OSError, SystemExit) as e:
            results = {n: f"could not run: {e}" for n in chromium_echo.EXCHANGES}
        record("chromium", "Chromium", f"page -> {server_name}", results)

    # C#'s ClientWebSocket (Mono) against our servers.
    if wanted("csharp"):
        with tempfile.TemporaryDirectory() as build_dir:
            try:
                exe = build_csharp(args, build_dir)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                exe, why = None, f"could not compile csharp_client.cs: {e}"
            for server_name, binary in ours.items():
                role = f"client -> {server_name}"
                if exe is None:
                    record("csharp", "C# (Mono)", role, {n: why for n in CSHARP_EXCHANGES})
                    continue
                try:
                    server, addr = start([binary, "127.0.0.1:0"], r"ws://([0-9.]+:[0-9]+)/")
                except RuntimeError as e:
                    record("csharp", "C# (Mono)", role, {n: str(e) for n in CSHARP_EXCHANGES})
                    continue
                try:
                    results = run_script([args.mono, exe, "client", f"ws://{addr}/echo"], CSHARP_EXCHANGES)
                finally:
                    stop(server)
                record("csharp", "C# (Mono)", role, results)

    # Our client against the peers' servers.
    for peer in filter(lambda p: wanted(p["name"]), PEERS):
        try:
            server, addr = start(peer_command(args, peer, "server"), r"PORT ([0-9]+)")
        except (RuntimeError, OSError) as e:
            record(peer["name"], peer["label"], "server <- interop_client", {n: str(e) for n in OUR_CLIENT_EXCHANGES})
            continue
        try:
            results = run_script([args.interop_client, f"ws://127.0.0.1:{addr}/"], OUR_CLIENT_EXCHANGES)
        finally:
            stop(server)
        record(peer["name"], peer["label"], "server <- interop_client", results)

    peer_versions = versions(args)
    print()
    print(f"{'peer':<20} {'role':<28} {'passed':>7} {'failed':>7}")
    passed = failed = 0
    rows = []
    for key, label, role, results in groups:
        bad = sorted(name for name, why in results.items() if why is not None)
        good = len(results) - len(bad)
        passed += good
        failed += len(bad)
        print(f"{label:<20} {role:<28} {good:>7} {len(bad):>7}")
        result = f"{good}/{len(results)} pass" if not bad else f"{good}/{len(results)} pass; failing: {', '.join(bad)}"
        rows.append((peer_versions[key], role_text(role), result))
    for key, label, role, results in groups:
        for name, why in results.items():
            if why is not None:
                print(f"FAILED {label} {role}: {name}: {why}")
    if args.table:
        with open(args.table, "w") as f:
            f.write("| peer | version tested | role | result |\n| --- | --- | --- | --- |\n")
            for (peer, version), role, result in rows:
                f.write(f"| {peer} | {version} | {role} | {result} |\n")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def role_text(role):
    """The README's wording of a role."""
    if role.startswith("50 clients -> "):
        return f"50 clients at once, against `{role.split()[-1]}`"
    if role.startswith("client -> "):
        return f"client, against `{role.split()[-1]}`"
    if role.startswith("page -> "):
        return f"browser page (`new WebSocket`), against `{role.split()[-1]}`"
    return "server, against `interop_client`"


if __name__ == "__main__":
    sys.exit(main())
