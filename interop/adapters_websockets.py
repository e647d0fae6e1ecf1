#!/usr/bin/env python3
"""The adapter examples against Python `websockets`, over loopback:

1. `blocking_client` (wsmachine::blocking) against a `websockets` echo
   server: its three texts and its 200 KiB binary message come back, and it
   closes with 1000 "done". Against a `websockets` server that refuses
   the upgrade with 401, it fails with `Error::Refused`, holding the
   server's `WWW-Authenticate` header and its whole body. Against a
   `websockets` server that closes with 1012 (service restart, a code
   registered with IANA after RFC 6455), it reports that code and reason.
2. `chat` (wsmachine-tokio) with two `websockets` clients at once: what
   either sends reaches both.
3. `deflate_echo` (wsmachine-tokio, feature `deflate`) with a `websockets`
   client offering compression: permessage-deflate is negotiated, every
   echo matches, and the echoes arrive compressed.
4. `hyper_upgrade` (hyper 1.x upgrading to wsmachine-tokio) with a
   `websockets` client: the first message rides right behind the request.
5. `wss_echo` (rustls) with a `websockets` client over TLS that trusts the
   self-signed certificate the server wrote.
6. `axum_echo` (an axum server, wsmachine-tokio's `hyper` module) with
   `websockets` clients: the echo route, the chat route with two clients,
   and a client closing with 1013 (try again later) gets 1013 back.
7. `blocking_feed` (wsmachine::blocking, a thread that only sends) with a
   `websockets` client that pings every 0.2 s and drops a peer whose pong
   is 0.5 s late: the feed keeps coming for 3 s, in order, and the
   client's Close (1000) ends it cleanly on both sides.

Usage: adapters_websockets.py BLOCKING_CLIENT CHAT DEFLATE_ECHO HYPER_UPGRADE WSS_ECHO AXUM_ECHO BLOCKING_FEED
Prints one line per check and `N passed, M failed`; exits non-zero on failure.
"""
import asyncio
import http
import os
import re
import ssl
import sys
import tempfile

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from common import count_compressed_frames, run_checks

TIMEOUT = 30
compressed_frames = count_compressed_frames()


async def blocking_client(binary):
    closes = []

    async def echo(ws):
        async for message in ws:
            await ws.send(message)
        closes.append((ws.close_code, ws.close_reason))

    async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            binary, f"ws://127.0.0.1:{port}/", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        await asyncio.sleep(0)  # let the handler record the close
    lines = out.decode().splitlines()
    expected = ["text: one", "text: two", "text: three", "binary: 204800 bytes"]
    if process.returncode != 0 or lines != expected:
        raise AssertionError(f"exit {process.returncode}, printed {lines}")
    if closes != [(1000, "done")]:
        raise AssertionError(f"the server saw closes {closes}")


