#!/usr/bin/env bash
# Instructions per message echoed, by layer: each echo server of the load
# test runs under callgrind while the load generator drives it, and
# layers.py splits what it executed into the WebSocket library, its
# runtime (tokio and mio), libc and the rest. Where the messages per second
# of run.sh say which server is ahead, this says where each one spends its
# time in user space, and it repeats to within a percent or two from run to
# run on a busy machine.
#
#   bash benches/load/instructions.sh                # the three cells below
#   LOAD_CELLS="10 1024 1" bash benches/load/instructions.sh
#   LOAD_SERVERS="wsmachine_tokio" bash benches/load/instructions.sh
#   UWS_ECHO=target/uws-v3/echo_uws bash benches/load/instructions.sh
#
# uWebSockets gets a column when UWS_ECHO names its echo server. Valgrind
# cannot run AVX-512 instructions, which `-march=native` emits on CPUs that
# have them: build a copy for this script with
# `UWS_MARCH=x86-64-v3 bash benches/load/uws/build.sh uWebSockets target/uws-v3`.
#
# The servers are built with cargo's `release` profile, as run.sh builds
# them, plus line tables (which callgrind needs to tell inlined code's
# crate; they change no instruction), in their own target directory. The
# messages are those the generator counted (its rate times the seconds):
# the count includes the handshakes and the runtime's start, a few hundred
# thousand instructions, under 1 % of a cell. Callgrind runs the server
# about 50 times slower, so the generator (pinned to the other core) is
# never the bottleneck and the rates are not comparable with run.sh's.
# Not part of CI. Needs valgrind and python3.
set -euo pipefail
if [ -n "${UWS_ECHO:-}" ]; then
    UWS_ECHO=$(realpath -m -- "$UWS_ECHO")
fi
cd "$(dirname "$0")/../.."
source benches/load/lib.sh

secs=${LOAD_SECS:-3}
servers=(${LOAD_SERVERS:-wsmachine_tokio wsmachine_mio fastwebsockets tokio_websockets})
if [ -n "${UWS_ECHO:-}" ]; then
    [ -x "$UWS_ECHO" ] || { echo "UWS_ECHO=$UWS_ECHO is not an executable" >&2; exit 1; }
    [[ " ${servers[*]} " == *" uws "* ]] || servers+=(uws)
fi
# A small message closed loop, a large one, and small ones pipelined.
cells=("100 20 1" "10 16384 1" "100 20 16")
if [ -n "${LOAD_CELLS:-}" ]; then
    IFS=';' read -r -a cells <<<"$LOAD_CELLS"
fi

target=${CARGO_TARGET_DIR:-target}/load-instructions
CARGO_TARGET_DIR=$target CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release -p wsmachine-benches --examples
bin=$target/release/examples

pin_to_cores

scratch=$(mktemp -d)
server=
trap 'stop_server; rm -rf "$scratch"' EXIT

counts=()
for cell in "${cells[@]}"; do
    read -r conns size in_flight <<<"$cell"
    for name in "${servers[@]}"; do
        echo "== $name: $conns x $size B, $in_flight in flight" >&2
        program=$bin/echo_$name
        [ "$name" = uws ] && program=$UWS_ECHO
        out=$scratch/$name.$conns.$size.$in_flight
        "${pin_server[@]}" valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
            "$program" 127.0.0.1:0 >"$out.log" 2>"$out.valgrind" &
        server=$!
        addr=$(listening_address "$out.log" 600)
        [ -n "$addr" ] || { echo "echo_$name did not start under callgrind" >&2; exit 1; }
        line=$("${pin_client[@]}" timeout 120 "$bin/load_client" "$addr" "$conns" "$size" \
            --in-flight "$in_flight" --seconds "$secs" --rounds 1 | grep '^result ')
        stop_server
        read -r _ rate _ <<<"$line"
        counts+=("$name $conns $size $in_flight $(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%.0f", r * s }') $out.cg")
    done
done

printf '%s\n' "${counts[@]}" | python3 benches/load/layers.py
