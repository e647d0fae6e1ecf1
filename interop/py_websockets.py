#!/usr/bin/env python3
"""Python `websockets` as a peer of wsmachine.

  py_websockets.py server         echo server on 127.0.0.1:0; prints `PORT n`
  py_websockets.py client URL     runs the exchanges against URL; one line each
  py_websockets.py many URL       50 connections at once, 20 echoes each, in
                                  one test (`concurrent-connections`)

The server echoes every message and, on the text `close-me CODE REASON`,
closes the connection itself with that code and reason. The client uses the
library's defaults (it offers permessage-deflate) except for the size limit.
"""
import asyncio
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

import common


async def echo(ws):
    try:
        async for message in ws:
            close_me = common.parse_close_me(message)
            if close_me:
                await ws.close(*close_me)
                return
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass  # a close with a code other than 1000 ends the iteration this way


async def server():
    async with serve(echo, "127.0.0.1", 0, max_size=common.MAX_SIZE, ping_interval=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().create_future()


async def client(url):
    async with connect(url, max_size=common.MAX_SIZE, ping_interval=None, open_timeout=10,
                       close_timeout=10) as ws:

        async def echo_of(message, **kwargs):
            await ws.send(message, **kwargs)
            got = await ws.recv()
            if got != message:
                return f"echo differs ({type(got).__name__} of {len(got)})"

        async def fragmented_text():
            await ws.send(common.TEXT_PIECES, text=True)
            got = await ws.recv()
            return None if got == common.FRAGMENTED_TEXT.decode() else f"got {got!r}"

        async def fragmented_binary_with_ping():
            data = common.pattern(3000)
            pong = None

            async def pieces():
                nonlocal pong
                yield data[:1000]
                pong = await ws.ping(b"between fragments")  # a control frame inside the message
                yield data[1000:2000]
                yield data[2000:]

            await ws.send(pieces())
            got = await ws.recv()
            await asyncio.wait_for(pong, 10)
            return None if got == data else f"echo differs ({len(got)} bytes)"

        async def ping():
            waiter = await ws.ping(common.PING_PAYLOAD)
            await asyncio.wait_for(waiter, 10)  # resolves on the pong with this payload

        async def deflate_declined():
            offered = ws.request.headers.get("Sec-WebSocket-Extensions", "")
            answered = ws.response.headers.get("Sec-WebSocket-Extensions")
            if "permessage-deflate" not in offered:
                return f"the client did not offer permessage-deflate ({offered!r})"
            if answered is not None:
                return f"the server accepted {answered!r}"

        async def close_by_client():
            await ws.close(common.CLOSE_CODE, common.CLOSE_REASON)
            rcvd = ws.protocol.close_rcvd
            if rcvd is None or rcvd.code != common.CLOSE_CODE:
                return f"expected the server to echo {common.CLOSE_CODE}, got {rcvd}"

        exchanges = [
            ("text", lambda: echo_of(common.TEXT)),
            ("binary", lambda: echo_of(common.pattern(256))),
            ("empty-text", lambda: echo_of("")),
            ("empty-binary", lambda: echo_of(b"")),
            *[(common.size_name(n), lambda n=n: echo_of(common.pattern(n))) for n in common.SIZES],
            ("fragmented-text", fragmented_text),
            ("fragmented-binary-with-ping", fragmented_binary_with_ping),
            ("ping", ping),
            ("deflate-declined", deflate_declined),
            ("close-by-client", close_by_client),
        ]
        return await common.run_exchanges(exchanges)


async def many(url, connections=50, messages=20):
    async def one(i):
        async with connect(url, max_size=common.MAX_SIZE, ping_interval=None, open_timeout=10) as ws:
            for j in range(messages):
                message = f"connection {i} message {j}" if j % 2 else common.pattern(1000 + i * 37 + j)
                await ws.send(message)
                if await ws.recv() != message:
                    raise AssertionError(f"connection {i}: echo {j} differs")
            await ws.close(1000)

    async def all_at_once():
        await asyncio.gather(*(one(i) for i in range(connections)))

    return await common.run_exchanges([("concurrent-connections", all_at_once)])


def main():
    if sys.argv[1:2] == ["--version"]:
        print(websockets.__version__)
        return 0
    if sys.argv[1] == "server":
        asyncio.run(server())
        return 0
    if sys.argv[1] == "many":
        return 1 if asyncio.run(many(sys.argv[2])) else 0
    return 1 if asyncio.run(client(sys.argv[2])) else 0


if __name__ == "__main__":
    sys.exit(main())
