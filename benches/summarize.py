#!/usr/bin/env python3
"""Turns criterion's results into the README's performance tables.

Reads the medians criterion wrote under target/criterion/ (one
`new/estimates.json` and `new/benchmark.json` per benchmark), prints
Markdown tables of medians with the ratios against memcpy and against each
peer, then checks the performance targets. Writes the same text to
target/bench-summary.md. Standard library only.

Ratios read the same way everywhere:
- "time ÷ memcpy": wsmachine's median over memcpy's (1.00 = the floor;
  lower is better);
- "× peer": the peer's median over wsmachine's, i.e. how many times
  faster wsmachine is (above 1 = wsmachine faster).
"""

import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
CRITERION = os.path.join(TARGET, "criterion")

SIZES = ["16B", "125B", "1KiB", "64KiB", "1MiB"]
SIZE_BYTES = {"16B": 16, "125B": 125, "1KiB": 1024, "64KiB": 65536, "1MiB": 1 << 20}
PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets"]
# "At least as fast as" counts a difference below this as a tie: run-to-run
# noise on a shared 2-core machine is about that size.
TIE = 0.03


def load():
    """{(group, function, value): (median_ns, throughput dict)}"""
    results = {}
    for dirpath, _dirs, files in os.walk(CRITERION):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        key = (bench["group_id"], bench.get("function_id"), bench.get("value_str"))
        results[key] = (est["median"]["point_estimate"], bench.get("throughput") or {})
    return results


def fmt_time(ns):
    if ns is None:
        return "–"
    # Rounded to three significant digits before the unit is chosen, so
    # that 999.7 µs reads "1 ms", not "1e+03 µs".
    ns = float(f"{ns:.3g}")
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}"


def div(a, b):
    return None if a is None or b is None or b == 0 else a / b


def gbps(nbytes, ns):
    return None if ns is None else nbytes / ns  # bytes per ns == GB/s


def machine():
    model, cores = platform.processor() or "unknown", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc (unknown)"
    return f"{model}, {cores} cores, {platform.system()} {platform.machine()}, {rustc}"


