#!/usr/bin/env python3
"""The Autobahn testsuite's cases (sections 1-13, with 12 and 13 the
permessage-deflate ones) against both wsmachine testees, run by kosoku,
judged strictly.

Server role: kosoku's fuzzing client drives the echo_server example.
Client role: kosoku's fuzzing server is driven by the autobahn_client example.
Both must be built with feature `deflate` for sections 12 and 13.
kosoku exits 0 on NON-STRICT results; here only OK and INFORMATIONAL pass.

Runner errors: kosoku has a known defect that ends some section-13 cases in
an ERROR verdict ("Strings must be encoded before hashing", a bug in the
runner's own Python, not in the testee). Such cases are counted and printed
separately and do not fail the run; any other ERROR does.

Usage: autobahn.py KOSOKU ECHO_SERVER AUTOBAHN_CLIENT [REPORT_DIR]
Prints a table per section and role, and exits non-zero unless every case
is OK or INFORMATIONAL (or a known runner error).
"""
import collections
import json
import os
import re
import socket
import subprocess
import sys
import time

EXCLUDE = []  # every section runs, 12 and 13 (permessage-deflate) included
PASS = {"OK", "INFORMATIONAL"}
# ERROR results that are kosoku's own defects, not the testee's.
RUNNER_DEFECTS = ["Strings must be encoded before hashing"]
KOSOKU_TIMEOUT = 2400


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def server_role(kosoku, echo_server, outdir):
    server = subprocess.Popen([echo_server, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        addr = re.search(r"ws://([0-9.]+:[0-9]+)/", server.stdout.readline()).group(1)
        subprocess.run([kosoku, "-m", "fuzzingclient", "-p", "2", *EXCLUDE, "-o", outdir, addr],
                       stdout=subprocess.DEVNULL, timeout=KOSOKU_TIMEOUT)
    finally:
        server.kill()
        server.wait()
    return load(outdir)


def client_role(kosoku, autobahn_client, outdir):
    port = free_port()
    fuzzer = subprocess.Popen([kosoku, "-m", "fuzzingserver", *EXCLUDE, "-o", outdir, f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL)
    try:
        if not wait_for_port(port, time.monotonic() + 30):
            raise SystemExit("kosoku's fuzzing server did not start")
        subprocess.run([autobahn_client, f"ws://127.0.0.1:{port}", "wsmachine"], stdout=subprocess.DEVNULL,
                       timeout=KOSOKU_TIMEOUT, check=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(outdir, "index.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        fuzzer.terminate()
        fuzzer.wait()
    return load(outdir)


def load(outdir):
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    (cases,) = index.values()
    for case in cases.values():
        case["_result"] = case_result(outdir, case)
    return cases


def case_result(outdir, case):
    """The case report's `result` text (why it ended as it did), if any."""
    report = case.get("reportfile")
    if not report:
        return ""
    try:
        with open(os.path.join(outdir, report)) as f:
            return str(json.load(f).get("result", ""))
    except (OSError, ValueError):
        return ""


def is_runner_error(case):
    return "ERROR" in (case["behavior"], case.get("behaviorClose")) and any(
        d in case.get("_result", "") for d in RUNNER_DEFECTS)


def verdict(case):
    b, c = case["behavior"], case.get("behaviorClose", "OK")
    if b in PASS and c in PASS:
        return "INFORMATIONAL" if "INFORMATIONAL" in (b, c) else "OK"
    if is_runner_error(case):
        return "RUNNER-ERROR"
    return f"{b}/{c}"


def main():
    kosoku, echo_server, autobahn_client = sys.argv[1:4]
    reports = sys.argv[4] if len(sys.argv) > 4 else "reports"
    results = {
        "server": server_role(kosoku, echo_server, os.path.join(reports, "server")),
        "client": client_role(kosoku, autobahn_client, os.path.join(reports, "client")),
    }
    failed = 0
    passed = 0
    runner_errors = 0
    print(f"{'section':>8} {'role':>7} {'cases':>6} {'OK':>5} {'INFO':>5} {'runner':>7} {'other':>6}")
    for role, cases in results.items():
        by_section = collections.defaultdict(collections.Counter)
        for case_id, case in cases.items():
            by_section[int(case_id.split(".")[0])][verdict(case)] += 1
        for section in sorted(by_section):
            counts = by_section[section]
            other = sum(n for v, n in counts.items() if v not in PASS and v != "RUNNER-ERROR")
            print(f"{section:>8} {role:>7} {sum(counts.values()):>6} {counts['OK']:>5} "
                  f"{counts['INFORMATIONAL']:>5} {counts['RUNNER-ERROR']:>7} {other:>6}")
        for case_id, case in sorted(cases.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
            v = verdict(case)
            if v in PASS:
                passed += 1
            elif v == "RUNNER-ERROR":
                runner_errors += 1
                print(f"RUNNER ERROR {role} {case_id}: {case.get('_result', '')[:200]}")
            else:
                failed += 1
                print(f"FAILED {role} {case_id}: {v} {case.get('_result', '')[:200]}")
    print(f"runner errors (kosoku defects, not counted): {runner_errors}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
