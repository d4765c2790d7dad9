#include "rpc/rpc_server.hpp"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "admin/admin_server.hpp"
#include "files/atomic_file.hpp"
#include "labels/labels.hpp"
#include "logging/log_text.hpp"
#include "match/match.hpp"
#include "model/limits.hpp"
#include "rpc.grpc.pb.h"
#include "values/values.hpp"

namespace bootcfg::rpc {

using admin::Kind;

namespace {

using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;
using nlohmann::json;

// matchbox's texts for a lookup that finds nothing (clients may compare them).
constexpr const char* kNoGroup = "matchbox: No matching Group";
constexpr const char* kNoProfile = "matchbox: No matching Profile";

std::string read_file(const std::string& flag, const std::string& path) {
    std::string text;
    if (!read_whole(path, text)) throw std::runtime_error(flag + " " + path + ": cannot read it");
    return text;
}

// gRPC's own log lines (handshake failures, transport errors) in bootcfgd's log.
void log_from_grpc(gpr_log_func_args* args) {
    if (args->severity == GPR_LOG_SEVERITY_ERROR)
        spdlog::warn("rpc: grpc: {}", log_escape(args->message));
    else
        spdlog::debug("rpc: grpc: {}", log_escape(args->message));
}

// protobuf's (a request whose strings are not UTF-8, say): one line, never stderr.
void log_from_protobuf(google::protobuf::LogLevel level, const char*, int,
                       const std::string& message) {
    if (level >= google::protobuf::LOGLEVEL_ERROR)
        spdlog::warn("rpc: protobuf: {}", log_escape(message));
    else
        spdlog::debug("rpc: protobuf: {}", log_escape(message));
}

// Who called, for the audit line: the verified client certificate's subject, written as the
// admin listener writes it.
std::string caller(const ServerContext& ctx) {
    const auto auth = ctx.auth_context();
    if (auth)
        for (const auto& pem : auth->FindPropertyValues("x509_pem_cert")) {
            BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
            X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
            std::string who;
            if (cert) {
                char subject[512];
                X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
                who = std::string("cert:") + subject;
            }
            X509_free(cert);
            BIO_free(bio);
            if (!who.empty()) return who;
        }
    return "rpc:" + ctx.peer();
}

// An admin API answer as a gRPC status: the REST API's reason, under the code that means it.
Status status_of(const admin::ApiReply& reply) {
    if (reply.status < 300) return Status::OK;
    std::string reason = reply.body;
    try {
        reason = json::parse(reply.body).at("error").get<std::string>();
    } catch (const json::exception&) {
    }
    StatusCode code = StatusCode::UNKNOWN;
    switch (reply.status) {
        case 400:
        case 405:
        case 413:
            code = StatusCode::INVALID_ARGUMENT;
            break;
        case 404:
            code = StatusCode::NOT_FOUND;
            break;
        case 409:
        case 412:
            code = StatusCode::FAILED_PRECONDITION;
            break;
        case 503:
            code = StatusCode::UNAVAILABLE;
            break;
        case 500:
            code = StatusCode::INTERNAL;
            break;
    }
    return Status(code, reason);
}

void to_message(const Group& g, storagepb::Group& out) {
    out.set_id(g.id);
    out.set_name(g.name);
    out.set_profile(g.profile);
    for (const auto& [k, v] : g.selector.entries()) (*out.mutable_selector())[k] = v;
    if (!g.metadata.empty()) out.set_metadata(g.metadata.text());
}

void to_message(const Profile& p, storagepb::Profile& out) {
    out.set_id(p.id);
    out.set_name(p.name);
    out.set_ignition_id(p.ignition_id);
    out.set_cloud_id(p.cloud_id);
    out.set_generic_id(p.generic_id);
    if (p.has_boot) {
        auto& boot = *out.mutable_boot();
        boot.set_kernel(p.boot.kernel);
        for (const auto& i : p.boot.initrd) boot.add_initrd(i);
        for (const auto& a : p.boot.args) boot.add_args(a);
    }
}

// The JSON document a hand-written groups/<id>.json would hold.
json group_document(const storagepb::Group& g) {
    json doc = {{"id", g.id()}};
    if (!g.name().empty()) doc["name"] = g.name();
    doc["profile"] = g.profile();
    if (g.selector_size() > 0) {
        json selector = json::object();
        for (const auto& [k, v] : g.selector()) selector[k] = v;
        doc["selector"] = std::move(selector);
    }
    if (!g.metadata().empty()) {
        try {
            doc["metadata"] = parse_json_bounded(g.metadata());
        } catch (const json::exception&) {
            throw std::invalid_argument("metadata is not a JSON document (nested at most " +
                                        std::to_string(kMaxNesting) + " deep)");
        }
    }
    return doc;
}

// The JSON document a hand-written profiles/<id>.json would hold.
json profile_document(const storagepb::Profile& p) {
    json doc = {{"id", p.id()}};
    if (!p.name().empty()) doc["name"] = p.name();
    if (p.has_boot()) {
        json boot = {{"kernel", p.boot().kernel()}};
        if (p.boot().initrd_size() > 0)
            boot["initrd"] =
                std::vector<std::string>(p.boot().initrd().begin(), p.boot().initrd().end());
        if (p.boot().args_size() > 0)
            boot["args"] = std::vector<std::string>(p.boot().args().begin(), p.boot().args().end());
        doc["boot"] = std::move(boot);
    }
    if (!p.ignition_id().empty()) doc["ignition_id"] = p.ignition_id();
    if (!p.cloud_id().empty()) doc["cloud_id"] = p.cloud_id();
    if (!p.generic_id().empty()) doc["generic_id"] = p.generic_id();
    return doc;
}

}  // namespace

struct Services;

struct RpcServer::Impl {
    RpcServerOptions opt;
    admin::AdminApi& api;
    std::unique_ptr<Services> services;
    std::unique_ptr<grpc::Server> server;
    std::string bound;

