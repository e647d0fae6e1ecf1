#!/usr/bin/env bash
# Instructions per message taken from a `Session`, per mode (streamed
# pieces, owned, owned and recycled, lent, lent after `message_ready` as
# the adapters' lending receives take them; and echo_instructions: owned
# and sent back with `send_owned`), counted by callgrind: each
# case runs once with 1 round and once with 3 over the same frames, and
# the difference is divided by the messages of 2 rounds, so set-up is not
# counted. Needs valgrind. About a minute.
#
#   bash benches/message_instructions.sh            # 16 B, 125 B, 1 KiB
#   SIZES="16 1024" bash benches/message_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/callgrind.sh
build_example echo_instructions
echo_bin=$bin
build_example ready_instructions
ready_bin=$bin
build_example message_instructions
echo "| message | streaming | whole (owned) | whole (recycled) | whole (lent) | lent after \`message_ready\` | echo |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for kind in binary text; do
    for size in ${SIZES:-16 125 1024}; do
        # As the benches: about 1 MiB of payload per round, at least 4 messages.
        count=$(( (1 << 20) / size )); [ "$count" -ge 4 ] || count=4
        row="| $kind $size B |"
        for mode in streaming whole recycled lent; do
            one=$(instructions "$mode" "$kind" "$size" 1)
            three=$(instructions "$mode" "$kind" "$size" 3)
            row="$row $(( (three - one) / (2 * count) )) |"
        done
        # Lent after `message_ready`: ready_instructions.
        one=$(bin=$ready_bin instructions "$kind" "$size" 1)
        three=$(bin=$ready_bin instructions "$kind" "$size" 3)
        row="$row $(( (three - one) / (2 * count) )) |"
        # Each message taken owned and sent back: echo_instructions.
        one=$(bin=$echo_bin instructions "$kind" "$size" 1)
        three=$(bin=$echo_bin instructions "$kind" "$size" 3)
        row="$row $(( (three - one) / (2 * count) )) |"
        echo "$row"
    done
done