class Report:
    def __init__(self, results):
        self.r = results
        self.lines = []
        self.checks = []

    def t(self, group, function, value=None):
        hit = self.r.get((group, function, value))
        return hit[0] if hit else None

    def out(self, line=""):
        self.lines.append(line)

    def table(self, header, rows):
        self.out("| " + " | ".join(header) + " |")
        self.out("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(header))) + "|")
        for row in rows:
            self.out("| " + " | ".join(row) + " |")
        self.out()

    def check(self, name, value, ok, detail):
        self.checks.append((name, value, ok, detail))

    # --- sections -----------------------------------------------------------

    def unmask(self):
        g = "unmask"
        self.out("### Unmask in place (median per call)")
        self.out()
        rows = []
        for s in SIZES:
            m, w, w1, f = (self.t(g, k, s) for k in ("memcpy", "wsmachine", "wsmachine-offset1", "fastwebsockets"))
            n = SIZE_BYTES[s]
            rows.append([
                s, fmt_time(m), fmt_time(w), fmt_time(w1), fmt_time(f),
                f"{gbps(n, w):.1f}" if w else "–",
                fmt_ratio(div(w, m)), fmt_ratio(div(f, w)),
            ])
            if w and m and n >= 65536:
                self.check(f"unmask {s} ≥ 0.85× memcpy speed", f"{div(m, w):.2f}× memcpy speed", div(m, w) >= 0.85,
                           f"{fmt_time(w)} vs memcpy {fmt_time(m)}")
            if w and f:
                tie = 1.0 - TIE <= div(f, w) < 1.0
                self.check(f"unmask {s} ≥ fastwebsockets speed", f"{div(f, w):.2f}×", div(f, w) >= 1.0 - TIE,
                           f"{fmt_time(w)} vs {fmt_time(f)}" + (" (a tie, within noise)" if tie else ""))
        self.table(["size", "memcpy", "wsmachine", "wsmachine (offset 1)", "fastwebsockets", "wsmachine GB/s",
                    "time ÷ memcpy", "× fastwebsockets"], rows)

    def frames(self, direction, kind):
        g = f"{direction}-{kind}"
        floors = ["memcpy"] + (["memcpy+simdutf8"] if (direction, kind) == ("decode", "text") else [])
        impls = floors + ["wsmachine"] + (["wsmachine-read64k"] if direction == "decode" else []) + PEERS
        verb = "Server-role decode of masked" if direction == "decode" else "Client-role encode (masking) of"
        self.out(f"### {verb} {kind} frames: ns per frame (payload GB/s)")
        self.out()
        rows, ratio_rows, floor_rows = [], [], []
        for s in SIZES:
            times = {k: self.t(g, k, s) for k in impls}
            size = SIZE_BYTES[s]
            tp = self.r.get((g, "wsmachine", s), (None, {}))[1].get("Bytes")
            frames = tp // size if tp else None
            cells = [s, str(frames or "–")]
            for k in impls:
                ns = times[k]
                cells.append("–" if ns is None or not frames else f"{ns / frames:.1f} ({gbps(tp, ns):.2f})")
            rows.append(cells)
            w = times["wsmachine"]
            ratio = [s, fmt_ratio(div(w, times["memcpy"]))]
            if direction == "decode":
                ratio.append(fmt_ratio(div(times["wsmachine-read64k"], times["memcpy"])))
            for p in PEERS:
                cell = fmt_ratio(div(times[p], w))
                if direction == "decode":
                    cell += f" ({fmt_ratio(div(times[p], times['wsmachine-read64k']))})"
                ratio.append(cell)
            ratio_rows.append(ratio)
            if direction == "decode":
                for floor in floors:
                    floor_rows.append([s, floor] + [
                        fmt_ratio(div(times[k], times[floor])) for k in ["wsmachine", "wsmachine-read64k"] + PEERS
                    ])
            self.frame_checks(direction, kind, s, times)
        self.table(["size", "frames"] + impls, rows)
        header = ["size", "wsmachine time ÷ memcpy"]
        if direction == "decode":
            header.append("read64k time ÷ memcpy")
            header += [f"× {p} (read64k)" for p in PEERS]
        else:
            header += [f"× {p}" for p in PEERS]
        self.table(header, ratio_rows)
        if direction == "decode":
            # Everyone's time over the floor: the cost of decoding on top of
            # receiving (read64k and the peers copy each read, as a server
            # reading a socket does).
            self.out(f"Decode {kind}: time ÷ floor")
            self.out()
            self.table(["size", "floor", "wsmachine", "wsmachine-read64k"] + PEERS, floor_rows)

    def frame_checks(self, direction, kind, s, times):
        w, m, tung = times["wsmachine"], times["memcpy"], times["tungstenite"]
        if direction == "decode":
            want = {"16B": 2.5, "125B": 1.7}.get(s)
            if want and w and tung:
                self.check(f"decode {kind} {s} ≥ {want}× tungstenite", f"{div(tung, w):.2f}×", div(tung, w) >= want,
                           f"in place; read64k {fmt_ratio(div(tung, times['wsmachine-read64k']))}×")
            if s in ("64KiB", "1MiB") and w and m:
                self.check(f"decode {kind} {s} ≤ 1.2× memcpy time", f"{div(w, m):.2f}×", div(w, m) <= 1.2,
                           f"in place; read64k {fmt_ratio(div(times['wsmachine-read64k'], m))}×")
            # Copy each 64 KiB read, then decode: at most a memcpy of the same
            # bytes for binary, within 1.2× of memcpy + simdutf8 for text.
            r = times["wsmachine-read64k"]
            floor, want = ("memcpy", 1.0) if kind == "binary" else ("memcpy+simdutf8", 1.2)
            f = times.get(floor)
            if s in ("64KiB", "1MiB") and r and f:
                tie = want < div(r, f) <= want + TIE
                self.check(f"decode {kind} {s} read64k ≤ {want}× {floor}", f"{div(r, f):.2f}×", div(r, f) <= want,
                           f"{fmt_time(r)} vs {fmt_time(f)}" + (" (within noise)" if tie else ""))
        else:
            if s == "16B" and w and tung:
                self.check(f"encode {kind} 16B ≥ 3× tungstenite", f"{div(tung, w):.2f}×", div(tung, w) >= 3.0, "")
            if s == "1MiB" and w and m:
                self.check(f"encode {kind} 1MiB copy+mask ≤ 2× memcpy", f"{div(w, m):.2f}×", div(w, m) <= 2.0, "")

    def utf8(self):
        g = "utf8"
        impls = ["core", "simdutf8", "wsmachine", "wsmachine-4k-pieces"]
        self.out("### UTF-8 validation: median (GB/s)")
        self.out()
        rows = []
        for label in ["ascii-64KiB", "ascii-1MiB", "multibyte-64KiB", "multibyte-1MiB"]:
            n = SIZE_BYTES[label.split("-")[1]]
            times = {k: self.t(g, k, label) for k in impls}
            cells = [label] + [
                "–" if times[k] is None else f"{fmt_time(times[k])} ({gbps(n, times[k]):.1f})" for k in impls
            ]
            w, simd = times["wsmachine"], times["simdutf8"]
            cells += [fmt_ratio(div(simd, w)), fmt_ratio(div(times["core"], w))]
            rows.append(cells)
            if label == "multibyte-64KiB" and w and simd:
                self.check("UTF-8 multibyte 64KiB ≥ 0.8× simdutf8 speed", f"{div(simd, w):.2f}×", div(simd, w) >= 0.8,
                           f"{fmt_time(w)} vs {fmt_time(simd)}")
        self.table(["input"] + impls + ["wsmachine speed ÷ simdutf8", "× core"], rows)

    def handshake(self):
        g = "handshake"
        impls = ["httparse-floor", "wsmachine", "wsmachine-head-buffer", "tungstenite", "tokio-websockets"]
        times = {k: self.t(g, k) for k in impls}
        self.out("### Opening handshake (server): parse a browser request, write the 101 answer")
        self.out()
        floor, w = times["httparse-floor"], times["wsmachine"]
        rows = []
        for k in impls:
            if times[k] is None:
                rows.append([k, "not measured", "–", "–"])
                continue
            rows.append([k, fmt_time(times[k]), fmt_ratio(div(times[k], floor)), fmt_ratio(div(times[k], w))])
        self.table(["implementation", "median", "time ÷ httparse floor", "time ÷ wsmachine"], rows)
        if w is None:
            self.check("handshake ≤ 1.3× httparse floor", "not measured", None, "no wsmachine server handshake yet")
            self.check("handshake ≥ 3× faster than tungstenite", "not measured", None, "")
        else:
            self.check("handshake ≤ 1.3× httparse floor", f"{div(w, floor):.2f}×", div(w, floor) <= 1.3, "")
            tung = times["tungstenite"]
            self.check("handshake ≥ 3× faster than tungstenite", f"{div(tung, w):.2f}×", div(tung, w) >= 3.0, "")

    def messages(self):
        self.out("### Whole messages against streamed pieces, through `Session` (median per iteration)")
        self.out()
        rows = []
        for kind in ("binary", "text"):
            g = f"messages-{kind}"
            for s in ["16B", "1KiB", "64KiB", "1MiB"]:
                st, wh, wc, wr = (self.t(g, k, s) for k in ("streaming", "whole", "whole-recycled", "whole-ref"))
                if st is None:
                    continue
                rows.append([f"{kind} {s}", fmt_time(st), fmt_time(wh), fmt_time(wc), fmt_time(wr),
                             fmt_ratio(div(wh, st)), fmt_ratio(div(wc, st)), fmt_ratio(div(wr, st))])
                measured = [x for x in (wh, wc, wr) if x is not None]
                best = min(measured) if measured else None
                if best:
                    self.check(f"whole {kind} {s} ≤ 1.3× streaming", f"{div(best, st):.2f}×", div(best, st) <= 1.3,
                               f"owned {fmt_ratio(div(wh, st))}×, recycled {fmt_ratio(div(wc, st))}×, "
                               f"lent {fmt_ratio(div(wr, st))}×")
        self.table(["message", "streaming", "whole (owned)", "whole (recycled)", "whole (lent)",
                    "owned ÷ streaming", "recycled ÷ streaming", "lent ÷ streaming"], rows)

    def output(self):
        g = "encode-into"
        self.out("### Encoding one frame into a `Vec` against a slice (median per frame)")
        self.out()
        rows = []
        for role in ("client", "server"):
            for s in ["16B", "1KiB", "64KiB", "1MiB"]:
                sl, v = self.t(g, f"{role}-slice", s), self.t(g, f"{role}-vec", s)
                if sl is None:
                    continue
                rows.append([f"{role} {s}", fmt_time(sl), fmt_time(v), fmt_ratio(div(v, sl))])
                if s == "1MiB" and v:
                    self.check(f"encode {role} 1MiB into Vec ≤ 1.2× slice", f"{div(v, sl):.2f}×", div(v, sl) <= 1.2, "")
        self.table(["frame", "slice", "Vec", "Vec ÷ slice"], rows)
        g = "idle"
        rows = []
        for k in ("poll_transmit-slice", "poll_transmit-vec", "session-poll_output", "decode-16B",
                  "decode-16B-drain-each"):
            ns = self.t(g, k)
            rows.append([k, "–" if ns is None else f"{ns / 1000:.2f} ns"])
        a, b = self.t(g, "decode-16B"), self.t(g, "decode-16B-drain-each")
        if a and b:
            rows.append(["drain after every event, per frame", f"{(b - a) / 1000:.2f} ns"])
        self.out("### Idle paths (per call or per frame, 1000 per iteration)")
        self.out()
        self.table(["path", "cost"], rows)

    def copies(self):
        g = "payload-copy"
        rows = []
        for size in ["4KiB", "16KiB", "256KiB"]:
            for past in ["8B-past", "24B-past", "2KiB-past"]:
                m = self.t(g, f"memcpy-{past}", size)
                v, sl = self.t(g, f"server-vec-{past}", size), self.t(g, f"server-slice-{past}", size)
                if m is None:
                    continue
                rows.append([f"{size}, {past.replace('-past', ' past')}", fmt_time(m), fmt_time(v), fmt_time(sl),
                             fmt_ratio(div(v, m))])
        if not rows:
            return
        self.out("### A server frame's payload landing just past its source, modulo 4 KiB (median per frame)")
        self.out()
        self.table(["payload, lands", "memcpy", "into a Vec", "into a slice", "Vec ÷ memcpy"], rows)

    def targets(self):
        self.out("### Targets")
        self.out()
        rows = []
        for name, value, ok, detail in self.checks:
            verdict = "n/a" if ok is None else ("met" if ok else "**missed**")
            rows.append([name, value, verdict, detail])
        self.table(["target", "measured", "verdict", "note"], rows)


def main():
    if not os.path.isdir(CRITERION):
        sys.exit(f"no criterion results under {CRITERION}: run `bash benches/run.sh` first")
    rep = Report(load())
    rep.out(f"Machine: {machine()}")
    rep.out()
    rep.unmask()
    for direction in ("decode", "encode"):
        for kind in ("binary", "text"):
            rep.frames(direction, kind)
    rep.utf8()
    rep.handshake()
    rep.messages()
    rep.output()
    rep.copies()
    rep.targets()
    text = "\n".join(rep.lines)
    print(text)
    with open(os.path.join(TARGET, "bench-summary.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