    Impl(RpcServerOptions o, admin::AdminApi& a);
    ~Impl();

    std::shared_ptr<const Snapshot> snapshot() const { return api.store().current(); }

    // A write through the admin API, as PUT or DELETE /api/v1/KIND/NAME.
    Status write(ServerContext& ctx, const char* method, Kind kind, const std::string& name,
                 const std::string& body, const char* what) {
        if (name.empty())
            return Status(StatusCode::INVALID_ARGUMENT, std::string(what) + " is empty");
        admin::ApiRequest request;
        request.method = method;
        const std::string target =
            "/api/v1/" + std::string(kind_name(kind)) + "/" + percent_encode(name);
        request.target = target;
        request.body = body;
        request.who = caller(ctx);
        request.templates_may_follow = true;
        const admin::ApiReply reply = api.handle(request);
        // Deleting what is not there leaves the store as asked: Terraform's destroy relies on it.
        if (std::string_view(method) == "DELETE" && reply.status == 404) return Status::OK;
        return status_of(reply);
    }

    template <class Message>
    Status put_document(ServerContext& ctx, Kind kind, const std::string& id,
                        json (*document)(const Message&), const Message& message,
                        const char* what) {
        std::string body;
        try {
            body = document(message).dump(2, ' ', false, json::error_handler_t::strict) + "\n";
        } catch (const std::invalid_argument& e) {
            return Status(StatusCode::INVALID_ARGUMENT, e.what());
        } catch (const json::exception&) {
            return Status(StatusCode::INVALID_ARGUMENT, "a string is not valid UTF-8");
        }
        return write(ctx, "PUT", kind, id, body, what);
    }

    Status get_template(TemplateKind kind, const std::string& name, std::string& config) const {
        const auto s = snapshot();
        const TemplateEntry* t = s->template_entry(kind, name);
        if (!t)
            return Status(StatusCode::NOT_FOUND, "no " + std::string(template_dir(kind)) +
                                                     " config '" + log_escape(name) + "'");
        config = t->text;
        return Status::OK;
    }

