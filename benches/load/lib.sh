# Shell functions the load scripts share (run.sh, instructions.sh and
# copies.sh source this file).

# Sets the arrays pin_client and pin_server: the generator runs on core 0
# and the server on core 1, or both unpinned without taskset (util-linux)
# or a second core.
pin_to_cores() {
    pin_client=()
    pin_server=()
    if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
        pin_client=(taskset -c 0)
        pin_server=(taskset -c 1)
    else
        echo "taskset missing or a single core: generator and server run unpinned" >&2
    fi
}

# Prints the address of a server started on port 0, from its output in the
# file $1 ("listening on ADDR", its first line), polling $2 times 50 ms
# apart; prints nothing if it did not start.
listening_address() {
    local _
    for _ in $(seq "$2"); do
        grep -q '^listening on ' "$1" && break
        sleep 0.05
    done
    sed -n 's/^listening on //p' "$1"
}

# Ends the server whose PID is in $server, if any, and waits for it
# (SIGTERM: a background job of a script ignores SIGINT; callgrind writes
# its counts when the program ends on it).
stop_server() {
    if [ -n "${server:-}" ]; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=
    fi
}
