"""What every peer script shares: the payloads, the exchange names, and how
results are printed (`ok NAME` / `FAIL NAME: why`, one line each, flushed)."""
import asyncio
import sys
import traceback

# Every exchange a peer client runs against our servers, in order.
CLIENT_EXCHANGES = [
    "text", "binary", "empty-text", "empty-binary",
    "size-125", "size-126", "size-65535", "size-65536", "size-16MiB",
    "fragmented-text", "fragmented-binary-with-ping", "ping",
    "deflate-declined", "close-by-client",
]
SIZES = [125, 126, 65535, 65536, 16 << 20]
TEXT = "hello from the peer, κόσμε 🌍"
# A text whose "ό" is split across two fragments.
FRAGMENTED_TEXT = "fragments: κόσμε".encode()
TEXT_PIECES = [FRAGMENTED_TEXT[:11], FRAGMENTED_TEXT[11:14], FRAGMENTED_TEXT[14:]]
PING_PAYLOAD = b"ping payload \x00\xff 123"
CLOSE_CODE = 4001
CLOSE_REASON = "peer says bye"
EXCHANGE_TIMEOUT = 30
MAX_SIZE = 64 << 20


def pattern(n):
    return bytes(i % 251 for i in range(n)) if n < 1 << 16 else (bytes(range(251)) * (n // 251 + 1))[:n]


def size_name(n):
    return "size-16MiB" if n == 16 << 20 else f"size-{n}"


def report(name, error=None):
    print(f"ok {name}" if error is None else f"FAIL {name}: {error}", flush=True)


async def run_exchanges(exchanges):
    """Runs (name, coroutine function) pairs in order, each bounded in time.
    Returns the number of failures; once the connection is gone, the rest fail."""
    failed = 0
    for name, run in exchanges:
        try:
            error = await asyncio.wait_for(run(), EXCHANGE_TIMEOUT)
        except asyncio.TimeoutError:
            error = f"timed out after {EXCHANGE_TIMEOUT} s"
        except Exception as e:  # report every failure by name, keep going
            error = f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
        report(name, error)
        failed += error is not None
    return failed


def parse_close_me(message):
    """`close-me CODE REASON` asks an interop echo server to close the
    connection itself with that code and reason; returns (code, reason) or None."""
    if isinstance(message, str) and message.startswith("close-me "):
        _, code, reason = message.split(" ", 2)
        return int(code), reason
    return None


def count_compressed_frames():
    """Makes `websockets` count the compressed (RSV1) frames it inflates;
    returns the counter, a dict whose "count" the caller may reset."""
    from websockets.extensions import permessage_deflate

    counter = {"count": 0}
    decode = permessage_deflate.PerMessageDeflate.decode

    def counting_decode(self, frame, *, max_size=None):
        if frame.rsv1:
            counter["count"] += 1
        return decode(self, frame, max_size=max_size)

    permessage_deflate.PerMessageDeflate.decode = counting_decode
    return counter


async def run_checks(checks, timeout):
    """Runs (name, coroutine) pairs in order, each bounded by `timeout`
    seconds; prints `ok NAME` or `FAILED NAME: why` and the closing
    `N passed, M failed` line. Returns whether all passed."""
    passed = failed = 0
    for name, check in checks:
        try:
            await asyncio.wait_for(check, timeout)
            print(f"ok      {name}", flush=True)
            passed += 1
        except Exception as e:  # report every failure by name, keep going
            print(f"FAILED  {name}: {e!r}", flush=True)
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return failed == 0
