#!/usr/bin/env python3
"""Markdown tables of where each echo server's CPU time per message goes,
from the sample counts benches/load/copies.sh writes (one line per server,
cell and round: the cell as "connections size in-flight", the server, the
messages echoed while perf sampled, then the samples in all, in user space,
in the kernel's copy in, its copy out and the library's (un)masking). One
sample is 100 µs of CPU (cpu-clock at 10 kHz); each figure is the median of
the rounds, in µs per message.
"""

import statistics
import sys

# The servers' names and the message sizes as the load test's tables print
# them (table.py, beside this script), imported without leaving a bytecode
# cache in the source tree.
sys.dont_write_bytecode = True
from table import NAMES, size  # noqa: E402

SAMPLE_US = 100
COLUMNS = ["all", "user space", "kernel's copy in", "kernel's copy out", "(un)masking"]


def figure(us):
    """Three significant figures or so: 462.2, 41.8, 0.93."""
    return f"{us:.1f}" if us >= 10 else f"{us:.2f}"


def main(path):
    rounds = {}
    for line in open(path):
        cell, server, msgs, *samples = line.rstrip("\n").split("\t")
        msgs = float(msgs)
        per_message = [int(s) * SAMPLE_US / msgs if msgs > 0 else float("nan") for s in samples]
        rounds.setdefault(cell, {}).setdefault(server, []).append(per_message)
    for cell, servers in rounds.items():
        conns, message, in_flight = cell.split()
        print(f"\nServer CPU time per message echoed, µs, {conns} × {size(message)}, {in_flight} in flight "
              "(medians of the rounds):\n")
        print("| server | " + " | ".join(COLUMNS) + " |")
        print("| --- |" + " ---: |" * len(COLUMNS))
        for server, figures in servers.items():
            medians = [statistics.median(f[i] for f in figures) for i in range(len(COLUMNS))]
            # No symbol of its own for the masking (inlined): no figure.
            shown = [figure(m) if m > 0 or i < len(COLUMNS) - 1 else "" for i, m in enumerate(medians)]
            print(f"| {NAMES.get(server, server)} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
