#!/usr/bin/env bash
# The end-to-end load test: every echo server against the load generator,
# cell after cell, in one run; prints markdown tables of messages per second
# (with ratios to wsmachine-tokio), latency and each server's CPU time per
# message, also written to target/load-summary.md (raw figures:
# target/load-results.tsv).
#
#   bash benches/load/run.sh                 # 5 rounds of 2 s per cell, medians
#   LOAD_ROUNDS=3 LOAD_SECS=3 bash benches/load/run.sh
#   LOAD_SERVERS="wsmachine_tokio fastwebsockets" bash benches/load/run.sh
#   LOAD_CELLS="200 16384 1;500 16384 1" bash benches/load/run.sh   # some cells
#   UWS_ECHO=target/uws/echo_uws bash benches/load/run.sh   # with uWebSockets
#
# uWebSockets (C++) gets a column when UWS_ECHO names its echo server,
# built from a uWS checkout by benches/load/uws/build.sh (which says how to
# get the source); it is not on a package registry, so without UWS_ECHO the
# column is left out.
#
# One cell by hand: `echo_wsmachine_tokio 127.0.0.1:9001` (or any server;
# port 0 picks a free one and prints it), then
# `load_client 127.0.0.1:9001 100 20 --in-flight 1 --seconds 3 --rounds 3`.
#
# With two cores or more, the generator is pinned to core 0 and the server
# to core 1 (taskset, from util-linux); without taskset both run unpinned.
# Takes about 10 minutes with the defaults. Not part of CI: timings need a
# quiet machine. The servers listen on free loopback ports.
set -euo pipefail
# UWS_ECHO as the caller wrote it, before the change of directory.
if [ -n "${UWS_ECHO:-}" ]; then
    UWS_ECHO=$(realpath -m -- "$UWS_ECHO")
fi
cd "$(dirname "$0")/../.."
source benches/load/lib.sh

rounds=${LOAD_ROUNDS:-5}
secs=${LOAD_SECS:-2}
servers=(${LOAD_SERVERS:-wsmachine_tokio wsmachine_blocking wsmachine_mio tokio_tungstenite fastwebsockets tokio_websockets})
if [ -n "${UWS_ECHO:-}" ]; then
    [ -x "$UWS_ECHO" ] || { echo "UWS_ECHO=$UWS_ECHO is not an executable" >&2; exit 1; }
    [[ " ${servers[*]} " == *" uws "* ]] || servers+=(uws)
elif [[ " ${servers[*]} " == *" uws "* ]]; then
    echo "uws is listed but UWS_ECHO is not set: build it with benches/load/uws/build.sh" >&2
    exit 1
else
    echo "no uWebSockets column: build its echo server with benches/load/uws/build.sh," >&2
    echo "then run with UWS_ECHO=path/to/echo_uws" >&2
fi
# connections, message size, messages in flight per connection: the cells
# tokio-websockets publishes, 512 x 16 B, 512 x 1 KiB and 1 x 1 MiB, then
# two pipelined ones.
cells=(
    "100 20 1" "10 1024 1" "10 16384 1" "200 16384 1" "500 16384 1"
    "512 16 1" "512 1024 1" "1 1048576 1"
    "100 20 16" "10 16384 16"
)
# Or the cells given, "connections size in-flight" separated by ";".
if [ -n "${LOAD_CELLS:-}" ]; then
    IFS=';' read -r -a cells <<<"$LOAD_CELLS"
fi

cargo build --release -p wsmachine-benches --examples
bin=${CARGO_TARGET_DIR:-target}/release/examples
results=${CARGO_TARGET_DIR:-target}/load-results.tsv
summary=${CARGO_TARGET_DIR:-target}/load-summary.md

pin_to_cores

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Every server runs for the whole test, each on its own port (idle while the
# others are measured); each round of a cell measures every server in turn.
server_pids=()
declare -A server_pid
stop_servers() {
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
declare -A addr
scratch=$(mktemp -d)
trap 'stop_servers; rm -rf "$scratch"' EXIT
for server in "${servers[@]}"; do
    # Any free loopback port: the server names it on its first line.
    program=$bin/echo_$server
    [ "$server" = uws ] && program=$UWS_ECHO
    "${pin_server[@]}" "$program" 127.0.0.1:0 >"$scratch/$server" &
    server_pids+=($!)
    server_pid[$server]=$!
    addr[$server]=$(listening_address "$scratch/$server" 100)
    [ -n "${addr[$server]}" ] || { echo "echo_$server did not start" >&2; exit 1; }
done

# The server's CPU time so far, user and system, in clock ticks
# (/proc/PID/stat; taskset execs the server, so the PID is the server's).
ticks_per_s=$(getconf CLK_TCK)
cpu_ticks() {
    awk '{ print $14, $15 }' "/proc/$1/stat" 2>/dev/null || echo "nan nan"
}

printf 'server\tconns\tsize\tin_flight\tround\tmsgs_per_s\tp50_us\tp99_us\tuser_us\tsys_us\n' >"$results"
for cell in "${cells[@]}"; do
    read -r conns size in_flight <<<"$cell"
    # Round after round, each server once per round: a noisy moment on the
    # machine then costs every server a round, not one server its cell.
    for round in $(seq "$rounds"); do
        for server in "${servers[@]}"; do
            echo "== $server: $conns x $size B, $in_flight in flight, round $round" >&2
            read -r user0 sys0 < <(cpu_ticks "${server_pid[$server]}")
            line=$("${pin_client[@]}" timeout 120 "$bin/load_client" "${addr[$server]}" "$conns" "$size" \
                --in-flight "$in_flight" --seconds "$secs" --rounds 1 | grep '^result ') ||
                line="result nan nan nan"
            read -r user1 sys1 < <(cpu_ticks "${server_pid[$server]}")
            read -r _ rate p50 p99 <<<"$line"
            # The server's CPU time per message echoed, in µs: what the
            # messages per second hide when the generator is the bottleneck
            # or the machine is noisy (the handshakes are in it too, a few
            # ms in all).
            read -r user_us sys_us < <(awk -v r="$rate" -v s="$secs" -v t="$ticks_per_s" \
                -v u0="$user0" -v u1="$user1" -v s0="$sys0" -v s1="$sys1" 'BEGIN {
                    m = r * s
                    if (m > 0 && u0 ~ /^[0-9]+$/ && u1 ~ /^[0-9]+$/) {
                        printf "%.3f %.3f\n", (u1 - u0) / t * 1e6 / m, (s1 - s0) / t * 1e6 / m
                    } else {
                        print "nan nan"
                    }
                }')
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$conns" "$size" "$in_flight" "$round" \
                "$rate" "$p50" "$p99" "$user_us" "$sys_us" >>"$results"
        done
    done
done
stop_servers
server_pids=()

python3 benches/load/table.py "$results" | tee "$summary"
# Which uWS the column measured: build.sh leaves its version beside it.
if [[ " ${servers[*]} " == *" uws "* ]] && [ -f "$UWS_ECHO.version" ]; then
    printf '\nuWebSockets column: %s.\n' "$(cat "$UWS_ECHO.version")" | tee -a "$summary"
fi
