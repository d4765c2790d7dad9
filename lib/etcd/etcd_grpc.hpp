// Reads and transactions over etcd's gRPC API. The JSON gateway answers the same requests by
// calling the member's gRPC server and turning each reply into JSON with base64 keys and
// values, on a new HTTP/1.1 connection per request: reading 100,000 groups took etcd 0.8-1.3 s
// that way and 0.35 s over gRPC. Watches and logging in stay on the gateway (lib/client).
// Answers come as the gateway's would: a status and a body with etcd's reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "etcd/etcd_client.hpp"

namespace bootcfg {
struct ClientResponse;
}

namespace bootcfg::etcd {

struct RangeCall {
    std::string key, range_end;  // keys in [key, range_end); range_end "": the key alone
    std::int64_t limit = 0;
    std::int64_t revision = 0;
    bool serializable = false;
};

class GrpcKv {
  public:
    // Connects lazily, one channel per endpoint, with the cluster's TLS files; a reply larger
    // than options.max_page_bytes is refused by the client.
    explicit GrpcKv(const ClusterOptions& options);
    ~GrpcKv();
    GrpcKv(const GrpcKv&) = delete;
    GrpcKv& operator=(const GrpcKv&) = delete;

    // One call to `endpoint` (one of options.endpoints) with a user's token ("" with auth off).
    // 200 with the answer filled in; 401 for a refused token; 413 for a reply over the size
    // bound; otherwise etcd's refusal (400, or 503 when the member cannot serve now). Throws
    // ConnectError when the endpoint does not answer within the timeout.
    ClientResponse range(const std::string& endpoint, const std::string& token,
                         const RangeCall& call, RangePage& page) const;
    ClientResponse txn(const std::string& endpoint, const std::string& token,
                       const std::vector<TxnOp>& ops, TxnResult& result) const;

  private:
    struct Channels;
    const ClusterOptions& options_;
    std::unique_ptr<Channels> channels_;
};

}  // namespace bootcfg::etcd
