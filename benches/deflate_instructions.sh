#!/usr/bin/env bash
# Instructions per KiB of JSON-like text compressed, per backend (wsmachine's
# compressor through `Deflate::send_binary`, `miniz_oxide`, `zlib-rs`),
# level and message size, counted by callgrind: each case runs once with 1
# round and once with 3 over the same messages, and the difference is
# divided by the KiB of 2 rounds, so set-up and the text's generation are
# not counted. Needs valgrind. About two minutes.
#
#   bash benches/deflate_instructions.sh             # levels 1 2 6; 1, 16, 256 KiB
#   LEVELS=2 SIZES=16384 bash benches/deflate_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/callgrind.sh
build_example deflate_instructions
echo "| level | message | wsmachine | miniz_oxide | zlib-rs | wsmachine / miniz_oxide | wsmachine / zlib-rs |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for level in ${LEVELS:-1 2 6}; do
    for size in ${SIZES:-1024 16384 262144}; do
        count=$(( 96 * 1024 / size )); [ "$count" -ge 8 ] || count=8
        kib=$(( 2 * count * size / 1024 ))
        declare -A per_kib=()
        for backend in wsmachine miniz_oxide zlib-rs; do
            one=$(instructions "$backend" "$level" "$size" 1)
            three=$(instructions "$backend" "$level" "$size" 3)
            per_kib[$backend]=$(( (three - one) / kib ))
        done
        ratios=$(awk -v w="${per_kib[wsmachine]}" -v m="${per_kib[miniz_oxide]}" -v z="${per_kib[zlib-rs]}" \
            'BEGIN { printf "%.2f | %.2f", w / m, w / z }')
        echo "| $level | $(( size / 1024 )) KiB | ${per_kib[wsmachine]} | ${per_kib[miniz_oxide]} | ${per_kib[zlib-rs]} | $ratios |"
    done
done
