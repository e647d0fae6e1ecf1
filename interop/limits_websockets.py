#!/usr/bin/env python3
"""Limits against a real peer: Python `websockets` sends messages within
the echo server's 64 MiB message limit in the shapes that used to be
refused, and a fragment flood that must still be cut off.

Against the echo_server example built with feature `deflate`:
1. 20 MiB in one frame (no compression), echoed whole.
2. 60 MiB of random bytes with permessage-deflate (incompressible: its
   compressed frame is a little larger than the data), echoed whole.
3. 4 MiB in 65 536 fragments of 64 bytes and an empty final frame (the
   shape of Autobahn cases 9.3.1 and 9.4.1: 65 537 frames), echoed whole.
4. A message of endless empty fragments: the server closes with 1009, its
   reason saying why, once they cost more than the message limit allows,
   and its peak memory stays
   far below what the flood sent.

Usage: limits_websockets.py ECHO_SERVER
Prints one line per check and `N passed, M failed`; exits non-zero on failure.
"""
import asyncio
import os
import re
import subprocess
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from common import run_checks

TIMEOUT = 120
MiB = 1 << 20


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def echo_whole(addr, message, compression):
    async with connect(f"ws://{addr}/", compression=compression, max_size=None) as ws:
        await ws.send(message)
        echoed = await ws.recv()
        if echoed != message:
            raise AssertionError(f"echo differs: {len(echoed)} bytes back for {len(message)}")


async def fragments_then_empty_final(addr):
    data = os.urandom(4 * MiB)
    async with connect(f"ws://{addr}/", compression=None, max_size=None) as ws:
        # websockets sends each item as a frame, then an empty final frame.
        await ws.send(data[i : i + 64] for i in range(0, len(data), 64))
        echoed = await ws.recv()
        if echoed != data:
            raise AssertionError(f"echo differs: {len(echoed)} bytes back")


async def empty_fragment_flood(addr, pid):
    before = peak_rss_kib(pid)
    async with connect(f"ws://{addr}/", compression=None, max_size=None) as ws:

        def flood():
            yield b"x"
            # 1 Mi empty fragments are allowed at the 64 MiB limit; a few
            # more must be refused (sending many more only makes the server
            # drain them before it can close without a reset).
            for _ in range((1 << 20) + 64):
                yield b""

        try:
            await ws.send(flood())
        except ConnectionClosed:
            pass
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            raise AssertionError("the flood was echoed")
        except ConnectionClosed as closed:
            code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, None)
            if code != 1009:
                raise AssertionError(f"closed with {code}, not 1009")
            # The Close says why, so that the peer's log does too.
            if "too many fragments" not in reason:
                raise AssertionError(f"1009 with the reason {reason!r}")
    grown = peak_rss_kib(pid) - before
    # The flood was over 7 MB on the wire; the server holds none of it.
    if grown > 4 * 1024:
        raise AssertionError(f"peak memory grew by {grown} KiB")


async def main(echo_server):
    server = subprocess.Popen([echo_server, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        addr = re.search(r"ws://([0-9.]+:[0-9]+)/", server.stdout.readline()).group(1)
        checks = [
            ("20 MiB in one frame", echo_whole(addr, os.urandom(20 * MiB), None)),
            ("60 MiB random, compressed", echo_whole(addr, os.urandom(60 * MiB), "deflate")),
            ("4 MiB in 65 537 frames", fragments_then_empty_final(addr)),
            ("empty-fragment flood cut off with 1009", empty_fragment_flood(addr, server.pid)),
        ]
        return await run_checks(checks, TIMEOUT)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1])) else 1)
