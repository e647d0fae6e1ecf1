#!/usr/bin/env bash
# Where each echo server's CPU time per message goes, from `perf` samples
# of the server while the load generator drives it: all of it, user space,
# the kernel's copy of what arrived into the server's buffer
# (`_copy_to_iter`), its copy of the reply out of it (`_copy_from_iter`),
# and the library's own (un)masking (the user-space functions whose name
# says "mask"). For large messages, where run.sh's third table shows the
# servers' user time apart, this says which copy each server pays for and
# which one the kernel pays for instead.
#
#   bash benches/load/copies.sh                       # 1 x 1 MiB, 3 rounds
#   LOAD_CELLS="10 16384 1" bash benches/load/copies.sh
#   LOAD_SERVERS="wsmachine_tokio fastwebsockets" LOAD_ROUNDS=5 bash benches/load/copies.sh
#   UWS_ECHO=target/uws/echo_uws bash benches/load/copies.sh   # with uWebSockets
#
# The tables are also written to target/load-copies.md, the sample counts
# to target/load-copies.tsv.
#
# Each round runs every server in turn: the generator runs LOAD_SECS + 2
# seconds and `perf record` samples the server (cpu-clock, 10 kHz, so one
# sample is 100 µs of CPU) for LOAD_SECS seconds from its second second on;
# the messages in that window are the generator's rate times LOAD_SECS.
# The table gives the medians of the rounds. uWebSockets gets a column when
# UWS_ECHO names its echo server (built with link-time optimisation, its
# unmasking is inlined and has no symbol of its own: its "(un)masking" cell
# stays empty).
#
# Not part of CI. Needs perf (linux-perf) with sampling of one's own
# processes allowed (kernel.perf_event_paranoid at 2 or lower) and symbols
# for the kernel's samples (kernel.kptr_restrict at 0, or root).
set -euo pipefail
if [ -n "${UWS_ECHO:-}" ]; then
    UWS_ECHO=$(realpath -m -- "$UWS_ECHO")
fi
cd "$(dirname "$0")/../.."
source benches/load/lib.sh

command -v perf >/dev/null || { echo "perf is needed (Debian: apt-get install linux-perf)" >&2; exit 1; }
rounds=${LOAD_ROUNDS:-3}
secs=${LOAD_SECS:-4}
servers=(${LOAD_SERVERS:-wsmachine_tokio wsmachine_mio fastwebsockets tokio_websockets})
if [ -n "${UWS_ECHO:-}" ]; then
    [ -x "$UWS_ECHO" ] || { echo "UWS_ECHO=$UWS_ECHO is not an executable" >&2; exit 1; }
    [[ " ${servers[*]} " == *" uws "* ]] || servers+=(uws)
fi
cells=("1 1048576 1")
if [ -n "${LOAD_CELLS:-}" ]; then
    IFS=';' read -r -a cells <<<"$LOAD_CELLS"
fi

cargo build --release -p wsmachine-benches --examples
bin=${CARGO_TARGET_DIR:-target}/release/examples

pin_to_cores

scratch=$(mktemp -d)
server=
trap 'stop_server; rm -rf "$scratch"' EXIT

# One line per server, cell and round: the samples of each kind and the
# messages echoed while perf sampled (kept for a second look, as run.sh
# keeps its raw figures).
rows=${CARGO_TARGET_DIR:-target}/load-copies.tsv
: >"$rows"
for cell in "${cells[@]}"; do
    read -r conns size in_flight <<<"$cell"
    for round in $(seq "$rounds"); do
        for name in "${servers[@]}"; do
            echo "== $name: $conns x $size B, $in_flight in flight, round $round" >&2
            program=$bin/echo_$name
            [ "$name" = uws ] && program=$UWS_ECHO
            "${pin_server[@]}" "$program" 127.0.0.1:0 >"$scratch/server.log" 2>&1 &
            server=$!
            addr=$(listening_address "$scratch/server.log" 200)
            [ -n "$addr" ] || { echo "echo_$name did not start" >&2; exit 1; }
            "${pin_client[@]}" timeout 120 "$bin/load_client" "$addr" "$conns" "$size" \
                --in-flight "$in_flight" --seconds $((secs + 2)) --rounds 1 >"$scratch/load.log" 2>&1 &
            client=$!
            sleep 1
            perf record -q -F 10000 -e cpu-clock -p "$server" -o "$scratch/perf.data" -- sleep "$secs" \
                >"$scratch/perf.log" 2>&1 || true
            wait "$client" || true
            stop_server
            rate=$(awk '/^result / { print $2 }' "$scratch/load.log")
            [ -n "$rate" ] || { cat "$scratch/load.log" >&2; echo "load_client failed against echo_$name" >&2; exit 1; }
            # Samples by shared object and symbol: "<samples> <dso> <symbol>".
            perf report -i "$scratch/perf.data" -n --no-children --stdio --sort dso,sym -g none 2>/dev/null |
                awk '/^ +[0-9.]+%/ { $1 = ""; print }' >"$scratch/samples.txt" || true
            if [ ! -s "$scratch/samples.txt" ]; then
                cat "$scratch/perf.log" >&2
                echo "perf recorded no samples of echo_$name (see kernel.perf_event_paranoid)" >&2
                exit 1
            fi
            awk -v name="$name" -v cell="$conns $size $in_flight" -v msgs="$(awk -v r="$rate" -v s="$secs" 'BEGIN { print r * s }')" '
                { total += $1 }
                $2 !~ /kernel/ { user += $1 }
                $2 ~ /kernel/ && $NF == "_copy_to_iter" { into += $1 }
                $2 ~ /kernel/ && $NF == "_copy_from_iter" { out += $1 }
                $2 !~ /kernel/ && tolower($0) ~ /mask/ { mask += $1 }
                END { printf "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", cell, name, msgs, total, user, into, out, mask }
            ' "$scratch/samples.txt" >>"$rows"
        done
    done
done

python3 benches/load/copies.py "$rows" | tee "${CARGO_TARGET_DIR:-target}/load-copies.md"
