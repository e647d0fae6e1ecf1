# Sourced by the *_instructions.sh scripts: builds one example of this
# package as the benches are built (profile `bench`: link-time
# optimisation) and counts the instructions of a run of it with callgrind.
#
#   source benches/callgrind.sh
#   build_example message_instructions    # sets $bin
#   instructions ARGS...                  # prints the instructions of one run

build_example() {
    cargo build --profile bench -p wsmachine-benches --example "$1"
    bin=${CARGO_TARGET_DIR:-target}/release/examples/$1
}

instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