    // The group a machine with these labels gets, as /metadata picks it.
    Status selected_group(const google::protobuf::Map<std::string, std::string>& raw,
                          std::shared_ptr<const Snapshot>& s, const Group*& group) const {
        Labels labels;
        for (const auto& [k, v] : raw) {
            auto value = normalize_label(k, v);
            if (!value)
                return Status(
                    StatusCode::INVALID_ARGUMENT,
                    "label " + log_escape(k) + " '" + log_escape(v) + "' is not a MAC address");
            labels.set(k, std::move(*value));
        }
        s = snapshot();
        group = select(*s, labels, Part::group).group;
        return group ? Status::OK : Status(StatusCode::NOT_FOUND, kNoGroup);
    }
};

namespace {

// Every call logged as the admin listener logs its requests.
Status logged(const ServerContext& ctx, const char* method, Status status) {
    spdlog::info("rpc: {} {} who=\"{}\"{}", method, static_cast<int>(status.error_code()),
                 log_escape(caller(ctx)),
                 status.ok() ? "" : " error=\"" + log_escape(status.error_message()) + "\"");
    return status;
}

// Get and List of groups or profiles, from the current snapshot.
const Group* find(const Snapshot& s, const Group*, const std::string& id) {
    return s.group(id);
}
const Profile* find(const Snapshot& s, const Profile*, const std::string& id) {
    return s.profile(id);
}
std::vector<const Group*> all(const Snapshot& s, const Group*) {
    return s.groups();
}
std::vector<const Profile*> all(const Snapshot& s, const Profile*) {
    return s.profiles();
}

template <class Object>
Status get_object(const RpcServer::Impl& im, const std::string& id, auto* out,
                  const char* missing) {
    const auto s = im.snapshot();
    const Object* found = find(*s, static_cast<const Object*>(nullptr), id);
    if (!found) return Status(StatusCode::NOT_FOUND, missing);
    to_message(*found, *out);
    return Status::OK;
}

template <class Object>
Status list_objects(const RpcServer::Impl& im, auto add) {
    const auto s = im.snapshot();
    auto objects = all(*s, static_cast<const Object*>(nullptr));
    std::sort(objects.begin(), objects.end(),
              [](const Object* a, const Object* b) { return a->id < b->id; });
    for (const Object* o : objects) to_message(*o, *add());
    return Status::OK;
}

class GroupsService final : public rpcpb::Groups::Service {
  public:
    explicit GroupsService(RpcServer::Impl& im) : im_(im) {}

    Status GroupPut(ServerContext* ctx, const serverpb::GroupPutRequest* req,
                    serverpb::GroupPutResponse*) override {
        return logged(*ctx, "Groups/GroupPut",
                      im_.put_document(*ctx, Kind::groups, req->group().id(), &group_document,
                                       req->group(), "group id"));
    }
    Status GroupGet(ServerContext* ctx, const serverpb::GroupGetRequest* req,
                    serverpb::GroupGetResponse* res) override {
        return logged(*ctx, "Groups/GroupGet",
                      get_object<Group>(im_, req->id(), res->mutable_group(), kNoGroup));
    }
    Status GroupDelete(ServerContext* ctx, const serverpb::GroupDeleteRequest* req,
                       serverpb::GroupDeleteResponse*) override {
        return logged(*ctx, "Groups/GroupDelete",
                      im_.write(*ctx, "DELETE", Kind::groups, req->id(), "", "group id"));
    }
    Status GroupList(ServerContext* ctx, const serverpb::GroupListRequest*,
                     serverpb::GroupListResponse* res) override {
        return logged(*ctx, "Groups/GroupList",
                      list_objects<Group>(im_, [res] { return res->add_groups(); }));
    }

  private:
    RpcServer::Impl& im_;
};

class ProfilesService final : public rpcpb::Profiles::Service {
  public:
    explicit ProfilesService(RpcServer::Impl& im) : im_(im) {}

