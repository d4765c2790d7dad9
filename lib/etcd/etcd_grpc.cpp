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

}  // namespace

struct GrpcRange::Channels {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<etcdserverpb::KV::Stub>> stubs;  // by endpoint
};

GrpcRange::GrpcRange(const ClusterOptions& options)
    : options_(options), channels_(std::make_unique<Channels>()) {}

GrpcRange::~GrpcRange() = default;

ClientResponse GrpcRange::read(const std::string& endpoint, const std::string& token,
                               const RangeCall& call, RangePage& page) const {
    etcdserverpb::KV::Stub* stub = nullptr;
    {
        std::lock_guard guard(channels_->mutex);
        auto& slot = channels_->stubs[endpoint];
        if (!slot) {
            const auto [target, tls] = target_of(endpoint);
            std::shared_ptr<grpc::ChannelCredentials> credentials;
            if (tls) {
                grpc::SslCredentialsOptions ssl;
                ssl.pem_root_certs =
                    file_text(options_.ca_file.empty() ? kSystemCas : options_.ca_file);
                ssl.pem_cert_chain = file_text(options_.cert_file);
                ssl.pem_private_key = file_text(options_.key_file);
                credentials = grpc::SslCredentials(ssl);
            } else {
                credentials = grpc::InsecureChannelCredentials();
            }
            grpc::ChannelArguments arguments;
            arguments.SetMaxReceiveMessageSize(static_cast<int>(options_.max_page_bytes));
            // A member back after an outage is used within a second (gRPC's default back-off
            // grows to two minutes, and calls fail at once meanwhile).
            arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
            arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
            slot = etcdserverpb::KV::NewStub(
                grpc::CreateCustomChannel(target, credentials, arguments));
        }
        stub = slot.get();
    }

    etcdserverpb::RangeRequest request;
    request.set_key(call.key);
    request.set_range_end(call.range_end);
    request.set_limit(call.limit);
    request.set_revision(call.revision);
    request.set_serializable(call.serializable);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    if (!token.empty()) context.AddMetadata("token", token);
    etcdserverpb::RangeResponse response;
    const grpc::Status status = stub->Range(&context, request, &response);
    switch (status.error_code()) {
        case grpc::StatusCode::OK:
            break;
        case grpc::StatusCode::UNAVAILABLE:
            // No connection, or a member without a leader: the next endpoint may serve.
            if (status.error_message().starts_with("etcdserver:"))
                return answer(503, status.error_message());
            throw ConnectError(endpoint + ": " + status.error_message());
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            throw ConnectError(endpoint + ": no answer within " +
                               std::to_string(options_.timeout.count()) + " ms");
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
    page.revision = response.header().revision();
    page.more = response.more();
    page.kvs.clear();
    page.kvs.reserve(static_cast<std::size_t>(response.kvs_size()));
    for (auto& kv : *response.mutable_kvs())
        page.kvs.push_back(KeyValue{std::move(*kv.mutable_key()), std::move(*kv.mutable_value()),
                                    kv.mod_revision()});
    ClientResponse ok;
    ok.status = 200;
    return ok;
}

}  // namespace bootcfg::etcd
