#include "http/routes.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "labels/labels.hpp"
#include "match/match.hpp"
#include "render/render.hpp"

namespace bootcfg {

namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";

Reply text_reply(std::string body, std::string selected = {}) {
    Reply r;
    r.body = std::move(body);
    r.selected = std::move(selected);
    return r;
}

// Labels from the query, the selection for `part`, then what `serve(labels, selection)` answers;
// or the refusal: 400 for unusable labels, 404 when nothing is selected.
template <class Serve>
Reply with_selection(const Snapshot& snapshot, std::string_view query, Part part, Serve serve) {
    const auto labels = labels_from_query(query);
    if (!labels) return error_reply(400, labels.failure().reason);
    const Selection sel = select(snapshot, *labels, part);
    if (!sel) return error_reply(404, sel.reason);
    return serve(*labels, sel);
}

Reply ipxe(const Snapshot& snapshot, std::string_view query) {
    return with_selection(snapshot, query, Part::boot, [](const Labels&, const Selection& sel) {
        return text_reply(ipxe_script(sel.profile->boot), sel.group->id);
    });
}

Reply grub(const Snapshot& snapshot, std::string_view query) {
    return with_selection(
        snapshot, query, Part::boot, [](const Labels& labels, const Selection& sel) {
            const std::string* arch = labels.find("arch");
            const bool arm64 = arch && (*arch == "arm64" || *arch == "aarch64");
            return text_reply(grub_config(sel.profile->boot, arm64), sel.group->id);
        });
}

Reply metadata(const Snapshot& snapshot, std::string_view query) {
    return with_selection(
        snapshot, query, Part::group, [&](const Labels& labels, const Selection& sel) {
            return text_reply(metadata_env(*sel.group, labels, query), sel.group->id);
        });
}

// The selected profile's named config, rendered with the group's data.
Reply template_reply(const Snapshot& snapshot, TemplateKind kind, const Labels& labels,
                     const Selection& sel, std::string_view query) {
    const Profile& profile = *sel.profile;
    const std::string& name = template_id(profile, kind);
    const TemplateEntry* entry = snapshot.template_entry(kind, name);
    if (!entry)
        return error_reply(404, std::string(template_dir(kind)) + " template '" + name +
                                    "' of profile '" + profile.id + "' does not exist");
    Reply r = text_reply({}, sel.group->id + " " + template_dir(kind) + "/" + name);
    if (kind == TemplateKind::ignition) r.content_type = "application/json";
    if (!entry->parsed) {
        r.body = entry->text;  // raw: checked at load (Ignition JSON) or served as is
        return r;
    }
    // A short body for the client; the file and reason go to the log.
    auto server_error = [&](std::string body, std::string detail) {
        Reply failed = error_reply(500, std::move(body));
        failed.selected = r.selected;
        failed.log_detail = entry->source + detail;
        return failed;
    };
    auto rendered = entry->parsed->render(template_data(*sel.group, labels, query));
    if (!rendered)
        return server_error(
            std::string("error rendering ") + template_dir(kind) + " template '" + name + "'",
            ":" + std::to_string(rendered.failure().line) + ": " + rendered.failure().reason);
    r.body = std::move(*rendered);
    if (kind == TemplateKind::ignition && !nlohmann::json::accept(r.body))
        return server_error("ignition template '" + name + "' did not render to JSON",
                            ": rendered output is not valid JSON");
    return r;
}

// /cloud, /ignition, /generic.
Reply rendered(const Snapshot& snapshot, std::string_view query, TemplateKind kind) {
    return with_selection(snapshot, query, template_part(kind),
                          [&](const Labels& labels, const Selection& sel) {
                              return template_reply(snapshot, kind, labels, sel, query);
                          });
}

Reply pixiecore(const Snapshot& snapshot, std::string_view mac_text) {
    auto decoded = percent_decode(mac_text, false);
    auto mac = decoded ? normalize_mac(*decoded) : std::nullopt;
    if (!mac) return error_reply(400, "malformed mac '" + std::string(mac_text) + "'");
    Labels labels;
    labels.set("mac", *mac);
    auto sel = select(snapshot, labels, Part::boot);
    if (!sel) return error_reply(404, sel.reason);
    Reply r = text_reply(pixiecore_json(sel.profile->boot), sel.group->id);
    r.content_type = "application/json";
    return r;
}

Reply asset(const AssetRoot* assets, std::string_view rest, const ConditionalHeaders& cond) {
    if (!assets) return error_reply(404, "serving assets is disabled (-assets-path is empty)");
    if (rest.empty() || rest.back() == '/') {  // a directory: its listing, when they are on
        const std::string_view dir = rest.empty() ? rest : rest.substr(0, rest.size() - 1);
        auto relative = dir.empty() ? std::optional<std::string>("") : asset_relative_path(dir);
        auto entries = relative ? assets->list(*relative) : std::nullopt;
        if (!entries) return error_reply(404, "no such asset directory (or listings are off)");
        Reply r;
        r.content_type = "text/html; charset=utf-8";
        r.body = listing_html(*entries);
        r.selected = *relative + "/";
        return r;
    }
    auto relative = asset_relative_path(rest);
    if (!relative) return error_reply(404, "no such asset");
    auto file = assets->open(*relative);
    if (!file) return error_reply(404, "no such asset");
    Reply r;
    r.plan = plan_asset(file->size, file->mtime_ns, cond);
    r.selected = *relative;
    r.headers.emplace_back("ETag", asset_etag(file->size, file->mtime_ns));
    r.headers.emplace_back("Last-Modified",
                           http_date(static_cast<std::time_t>(file->mtime_ns / 1000000000LL)));
    r.headers.emplace_back("Accept-Ranges", "bytes");
    r.status = r.plan.status;
    if (!r.plan.content_range.empty())
        r.headers.emplace_back("Content-Range", r.plan.content_range);
    if (r.status == 200 || r.status == 206) {
        r.content_type = asset_content_type(*relative);
        r.file = std::move(*file);
    } else if (r.status == 416) {
        r.body = "range not satisfiable\n";
    }
    return r;
}

}  // namespace

