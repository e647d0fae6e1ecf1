#!/usr/bin/env bash
# Builds the load test's uWebSockets echo server (echo_uws.cpp, beside this
# script) from a uWebSockets checkout, for run.sh's optional uws column:
#
#   git clone --recursive https://github.com/uNetworking/uWebSockets
#   bash benches/load/uws/build.sh uWebSockets [OUT]   # OUT: target/uws
#   UWS_ECHO=target/uws/echo_uws bash benches/load/run.sh
#
# (Of uWS's submodules only uSockets is needed: a plain clone, then
# `git -C uWebSockets submodule update --init uSockets`, fetches less.)
# Last built and checked with uWebSockets v20.79.0-17-g66dcff3 (commit
# 66dcff3dd48f) and the uSockets it pins, v0.8.8-17-g86097c4; the script
# prints the versions it builds and writes them to OUT/echo_uws.version,
# which run.sh adds to its summary.
#
# uWS is not on a package registry, so it is built from source, here and
# by hand, never by CI. SRC_DIR is the checkout, with uSockets (its git
# submodule) in SRC_DIR/uSockets. Needs gcc and g++ (C++23 mode: GCC 11 or
# later), and zlib's headers (Debian: zlib1g-dev), which uWS includes for
# permessage-deflate even though the echo server leaves it off.
#
# The flags are those of uWS's own build: uSockets as its Makefile
# compiles it without TLS (LIBUS_NO_SSL, the epoll loop), the server as
# build.c compiles its examples (-O3 -march=native, link-time
# optimisation, -lz). The objects go to OUT, the checkout stays clean.
# UWS_MARCH replaces `native` (instructions.sh runs the server under
# valgrind, which has no AVX-512: UWS_MARCH=x86-64-v3 builds for AVX2).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 UWEBSOCKETS_CHECKOUT [OUT]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$1" && pwd)
# By default beside cargo's builds, where run.sh's other servers are.
target=${CARGO_TARGET_DIR:-target}
case $target in
/*) ;;
*) target=$here/../../../$target ;;
esac
out=${2:-$target/uws}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ ! -f "$src/src/App.h" ] || [ ! -f "$src/uSockets/src/libusockets.h" ]; then
    echo "$src is not a uWebSockets checkout with uSockets in uSockets/" >&2
    echo "(git clone --recursive, or git submodule update --init uSockets)" >&2
    exit 1
fi

# Which uWS and uSockets this is, for the record next to the figures.
describe() {
    git -C "$1" describe --tags --always --dirty 2>/dev/null || echo "unknown (not a git checkout)"
}
version="uWebSockets $(describe "$src"), uSockets $(describe "$src/uSockets")"
pinned=$(git -C "$src" rev-parse HEAD:uSockets 2>/dev/null || true)
actual=$(git -C "$src/uSockets" rev-parse HEAD 2>/dev/null || true)
if [ -n "$pinned" ] && [ -n "$actual" ] && [ "$pinned" != "$actual" ]; then
    echo "warning: uSockets is at $actual, uWebSockets pins $pinned" >&2
    version="$version (uWebSockets pins uSockets $pinned)"
fi
echo "building echo_uws from $version" >&2

CC=${CC:-gcc}
CXX=${CXX:-g++}
obj=$out/obj
rm -rf "$obj"
mkdir -p "$obj"

# uSockets: the Makefile's default target, minus its static archive.
(
    cd "$obj"
    "$CC" -flto -DLIBUS_NO_SSL -std=c11 -I"$src/uSockets/src" -O3 \
        -c "$src"/uSockets/src/*.c "$src"/uSockets/src/eventing/*.c \
        "$src"/uSockets/src/crypto/*.c "$src"/uSockets/src/io_uring/*.c
)

# The server: build.c's flags for the examples.
"$CXX" -march="${UWS_MARCH:-native}" -O3 -Wpedantic -Wall -Wextra -Wsign-conversion -Wconversion \
    -std=c++2b -flto=auto -I"$src/src" -I"$src/uSockets/src" \
    "$here/echo_uws.cpp" "$obj"/*.o -lz -o "$out/echo_uws"

echo "$version" >"$out/echo_uws.version"
echo "$version" >&2
echo "built $out/echo_uws; run the load test with it:" >&2
echo "  UWS_ECHO=$out/echo_uws bash benches/load/run.sh" >&2
