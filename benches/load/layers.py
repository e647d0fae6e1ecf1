#!/usr/bin/env python3
"""Instructions per message echoed, split by layer, from callgrind's counts
of the load test's echo servers (benches/load/instructions.sh writes one
line per run on stdin: server, connections, size, messages in flight,
messages echoed, callgrind file). Prints a markdown table per cell.

Each function's own instructions go to the crate its source file belongs
to; code the compiler inlined from Rust's standard library (whose files are
the toolchain's) goes to the crate of the function it was inlined into, as
callgrind names it. The layers:

- the WebSocket library: for wsmachine-tokio the core crate (`src/`) and
  the adapter (`tokio/src/`), shown apart; for the other Rust servers every
  crate but tokio and mio (their own, and the ones they frame with, such as
  tokio-util and bytes); for uWebSockets everything in its binary (uWS and
  uSockets, the event loop included, built without line tables);
- tokio and mio, the runtime and its event loop (for the server on mio
  alone, mio);
- std and libc: the system call wrappers, the allocator, `memcpy`;
- the echo server: its own loop (`recv`, then `send`), with what was
  inlined into it from the standard library;
- anything else (the dynamic loader at start).
"""

import os
import re
import subprocess
import sys

# The servers' names and the message sizes as the load test's tables
# print them (table.py, beside this script), imported without leaving a
# bytecode cache in the source tree.
sys.dont_write_bytecode = True
from table import NAMES, size  # noqa: E402

ROOT = os.getcwd()
LAYERS = ["library", "wsmachine", "wsmachine-tokio", "tokio and mio", "std and libc", "echo server", "other"]
RUNTIME = {"tokio", "mio"}
# The registry's source folder: .../registry/src/<index>/<crate>-<version>/
REGISTRY = re.compile(r"/registry/src/[^/]+/([A-Za-z0-9_-]+?)-\d+\.\d+\.\d+[^/]*/")
COST = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)  (.*)$")


def crate_of_function(function):
    """The first path segment of a Rust function's name: its crate."""
    name = function.lstrip("<&*")
    for prefix in ("impl ", "dyn ", "mut "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return re.split(r"::|<| ", name, maxsplit=1)[0].lstrip("<&")


def layer(entry, server_binary):
    """The layer of one `file:function [object]` entry, with the sublayer
    for wsmachine's two crates."""
    file, _, rest = entry.partition(":")
    function, _, obj = rest.partition(" [")
    if "libc.so" in entry or "libc-" in obj:
        return "std and libc"
    if "ld-linux" in entry:
        return "other"
    if file == "???":
        # No line tables: uWebSockets' binary, or a system library.
        return "library" if server_binary in obj else "other"
    if file.startswith(os.path.join(ROOT, "src") + "/"):
        return "wsmachine"
    if file.startswith(os.path.join(ROOT, "tokio", "src") + "/"):
        return "wsmachine-tokio"
    if file.startswith(os.path.join(ROOT, "benches") + "/"):
        return "echo server"
    found = REGISTRY.search(file)
    if found:
        crate = found.group(1)
        return "tokio and mio" if crate in RUNTIME else "library"
    # The standard library's source, inlined or not: by the function.
    crate = crate_of_function(function)
    if crate in ("std", "core", "alloc"):
        return "std and libc"
    if crate.startswith("echo_"):
        return "echo server"
    if crate in RUNTIME:
        return "tokio and mio"
    if crate == "wsmachine":
        return "wsmachine"
    if crate == "wsmachine_tokio":
        return "wsmachine-tokio"
    return "library"


def split(path, server_binary):
    listing = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", path],
        capture_output=True, text=True, check=True,
    ).stdout
    sums = dict.fromkeys(LAYERS, 0)
    for line in listing.splitlines():
        m = COST.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        sums[layer(m.group(2), server_binary)] += int(m.group(1).replace(",", ""))
    sums["library"] += sums["wsmachine"] + sums["wsmachine-tokio"]
    return sums


def main():
    cells = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        server, conns, length, in_flight, messages, path = line.split()
        sums = split(path, "echo_uws" if server == "uws" else f"echo_{server}")
        messages = max(int(messages), 1)
        cells.setdefault((conns, length, in_flight), []).append((server, sums, messages))
    for (conns, length, in_flight), rows in cells.items():
        flight = "" if in_flight == "1" else f", {in_flight} in flight"
        print(f"\n{conns} × {size(length)}{flight}: instructions per message echoed\n")
        print("| server | total | WebSocket library | tokio and mio | std and libc | echo server | other |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for server, sums, messages in rows:
            per = {k: round(v / messages) for k, v in sums.items()}
            total = sum(v for k, v in sums.items() if k not in ("wsmachine", "wsmachine-tokio"))
            library = f"{per['library']:,}"
            if server == "wsmachine_tokio":
                library += f" ({per['wsmachine']:,} + {per['wsmachine-tokio']:,})"
            print(
                f"| {NAMES.get(server, server)} | {round(total / messages):,} | {library} | "
                f"{per['tokio and mio']:,} | {per['std and libc']:,} | {per['echo server']:,} | {per['other']:,} |"
            )
    print("\nwsmachine-tokio's library column: the core crate + the adapter. The total includes")
    print("the other column: mostly the dynamic loader at the server's start.")


if __name__ == "__main__":
    main()
