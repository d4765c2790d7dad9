// The admin listener: HTTP/1.1 on a unix socket or TCP, TLS with client certificates and/or
// bearer tokens. Never shares a listener with the machine endpoints. Beast, Asio and OpenSSL stay
// inside admin_server.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "admin/api.hpp"

namespace bootcfg::admin {

struct AdminServerOptions {
    std::string address;    // "host:port" or "unix:/path"
    std::string cert_file;  // with key_file: TLS
    std::string key_file;
    std::string ca_file;     // clients must present a certificate signed by this CA
    std::string token_file;  // "NAME TOKEN" lines: bearer tokens
    std::size_t body_limit = 1024 * 1024;
    std::size_t max_connections = 64;          // open at once; beyond: closed at accept
    std::chrono::milliseconds timeout{30000};  // per read or write
};

// One set of options per listener of `-admin-address A,B,…`. With several addresses a unix
// socket takes no TLS (the certificate settings are for the TCP listeners), so a local socket
// and a remote TLS port can run together; a lone unix address with -cert-file stays an error.
std::vector<AdminServerOptions> admin_listeners(const AdminServerOptions& options);

// Loads a TLS server certificate chain, its key and (when given) the CA for client certificates,
// as a listener would. Throws std::runtime_error naming the flag and file at fault.
void check_certificates(const std::string& cert_file, const std::string& key_file,
                        const std::string& ca_file);

class AdminServer {
  public:
    AdminServer(AdminServerOptions options, AdminApi& api);
    ~AdminServer();

    // Checks the security policy, loads certificates and tokens, binds. Throws
    // std::runtime_error with a one-line reason naming the flag or file at fault.
    void listen();
    // The same checks without binding, so a bad setting is refused before anything loads.
    static void check(const AdminServerOptions& options);
    std::string local_address() const;  // "unix:/path" or "host:port"
    std::string security() const;       // e.g. "TLS, client certificates, tokens"
    void start();                       // serves on its own thread
    void stop();                        // closes the listener and connections, joins

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg::admin
