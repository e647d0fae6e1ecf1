#!/usr/bin/env python3
"""Markdown tables from the load test's results (benches/load/run.sh):
messages per second with each server's ratio to wsmachine-tokio, the
round-trip latency's p50 / p99, and the server's CPU time per message
(user / system); each the median of the cell's rounds."""

import csv
import math
import sys

NAMES = {
    "wsmachine_tokio": "wsmachine-tokio",
    "wsmachine_blocking": "wsmachine blocking",
    "wsmachine_mio": "wsmachine on mio",
    "tokio_tungstenite": "tokio-tungstenite",
    "fastwebsockets": "fastwebsockets",
    "tokio_websockets": "tokio-websockets",
    # Optional: run.sh adds it when UWS_ECHO names a build (load/uws/).
    "uws": "uWebSockets",
}
BASE = "wsmachine_tokio"


def size(n):
    n = int(n)
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def number(x):
    return "–" if math.isnan(x) else f"{x:,.0f}".replace(",", " ")


def main(path):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    servers = list(dict.fromkeys(r["server"] for r in rows))
    cells = list(dict.fromkeys((r["conns"], r["size"], r["in_flight"]) for r in rows))
    by = {}
    for r in rows:
        by.setdefault((r["server"], r["conns"], r["size"], r["in_flight"]), []).append(r)

    def cell_name(c):
        conns, n, k = c
        name = f"{conns} × {size(n)}"
        return name if k == "1" else f"{name}, {k} in flight"

    def value(s, c, key):
        values = sorted(float(r.get(key) or "nan") for r in by.get((s,) + c, []))
        values = [v for v in values if not math.isnan(v)]
        return values[len(values) // 2] if values else math.nan

    def table(title, entry):
        """A table with a row per cell and a column per server, each entry
        `entry(server, cell)`."""
        print(title)
        print()
        print("| connections × size | " + " | ".join(NAMES.get(s, s) for s in servers) + " |")
        print("| --- |" + " ---: |" * len(servers))
        for c in cells:
            print(f"| {cell_name(c)} | " + " | ".join(entry(s, c) for s in servers) + " |")

    def rate(s, c):
        base, v = value(BASE, c, "msgs_per_s"), value(s, c, "msgs_per_s")
        if s == BASE or math.isnan(base) or math.isnan(v):
            return number(v)
        return f"{number(v)} ({v / base:.2f}×)"

    def pair(first, second, digits):
        """Two figures of a cell as "first / second"."""

        def entry(s, c):
            a, b = value(s, c, first), value(s, c, second)
            return "–" if math.isnan(a) else f"{a:.{digits}f} / {b:.{digits}f}"

        return entry

    table("Messages echoed per second (median of the rounds; in parentheses, the ratio to wsmachine-tokio):", rate)
    print()
    table("Round-trip latency, p50 / p99 in µs (medians of the rounds):", pair("p50_us", "p99_us", 0))
    print()
    table(
        "Server CPU time per message echoed, user / system in µs (medians of the rounds):",
        pair("user_us", "sys_us", 2),
    )


if __name__ == "__main__":
    main(sys.argv[1])