async def blocking_client_refused(binary):
    body = "log in first\n"

    def refuse(connection, request):
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, body)
        response.headers["WWW-Authenticate"] = 'Bearer realm="chat"'
        return response

    async def never(ws):
        raise AssertionError("the refused client got a connection")

    async with serve(never, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            binary, f"ws://127.0.0.1:{port}/", stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
    err = err.decode()
    # The example returns the error from main, which prints its Debug form.
    expected = [
        "Refused(Refusal { status: 401,",
        '("WWW-Authenticate", "Bearer realm=\\"chat\\"")',
        f"body: {list(body.encode())}",
    ]
    missing = [part for part in expected if part not in err]
    if process.returncode == 0 or missing:
        raise AssertionError(f"exit {process.returncode}, missing {missing} in {err!r}")


async def blocking_client_server_restart(binary):
    async def restart(ws):
        await ws.recv()
        await ws.close(1012, "restarting")

    async with serve(restart, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            binary, f"ws://127.0.0.1:{port}/", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
    lines = out.decode().splitlines()
    if process.returncode != 0 or lines != ["closed by the server: 1012 restarting"]:
        raise AssertionError(f"exit {process.returncode}, printed {lines}")


async def start(binary, cwd=None):
    process = await asyncio.create_subprocess_exec(
        os.path.abspath(binary), "127.0.0.1:0", stdout=asyncio.subprocess.PIPE, cwd=cwd
    )
    while True:  # the address line, after any others
        line = (await process.stdout.readline()).decode()
        found = re.search(r"wss?://([0-9.]+:[0-9]+)/", line)
        if found or not line:
            return process, found.group(1) if found else None


async def echo_checks(ws):
    for message in ["hello", b"\x00\xff" * 1000, "κόσμε " * 10_000]:
        await ws.send(message)
        if await ws.recv() != message:
            raise AssertionError("an echo differs")


async def hyper_upgrade(binary):
    process, addr = await start(binary)
    try:
        async with connect(f"ws://{addr}/any/path", compression=None, max_size=None) as ws:
            await echo_checks(ws)
    finally:
        process.terminate()
        await process.wait()


async def wss_echo(binary):
    with tempfile.TemporaryDirectory() as folder:
        process, addr = await start(binary, cwd=folder)
        try:
            context = ssl.create_default_context(cafile=os.path.join(folder, "wss_echo_cert.pem"))
            port = addr.split(":")[1]
            async with connect(f"wss://localhost:{port}/", ssl=context, max_size=None) as ws:
                await echo_checks(ws)
        finally:
            process.terminate()
            await process.wait()


async def chat(binary):
    process, addr = await start(binary)
    try:
        async with connect(f"ws://{addr}/room") as a, connect(f"ws://{addr}/room") as b:
            # The server subscribes a client to the room when it accepts the
            # connection, so both are in it once their handshakes are done.
            await a.send("hello from a")
            await b.send(b"\x00\x01binary from b")
            for name, ws in (("a", a), ("b", b)):
                got = {await ws.recv(), await ws.recv()}
                if got != {"hello from a", b"\x00\x01binary from b"}:
                    raise AssertionError(f"client {name} received {got}")
    finally:
        process.terminate()
        await process.wait()


async def deflate_echo(binary):
    process, addr = await start(binary)
    try:
        compressed_frames["count"] = 0
        async with connect(f"ws://{addr}/", max_size=None) as ws:
            names = [e.name for e in ws.protocol.extensions]
            if names != ["permessage-deflate"]:
                raise AssertionError(f"negotiated {names}")
            messages = ['{"id":1,"text":"hello hello hello"}' * 200, bytes(range(256)) * 400, "κόσμε " * 500]
            for message in messages:
                await ws.send(message)
                if await ws.recv() != message:
                    raise AssertionError("an echo differs")
        if compressed_frames["count"] < len(messages):
            raise AssertionError(f"{compressed_frames['count']} compressed echoes of {len(messages)}")
    finally:
        process.terminate()
        await process.wait()


async def axum_echo(binary):
    process, addr = await start(binary)
    try:
        async with connect(f"ws://{addr}/ws", max_size=None) as ws:
            await echo_checks(ws)
            await ws.close(1013, "busy")
            if (ws.close_code, ws.close_reason) != (1013, "busy"):
                raise AssertionError(f"closed with {ws.close_code} {ws.close_reason!r}")
        async with connect(f"ws://{addr}/chat") as alice, connect(f"ws://{addr}/chat") as bob:
            await alice.send("hello from alice")
            for client in (alice, bob):
                if await client.recv() != "hello from alice":
                    raise AssertionError("the chat lost a message")
    finally:
        process.terminate()
        await process.wait()


async def blocking_feed(binary):
    process, addr = await start(binary)
    try:
        async with connect(f"ws://{addr}/", ping_interval=0.2, ping_timeout=0.5) as ws:
            loop = asyncio.get_running_loop()
            end = loop.time() + 3
            ticks = 0
            while loop.time() < end:
                # Raises ConnectionClosedError (1011) if a pong came late.
                message = await ws.recv()
                if message != f"tick {ticks}":
                    raise AssertionError(f"received {message!r} for tick {ticks}")
                ticks += 1
            if ws.latency == 0:
                raise AssertionError("no ping was answered")
            await ws.close(1000, "enough")
            if ws.close_code != 1000:
                raise AssertionError(f"the feed closed with {ws.close_code}")
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
        if line != "client left: 1000 enough":
            raise AssertionError(f"the feed printed {line!r}")
    finally:
        process.terminate()
        await process.wait()


async def main(blocking, chat_binary, deflate_binary, hyper_binary, wss_binary, axum_binary, feed_binary):
    checks = [
        ("blocking_client <-> websockets echo server", blocking_client(blocking)),
        ("blocking_client refused by a websockets server: status, header, body", blocking_client_refused(blocking)),
        ("blocking_client sees a websockets server close with 1012", blocking_client_server_restart(blocking)),
        ("chat with two websockets clients", chat(chat_binary)),
        ("deflate_echo <-> websockets client, compressed", deflate_echo(deflate_binary)),
        ("hyper_upgrade <-> websockets client", hyper_upgrade(hyper_binary)),
        ("wss_echo <-> websockets client over TLS", wss_echo(wss_binary)),
        ("axum_echo <-> websockets clients: echo, close 1013, chat", axum_echo(axum_binary)),
        ("blocking_feed, a thread that only sends, keeps a pinging websockets client", blocking_feed(feed_binary)),
    ]
    return await run_checks(checks, TIMEOUT)

if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(*sys.argv[1:8])) else 1)
