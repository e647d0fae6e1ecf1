#!/usr/bin/env python3
"""permessage-deflate between wsmachine and Python `websockets`, both ways,
showing compression negotiated *and used*.

1. Our server: the echo_server example (built with feature `deflate`) and a
   `websockets` client with its default compression offer. The client checks
   the negotiated extension, sends text and binary messages, and counts the
   echoes that arrived compressed (RSV1); the server reports how many of the
   client's messages arrived compressed.
2. Our client: the autobahn_client example (feature `deflate`) against a
   `websockets` server with its default compression settings, which ask
   `server_max_window_bits=12; client_max_window_bits=12` of the client. The
   server speaks the Autobahn fuzzing-server protocol just far enough for one
   case: it sends the messages, checks each echo, and counts the echoes that
   arrived compressed; its inflater is zlib limited to the 4 KiB window it
   asked for, so a client ignoring the window would fail the connection.

Usage: deflate_websockets.py ECHO_SERVER AUTOBAHN_CLIENT
Prints one line per check and `N passed, M failed`; exits non-zero on failure.
"""
import asyncio
import re
import subprocess
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from common import count_compressed_frames

TIMEOUT = 60

# Count compressed frames as websockets inflates them.
compressed_frames = count_compressed_frames()


def messages():
    text = "".join(f'{{"id":{i},"name":"item {i % 17}","tags":["a","b"]}},' for i in range(3000))
    binary = bytes((i * 7) % 64 for i in range(200_000))
    return [text, binary, "Hello", b"", "", "κόσμε " * 1000, text[:5000]]


def extension_names(ws):
    return [e.name for e in ws.protocol.extensions]


async def our_server(echo_server, results):
    server = subprocess.Popen([echo_server, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        addr = re.search(r"ws://([0-9.]+:[0-9]+)/", server.stdout.readline()).group(1)
        compressed_frames["count"] = 0
        async with connect(f"ws://{addr}/", max_size=None) as ws:
            names = extension_names(ws)
            results["server: websockets client negotiated permessage-deflate"] = (
                None if names == ["permessage-deflate"] else f"extensions {names}")
            bad = 0
            for m in messages():
                await ws.send(m)
                echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
                bad += echo != m
            results["server: every echo matches"] = None if not bad else f"{bad} echoes differ"
            results["server: echoes arrived compressed"] = (
                None if compressed_frames["count"] >= len(messages()) else
                f"{compressed_frames['count']} compressed frames of {len(messages())} messages")
        # The server logs each connection and close too: find its count line.
        def count_line():
            for line in server.stdout:
                if "compressed messages" in line:
                    return line
            return ""

        line = await asyncio.wait_for(asyncio.to_thread(count_line), TIMEOUT)
        found = re.search(r"received (\d+) compressed messages, sent (\d+)", line)
        results["server: websockets' messages arrived compressed"] = (
            None if found and int(found.group(1)) == len(messages()) else f"echo_server said {line.strip()!r}")
    finally:
        server.kill()
        server.wait()


async def our_client(autobahn_client, results):
    sent = messages()
    state = {"echoes_ok": 0, "extensions": None}

    async def handler(ws):
        path = ws.request.path
        if path.startswith("/getCaseCount"):
            await ws.send("1")
        elif path.startswith("/runCase"):
            state["extensions"] = extension_names(ws)
            state["params"] = ws.response.headers.get("Sec-WebSocket-Extensions")
            compressed_frames["count"] = 0
            for m in sent:
                await ws.send(m)
                echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
                state["echoes_ok"] += echo == m
            state["compressed"] = compressed_frames["count"]
        await ws.close()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        client = await asyncio.create_subprocess_exec(
            autobahn_client, f"ws://127.0.0.1:{port}", "deflate-check", stdout=subprocess.DEVNULL)
        await asyncio.wait_for(client.wait(), TIMEOUT)
    results["client: negotiated permessage-deflate with websockets' server"] = (
        None if state["extensions"] == ["permessage-deflate"] else f"extensions {state['extensions']}")
    print(f"  websockets server answered: {state.get('params')}")
    results["client: every echo matches (client window 12)"] = (
        None if state["echoes_ok"] == len(sent) else f"{state['echoes_ok']} of {len(sent)} echoes match")
    results["client: echoes arrived compressed"] = (
        None if state.get("compressed", 0) >= len(sent) else f"{state.get('compressed')} compressed frames")


async def main():
    echo_server, autobahn_client = sys.argv[1:3]
    results = {}
    await our_server(echo_server, results)
    await our_client(autobahn_client, results)
    for name, error in results.items():
        print(f"ok {name}" if error is None else f"FAIL {name}: {error}")
    failed = sum(e is not None for e in results.values())
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
