#!/usr/bin/env bash
# Instructions per message taken from a `Session`, per mode (streamed
# pieces, owned, owned and recycled, lent, lent after `message_ready` as
# the adapters' lending receives take them, pieces after `piece_ready` as
# the blocking adapter's `read_piece` takes them; and echo_instructions:
# owned and sent back with `send_owned`), counted by callgrind: each
# case runs once with 1 round and once with 3 over the same frames, and
# the difference is divided by the messages of 2 rounds, so set-up is not
# counted. A second table feeds the same frames one per read, as in a
# request-and-reply exchange. Needs valgrind. About a minute and a half.
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
# The messages of one round, as the benches: about 1 MiB of payload, at
# least 4 messages.
messages_per_round() {
    local count=$(( (1 << 20) / $1 ))
    [ "$count" -ge 4 ] || count=4
    echo "$count"
}

# Instructions per message of the case ARGS (the program's arguments, the
# word ROUNDS where its round count goes): the runs of 1 and 3 rounds, their
# difference divided by the COUNT messages of 2 rounds.
per_message() {
    local count=$1 one three
    shift
    one=$(instructions "${@/ROUNDS/1}")
    three=$(instructions "${@/ROUNDS/3}")
    echo $(( (three - one) / (2 * count) ))
}

echo "| message | streaming | whole (owned) | whole (recycled) | whole (lent) | lent after \`message_ready\` | pieces after \`piece_ready\` | echo |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
one_per_read=() # the second table's rows, printed after the first
for kind in binary text; do
    for size in ${SIZES:-16 125 1024}; do
        count=$(messages_per_round "$size")
        row="| $kind $size B |"
        row_one="$row"
        for mode in streaming whole recycled lent; do
            row="$row $(per_message "$count" "$mode" "$kind" "$size" ROUNDS) |"
            row_one="$row_one $(per_message "$count" "$mode" "$kind" "$size" ROUNDS one-per-read) |"
        done
        # Lent after `message_ready`: ready_instructions.
        row="$row $(bin=$ready_bin per_message "$count" "$kind" "$size" ROUNDS) |"
        # Pieces after `piece_ready`: ready_instructions too.
        row="$row $(bin=$ready_bin per_message "$count" "$kind" "$size" ROUNDS pieces) |"
        # Each message taken owned and sent back: echo_instructions.
        row="$row $(bin=$echo_bin per_message "$count" "$kind" "$size" ROUNDS) |"
        echo "$row"
        one_per_read+=("$row_one")
    done
done
echo
echo "One message per read:"
echo
echo "| message | streaming | whole (owned) | whole (recycled) | whole (lent) |"
echo "| --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${one_per_read[@]}"
