#include "etcd/etcd_grpc.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <map>
#include <mutex>

#include "client/admin_client.hpp"
#include "etcd_kv.grpc.pb.h"
#include "files/atomic_file.hpp"

namespace bootcfg::etcd {

namespace {

// Where a client finds the system's CAs when no -etcd-ca-file is given (Debian's bundle).
constexpr const char* kSystemCas = "/etc/ssl/certs/ca-certificates.crt";

std::string file_text(const std::string& path) {
    std::string text;
    if (!path.empty() && !read_whole(path, text)) throw ConnectError(path + ": cannot be read");
    return text;
}

// "https://host:port/..." -> ("host:port", true)
std::pair<std::string, bool> target_of(const std::string& endpoint) {
    const bool tls = endpoint.starts_with("https://");
    std::string rest =
        endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    const bool has_port = colon != std::string::npos && rest.find(']', colon) == std::string::npos;
    if (!has_port) rest += tls ? ":443" : ":80";
    return {rest, tls};
}

ClientResponse answer(unsigned status, const std::string& message) {
    ClientResponse response;
    response.status = status;
    response.body = nlohmann::json{{"message", message}}.dump();
    return response;
}

// etcd's answer as a status (see GrpcKv); ok: 200 with no body.
ClientResponse status_of(const grpc::Status& status, const std::string& endpoint,
                         std::chrono::milliseconds timeout) {
    switch (status.error_code()) {
        case grpc::StatusCode::OK: {
            ClientResponse ok;
            ok.status = 200;
            return ok;
        }
        case grpc::StatusCode::UNAVAILABLE:
            // No connection, or a member without a leader: the next endpoint may serve.
            if (status.error_message().starts_with("etcdserver:"))
                return answer(503, status.error_message());
            throw ConnectError(endpoint + ": " + status.error_message());
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            throw ConnectError(endpoint + ": no answer within " + std::to_string(timeout.count()) +
                               " ms");
        case grpc::StatusCode::UNAUTHENTICATED:
            return answer(401, status.error_message());
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            // etcd's own ("etcdserver: too many requests") passes; gRPC's is about the reply.
            if (status.error_message().starts_with("etcdserver:"))
                return answer(503, status.error_message());
            return answer(413, status.error_message());
        default:
            return answer(400, status.error_message());
    }
}

// One call with the deadline and the user's token; etcd's answer as a status.
template <class Request, class Response>
ClientResponse unary(etcdserverpb::KV::Stub& stub,
                     grpc::Status (etcdserverpb::KV::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
                     const Request& request, Response& response, const std::string& endpoint,
                     const std::string& token, std::chrono::milliseconds timeout) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!token.empty()) context.AddMetadata("token", token);
    return status_of((stub.*method)(&context, request, &response), endpoint, timeout);
}

}  // namespace

struct GrpcKv::Channels {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<etcdserverpb::KV::Stub>> stubs;  // by endpoint

    etcdserverpb::KV::Stub& stub(const ClusterOptions& options, const std::string& endpoint) {
        std::lock_guard guard(mutex);
        auto& slot = stubs[endpoint];
        if (!slot) {
            const auto [target, tls] = target_of(endpoint);
            std::shared_ptr<grpc::ChannelCredentials> credentials;
            if (tls) {
                grpc::SslCredentialsOptions ssl;
                ssl.pem_root_certs =
                    file_text(options.ca_file.empty() ? kSystemCas : options.ca_file);
                ssl.pem_cert_chain = file_text(options.cert_file);
                ssl.pem_private_key = file_text(options.key_file);
                credentials = grpc::SslCredentials(ssl);
            } else {
                credentials = grpc::InsecureChannelCredentials();
            }
            grpc::ChannelArguments arguments;
            arguments.SetMaxReceiveMessageSize(static_cast<int>(options.max_page_bytes));
            // A member back after an outage is used within a second (gRPC's default back-off
            // grows to two minutes, and calls fail at once meanwhile).
            arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
            arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
            slot = etcdserverpb::KV::NewStub(
                grpc::CreateCustomChannel(target, credentials, arguments));
        }
        return *slot;
    }
};

GrpcKv::GrpcKv(const ClusterOptions& options)
    : options_(options), channels_(std::make_unique<Channels>()) {}

GrpcKv::~GrpcKv() = default;

ClientResponse GrpcKv::range(const std::string& endpoint, const std::string& token,
                             const RangeCall& call, RangePage& page) const {
    etcdserverpb::RangeRequest request;
    request.set_key(call.key);
    request.set_range_end(call.range_end);
    request.set_limit(call.limit);
    request.set_revision(call.revision);
    request.set_serializable(call.serializable);
    etcdserverpb::RangeResponse response;
    ClientResponse status =
        unary(channels_->stub(options_, endpoint), &etcdserverpb::KV::Stub::Range, request,
              response, endpoint, token, options_.timeout);
    if (status.status != 200) return status;
    page.revision = response.header().revision();
    page.more = response.more();
    page.kvs.clear();
    page.kvs.reserve(static_cast<std::size_t>(response.kvs_size()));
    for (auto& kv : *response.mutable_kvs())
        page.kvs.push_back(KeyValue{std::move(*kv.mutable_key()), std::move(*kv.mutable_value()),
                                    kv.mod_revision()});
    return status;
}

ClientResponse GrpcKv::txn(const std::string& endpoint, const std::string& token,
                           const std::vector<TxnOp>& ops, TxnResult& result) const {
    etcdserverpb::TxnRequest request;
    for (const TxnOp& op : ops) {
        if (op.mod_revision) {
            auto& compare = *request.add_compare();
            compare.set_key(op.key);
            compare.set_target(etcdserverpb::Compare::MOD);
            compare.set_result(etcdserverpb::Compare::EQUAL);
            compare.set_mod_revision(*op.mod_revision);
        }
        auto& step = *request.add_success();
        if (op.value) {
            step.mutable_request_put()->set_key(op.key);
            step.mutable_request_put()->set_value(*op.value);
        } else {
            step.mutable_request_delete_range()->set_key(op.key);
        }
    }
    etcdserverpb::TxnResponse response;
    ClientResponse status = unary(channels_->stub(options_, endpoint), &etcdserverpb::KV::Stub::Txn,
                                  request, response, endpoint, token, options_.timeout);
    if (status.status != 200) return status;
    result.succeeded = response.succeeded();
    result.revision = response.header().revision();
    return status;
}

}  // namespace bootcfg::etcd