    Status ProfilePut(ServerContext* ctx, const serverpb::ProfilePutRequest* req,
                      serverpb::ProfilePutResponse*) override {
        return logged(*ctx, "Profiles/ProfilePut",
                      im_.put_document(*ctx, Kind::profiles, req->profile().id(), &profile_document,
                                       req->profile(), "profile id"));
    }
    Status ProfileGet(ServerContext* ctx, const serverpb::ProfileGetRequest* req,
                      serverpb::ProfileGetResponse* res) override {
        return logged(*ctx, "Profiles/ProfileGet",
                      get_object<Profile>(im_, req->id(), res->mutable_profile(), kNoProfile));
    }
    Status ProfileDelete(ServerContext* ctx, const serverpb::ProfileDeleteRequest* req,
                         serverpb::ProfileDeleteResponse*) override {
        return logged(*ctx, "Profiles/ProfileDelete",
                      im_.write(*ctx, "DELETE", Kind::profiles, req->id(), "", "profile id"));
    }
    Status ProfileList(ServerContext* ctx, const serverpb::ProfileListRequest*,
                       serverpb::ProfileListResponse* res) override {
        return logged(*ctx, "Profiles/ProfileList",
                      list_objects<Profile>(im_, [res] { return res->add_profiles(); }));
    }

  private:
    RpcServer::Impl& im_;
};

class SelectService final : public rpcpb::Select::Service {
  public:
    explicit SelectService(RpcServer::Impl& im) : im_(im) {}

    Status SelectGroup(ServerContext* ctx, const serverpb::SelectGroupRequest* req,
                       serverpb::SelectGroupResponse* res) override {
        std::shared_ptr<const Snapshot> s;
        const Group* g = nullptr;
        Status status = im_.selected_group(req->labels(), s, g);
        if (status.ok()) to_message(*g, *res->mutable_group());
        return logged(*ctx, "Select/SelectGroup", status);
    }
    // The profile of the group SelectGroup answers, as matchbox defines it.
    Status SelectProfile(ServerContext* ctx, const serverpb::SelectProfileRequest* req,
                         serverpb::SelectProfileResponse* res) override {
        std::shared_ptr<const Snapshot> s;
        const Group* g = nullptr;
        Status status = im_.selected_group(req->labels(), s, g);
        if (status.ok()) {
            if (const Profile* p = s->profile(g->profile))
                to_message(*p, *res->mutable_profile());
            else
                status = Status(StatusCode::NOT_FOUND, kNoProfile);
        } else if (status.error_code() == StatusCode::NOT_FOUND) {
            status = Status(StatusCode::NOT_FOUND, kNoProfile);
        }
        return logged(*ctx, "Select/SelectProfile", status);
    }

  private:
    RpcServer::Impl& im_;
};

// Ignition and Generic: the same three calls on another kind.
template <class Base, Kind kind, TemplateKind template_kind>
class TemplateService : public Base {
  protected:
    explicit TemplateService(RpcServer::Impl& im) : im_(im) {}

    Status put(ServerContext* ctx, const char* method, const auto* req) {
        return logged(*ctx, method,
                      im_.write(*ctx, "PUT", kind, req->name(), req->config(), "config name"));
    }
    Status get(ServerContext* ctx, const char* method, const auto* req, auto* res) {
        std::string config;
        Status status = im_.get_template(template_kind, req->name(), config);
        if (status.ok()) res->set_config(std::move(config));
        return logged(*ctx, method, status);
    }
    Status remove(ServerContext* ctx, const char* method, const auto* req) {
        return logged(*ctx, method,
                      im_.write(*ctx, "DELETE", kind, req->name(), "", "config name"));
    }

