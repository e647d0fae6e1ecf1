// Echo server on uWebSockets for the load test: `echo_uws [ADDR]`, the
// C++ server the other benchmarks are measured against. Like the Rust echo
// servers it takes `HOST:PORT` (`127.0.0.1:0`, any free port, when
// missing) and names the address it listens on as its first line on
// stdout, `listening on HOST:PORT`, which run.sh waits for. Written against
// uWS's public API the way its EchoServer example is, on its one event loop
// (one thread, as the Rust servers' current-thread runtimes). Built by
// build.sh, next to this file.

#include "App.h"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv) {
    std::string addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos || colon + 1 == addr.size()) {
        std::fprintf(stderr, "usage: echo_uws [HOST:PORT]\n");
        return 2;
    }
    std::string host = addr.substr(0, colon);
    // `[::1]:0` as Rust's SocketAddr writes it: uSockets wants the bare host.
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    char *end = nullptr;
    long port = std::strtol(addr.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "echo_uws: bad port in %s\n", addr.c_str());
        return 2;
    }

    struct PerSocketData {};
    uWS::App()
        .ws<PerSocketData>(
            "/*",
            {
                // The Rust servers echo uncompressed: no permessage-deflate.
                .compression = uWS::DISABLED,
                // The default (16 KiB) would close the 1 MiB cell's
                // connection; the other servers accept far larger messages.
                .maxPayloadLength = 16 * 1024 * 1024,
                // No idle timeout and no pings of uWS's own: the Rust
                // servers have neither, and the generator does not answer
                // pings.
                .idleTimeout = 0,
                // `send` drops a message once more than this is buffered
                // for the connection. The generator bounds what is in
                // flight (at most 16 × 16 KiB, or one 1 MiB message, per
                // connection), so this is far above what an echo can
                // leave buffered; a drop would be a wrong result, which
                // `dropped` below makes loud.
                .maxBackpressure = 64 * 1024 * 1024,
                .closeOnBackpressureLimit = false,
                .resetIdleTimeoutOnSend = false,
                .sendPingsAutomatically = false,
                .message =
                    [](auto *ws, std::string_view message, uWS::OpCode opCode) {
                        ws->send(message, opCode, false);
                    },
                .dropped =
                    [](auto *, std::string_view message, uWS::OpCode) {
                        // A lost echo would stall a connection of the
                        // generator and skew its figures: stop instead.
                        std::fprintf(stderr, "echo_uws: an echo of %zu bytes dropped (backpressure)\n",
                                     message.size());
                        std::abort();
                    },
            })
        // An exclusive port: without it uSockets sets SO_REUSEPORT, and a
        // fixed port already taken by another server would be shared
        // instead of refused.
        .listen(host, (int) port, LIBUS_LISTEN_EXCLUSIVE_PORT,
                [&host](auto *listen_socket) {
                    if (!listen_socket) {
                        std::fprintf(stderr, "echo_uws: cannot listen\n");
                        std::exit(1);
                    }
                    int bound = us_socket_local_port(0, (struct us_socket_t *) listen_socket);
                    bool v6 = host.find(':') != std::string::npos;
                    std::printf(v6 ? "listening on [%s]:%d\n" : "listening on %s:%d\n", host.c_str(), bound);
                    std::fflush(stdout);
                })
        .run();
    // run() returns when no socket is left, which a listening server only
    // reaches when it could not listen.
    return 1;
}
