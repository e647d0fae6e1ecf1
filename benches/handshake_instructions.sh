#!/usr/bin/env bash
# Instructions per server handshake (the `handshake` bench's browser-like
# request, parsed and answered), counted by callgrind: each case runs once
# with 1 handshake and once with 1001, and the difference is divided by
# 1000, so set-up is not counted. Needs valgrind. A few seconds.
#
#   bash benches/handshake_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/callgrind.sh
build_example handshake_instructions
per_handshake() {
    local one thousand_one
    one=$(instructions "$1" 1)
    thousand_one=$(instructions "$1" 1001)
    echo $(( (thousand_one - one) / 1000 ))
}
floor=$(per_handshake floor)
echo "| case | instructions per handshake | × floor |"
echo "| --- | ---: | ---: |"
echo "| httparse floor | $floor | 1.00 |"
for case in wsmachine head-buffer; do
    n=$(per_handshake "$case")
    echo "| $case | $n | $(awk -v n="$n" -v f="$floor" 'BEGIN { printf "%.2f", n / f }') |"
done
