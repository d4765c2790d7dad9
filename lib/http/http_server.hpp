// The HTTP shell: accepts connections, parses requests with Boost.Beast, calls the handler it
// was given (routes.hpp builds them), writes. Beast and Asio stay inside http_server.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "http/routes.hpp"

namespace bootcfg {

struct HttpServerOptions {
    std::string host = "127.0.0.1";
    std::string port = "8080";                       // "0": an ephemeral port
    unsigned threads = 0;                            // 0: one per core
    std::chrono::milliseconds idle_timeout{60000};   // waiting for a request to start
    std::chrono::milliseconds read_timeout{10000};   // receiving one request once started
    std::chrono::milliseconds write_timeout{60000};  // without progress while sending
    std::chrono::milliseconds shutdown_grace{5000};  // in-flight requests after SIGTERM
    std::size_t header_limit = 16 * 1024;
    std::size_t target_limit = 8 * 1024;
    std::size_t max_connections = 10000;  // beyond it: 503 and close, instead of running out of fds
    bool handle_signals = true;  // SIGINT/SIGTERM stop the server (off when embedded in a tool)
    metrics::Metrics* metrics = nullptr;  // counts every answered request when set
};

class HttpServer {
  public:
    HttpServer(HttpServerOptions options, RequestHandler handler);
    ~HttpServer();

    // Binds and listens; throws std::runtime_error with a one-line reason on failure.
    void listen();
    // "host:port" actually bound (after listen()).
    std::string local_address() const;
    // Serves until SIGTERM/SIGINT or stop(); then stops accepting, lets in-flight requests
    // finish within shutdown_grace and returns. on_ready runs once the listener is open.
    void run(const std::function<void()>& on_ready = {});
    // Thread-safe; begins the graceful shutdown.
    void stop();
    std::size_t open_connections() const;

    struct Impl;  // opaque; public only so the .cpp's session type can name it

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
