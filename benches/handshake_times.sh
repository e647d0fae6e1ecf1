#!/usr/bin/env bash
# Nanoseconds per server handshake for the cases `handshake_instructions.sh`
# counts, timed in turn: five rounds of floor, wsmachine and head-buffer,
# two million handshakes each, then the median of each case and its ratio
# to the floor's median. Taking the cases in turn puts them under the same
# load on a shared machine, where criterion's separate runs of the floor
# move by 10-15 %. About a minute.
#
#   bash benches/handshake_times.sh [ROUNDS] [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/callgrind.sh
build_example handshake_instructions
rounds=${1:-5}
count=${2:-2000000}
cases=(floor wsmachine head-buffer)
declare -A times
for _ in $(seq "$rounds"); do
    for case in "${cases[@]}"; do
        times[$case]+="$("$bin" "$case" "$count" --time) "
    done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
floor=$(median <<< "${times[floor]}")
echo "| case | ns per handshake (median of $rounds) | × floor |"
echo "| --- | ---: | ---: |"
for case in "${cases[@]}"; do
    m=$(median <<< "${times[$case]}")
    echo "| $case | $m | $(awk -v n="$m" -v f="$floor" 'BEGIN { printf "%.2f", n / f }') |"
done