Reply error_reply(unsigned status, std::string reason) {
    Reply r;
    r.status = status;
    r.content_type = kText;
    r.body = std::move(reason);
    r.body += '\n';
    return r;
}

namespace {

// Machines only read: anything but GET and HEAD is refused before routing.
std::optional<Reply> refuse_method(const MachineRequest& request) {
    if (request.method == "GET" || request.method == "HEAD") return std::nullopt;
    Reply r = error_reply(405, "method " + std::string(request.method) + " not allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
}

// The request target as path and query; absolute-form (proxies) loses "scheme://authority".
std::pair<std::string_view, std::string_view> path_and_query(std::string_view target) {
    if (const auto scheme = target.find("://");
        scheme != std::string_view::npos && scheme < target.find('/')) {
        const auto path_start = target.find('/', scheme + 3);
        target = path_start == std::string_view::npos ? "/" : target.substr(path_start);
    }
    const auto qmark = target.find('?');
    return {target.substr(0, qmark),
            qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1)};
}

std::optional<Reply> asset_route(const AssetRoot* assets, std::string_view path,
                                 const MachineRequest& request) {
    if (path.starts_with("/assets/") || path.starts_with("/images/"))
        return asset(assets, path.substr(8), request.conditional);
    return std::nullopt;
}

}  // namespace

Reply route(const Snapshot& snapshot, const AssetRoot* assets, const MachineRequest& request,
            const StoreSource* source) {
    if (auto refused = refuse_method(request)) return std::move(*refused);
    const auto [path, query] = path_and_query(request.target);

    if (path == "/ipxe") return ipxe(snapshot, query);
    if (path == "/boot.ipxe" || path == "/boot.ipxe.0") return text_reply(chain_script());
    if (path == "/cloud") return rendered(snapshot, query, TemplateKind::cloud);
    if (path == "/ignition") return rendered(snapshot, query, TemplateKind::ignition);
    if (path == "/generic") return rendered(snapshot, query, TemplateKind::generic);

    if (path == "/metadata") return metadata(snapshot, query);
    if (path == "/grub") return grub(snapshot, query);
    if (path.starts_with("/pixiecore/v1/boot/"))
        return pixiecore(snapshot, path.substr(std::string_view("/pixiecore/v1/boot/").size()));
    if (auto reply = asset_route(assets, path, request)) return std::move(*reply);
    if (path == "/") return text_reply("bootcfg\n");
    if (path == "/healthz") {
        // Degraded still answers 200: the replica serves every machine from its last snapshot,
        // so load balancers keep it while operators read why.
        const std::string degraded = source ? source->health() : "";
        return text_reply(degraded.empty() ? "ok\n" : "degraded: " + degraded + "\n");
    }
    return error_reply(404, "no such endpoint " + std::string(path));
}

RequestHandler machine_routes(const SnapshotHolder& store, const AssetRoot* assets,
                              const StoreSource* source) {
    return [&store, assets, source](const MachineRequest& request) {
        thread_local const SnapshotHolder* holder = nullptr;
        thread_local std::uint64_t version = 0;
        thread_local std::shared_ptr<const Snapshot> snapshot;
        const std::uint64_t now = store.version();
        if (holder != &store || now != version || !snapshot) {
            snapshot = store.get();
            version = now;
            holder = &store;
        }
        return route(*snapshot, assets, request, source);
    };
}

RequestHandler asset_routes(const AssetRoot& assets) {
    return [&assets](const MachineRequest& request) {
        if (auto refused = refuse_method(request)) return std::move(*refused);
        const auto [path, query] = path_and_query(request.target);
        if (auto reply = asset_route(&assets, path, request)) return std::move(*reply);
        return error_reply(404, "no such endpoint " + std::string(path));
    };
}

}  // namespace bootcfg
