// matchbox's gRPC API (rpcpb.Groups, Profiles, Select, Ignition, Generic) for
// terraform-provider-matchbox and bootcmd: its own listener, TLS with client certificates
// required. Each call becomes an admin API request (admin/api.hpp), so validation, the store's
// write path, revisions and audit lines are the REST API's. gRPC stays inside rpc_server.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "admin/api.hpp"

namespace bootcfg::rpc {

struct RpcServerOptions {
    std::string address;  // host:port
    std::string cert_file, key_file, ca_file;
    std::size_t message_limit = 4 * 1024 * 1024;  // largest request accepted
    // gRPC's threads, made as calls arrive: at most this many calls run at once (more are
    // refused with RESOURCE_EXHAUSTED); Terraform runs 10 by default.
    int threads = 32;
};

class RpcServer {
  public:
    RpcServer(RpcServerOptions options, admin::AdminApi& api);
    ~RpcServer();

    // Checks the certificates and binds; serves on gRPC's own threads from then on. Throws
    // std::runtime_error with a one-line reason naming the flag or file at fault.
    void start();
    std::string local_address() const;  // host:port as bound
    void stop();                        // refuses new calls, waits briefly for running ones

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg::rpc
