#!/usr/bin/env python3
"""Tornado's WebSocket server and client as peers of wsmachine.

  py_tornado.py server         echo server on 127.0.0.1:0; prints `PORT n`
  py_tornado.py client URL     runs the exchanges against URL; one line each

The server echoes every message and, on the text `close-me CODE REASON`,
closes the connection itself with that code and reason. Tornado has no
public API for sending a fragmented message, so the client writes those
frames with its protocol's `_write_frame` (masked as a client must). It
offers no extension by default, so `deflate-declined` checks that the answer
carries no extension either.
"""
import asyncio
import sys

import tornado
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import common


class Echo(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    async def on_message(self, message):
        close_me = common.parse_close_me(message)
        if close_me:
            self.close(*close_me)
            return
        try:
            await self.write_message(message, binary=isinstance(message, bytes))
        except tornado.websocket.WebSocketClosedError:
            pass


async def server():
    app = tornado.web.Application([(r"/.*", Echo)], websocket_max_message_size=common.MAX_SIZE)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tornado.httpserver.HTTPServer(app).add_sockets(sockets)
    print(f"PORT {sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().create_future()


async def client(url):
    ws = await asyncio.wait_for(
        tornado.websocket.websocket_connect(url, max_message_size=common.MAX_SIZE), 10)
    pongs = asyncio.Queue()
    ws.on_pong = pongs.put_nowait  # the protocol calls handler.on_pong(data)

    async def echo_of(message):
        await ws.write_message(message, binary=isinstance(message, bytes))
        got = await ws.read_message()
        if got != message:
            return f"echo differs ({type(got).__name__} of {len(got) if got is not None else 'None'})"

    def frame(fin, opcode, data):
        return ws.protocol._write_frame(fin, opcode, data)

    async def fragmented_text():
        first, middle, last = common.TEXT_PIECES
        await frame(False, 0x1, first)
        await frame(False, 0x0, middle)
        await frame(True, 0x0, last)
        got = await ws.read_message()
        return None if got == common.FRAGMENTED_TEXT.decode() else f"got {got!r}"

    async def fragmented_binary_with_ping():
        data = common.pattern(3000)
        await frame(False, 0x2, data[:1000])
        ws.ping(b"between fragments")
        await frame(False, 0x0, data[1000:2000])
        await frame(True, 0x0, data[2000:])
        got = await ws.read_message()
        pong = await asyncio.wait_for(pongs.get(), 10)
        if pong != b"between fragments":
            return f"pong payload {pong!r}"
        return None if got == data else f"echo differs ({len(got)} bytes)"

    async def ping():
        ws.ping(common.PING_PAYLOAD)
        pong = await asyncio.wait_for(pongs.get(), 10)
        return None if pong == common.PING_PAYLOAD else f"pong payload {pong!r}"

    async def deflate_declined():
        answered = ws.headers.get("Sec-WebSocket-Extensions")
        return None if answered is None else f"the server answered extensions {answered!r}"

    async def close_by_client():
        ws.close(common.CLOSE_CODE, common.CLOSE_REASON)
        while await ws.read_message() is not None:
            pass  # None once the server's Close arrived
        if ws.close_code != common.CLOSE_CODE:
            return f"expected the server to echo {common.CLOSE_CODE}, got {ws.close_code}"

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


def main():
    if sys.argv[1:2] == ["--version"]:
        print(tornado.version)
        return 0
    if sys.argv[1] == "server":
        asyncio.run(server())
        return 0
    return 1 if asyncio.run(client(sys.argv[2])) else 0


if __name__ == "__main__":
    sys.exit(main())