    RpcServer::Impl& im_;
};

class IgnitionService final
    : public TemplateService<rpcpb::Ignition::Service, Kind::ignition, TemplateKind::ignition> {
  public:
    explicit IgnitionService(RpcServer::Impl& im) : TemplateService(im) {}

    Status IgnitionPut(ServerContext* ctx, const serverpb::IgnitionPutRequest* req,
                       serverpb::IgnitionPutResponse*) override {
        return put(ctx, "Ignition/IgnitionPut", req);
    }
    Status IgnitionGet(ServerContext* ctx, const serverpb::IgnitionGetRequest* req,
                       serverpb::IgnitionGetResponse* res) override {
        return get(ctx, "Ignition/IgnitionGet", req, res);
    }
    Status IgnitionDelete(ServerContext* ctx, const serverpb::IgnitionDeleteRequest* req,
                          serverpb::IgnitionDeleteResponse*) override {
        return remove(ctx, "Ignition/IgnitionDelete", req);
    }
};

class GenericService final
    : public TemplateService<rpcpb::Generic::Service, Kind::generic, TemplateKind::generic> {
  public:
    explicit GenericService(RpcServer::Impl& im) : TemplateService(im) {}

    Status GenericPut(ServerContext* ctx, const serverpb::GenericPutRequest* req,
                      serverpb::GenericPutResponse*) override {
        return put(ctx, "Generic/GenericPut", req);
    }
    Status GenericGet(ServerContext* ctx, const serverpb::GenericGetRequest* req,
                      serverpb::GenericGetResponse* res) override {
        return get(ctx, "Generic/GenericGet", req, res);
    }
    Status GenericDelete(ServerContext* ctx, const serverpb::GenericDeleteRequest* req,
                         serverpb::GenericDeleteResponse*) override {
        return remove(ctx, "Generic/GenericDelete", req);
    }
};

}  // namespace

struct Services {
    GroupsService groups;
    ProfilesService profiles;
    SelectService select;
    IgnitionService ignition;
    GenericService generic;
    explicit Services(RpcServer::Impl& im)
        : groups(im), profiles(im), select(im), ignition(im), generic(im) {}
};

RpcServer::Impl::Impl(RpcServerOptions o, admin::AdminApi& a)
    : opt(std::move(o)), api(a), services(std::make_unique<Services>(*this)) {}
RpcServer::Impl::~Impl() = default;

RpcServer::RpcServer(RpcServerOptions options, admin::AdminApi& api)
    : impl_(std::make_unique<Impl>(std::move(options), api)) {}

RpcServer::~RpcServer() {
    stop();
}

void RpcServer::start() {
    auto& im = *impl_;
    const auto& o = im.opt;
    if (o.cert_file.empty() || o.key_file.empty() || o.ca_file.empty())
        throw std::runtime_error(
            "-rpc-address needs -cert-file, -key-file and -ca-file (client certificates are "
            "required, as matchbox requires them)");
    const auto hp = split_host_port(o.address);
    if (!hp) throw std::runtime_error("-rpc-address '" + o.address + "' is not HOST:PORT");
    // Each file loads as a TLS listener needs it: a bad one is named before anything binds.
    admin::check_certificates(o.cert_file, o.key_file, o.ca_file);
    gpr_set_log_function(log_from_grpc);
    google::protobuf::SetLogHandler(log_from_protobuf);

    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = read_file("-ca-file", o.ca_file);
    tls.pem_key_cert_pairs.push_back(
        {read_file("-key-file", o.key_file), read_file("-cert-file", o.cert_file)});

    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(o.address, grpc::SslServerCredentials(tls), &port);
    // Bounded per listener: threads, memory, message size, streams, handshake time.
    grpc::ResourceQuota quota("bootcfg-rpc");
    quota.SetMaxThreads(std::max(2, o.threads));
    quota.Resize(64 * 1024 * 1024);
    builder.SetResourceQuota(quota);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1);
    builder.SetMaxReceiveMessageSize(static_cast<int>(o.message_limit));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 16);
    builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10000);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 300000);
    builder.RegisterService(&im.services->groups);
    builder.RegisterService(&im.services->profiles);
    builder.RegisterService(&im.services->select);
    builder.RegisterService(&im.services->ignition);
    builder.RegisterService(&im.services->generic);
    im.server = builder.BuildAndStart();
    if (!im.server || port == 0)
        throw std::runtime_error("-rpc-address " + o.address +
                                 ": cannot listen there (in use, or not an address of this host)");
    im.bound = join_host_port(hp->host, std::to_string(port));
}

std::string RpcServer::local_address() const {
    return impl_->bound;
}

void RpcServer::stop() {
    auto& im = *impl_;
    if (!im.server) return;
    im.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    im.server->Wait();
    im.server.reset();
}

}  // namespace bootcfg::rpc
