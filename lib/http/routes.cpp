#include "http/routes.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

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

// One machine request: what the routes below read besides the snapshot.
struct Call {
    const Snapshot& snapshot;
    const MachineRequest& request;
    std::string_view path, query;
    const MachineServices* machines;

    inventory::Inventory* inventory() const { return machines ? machines->inventory : nullptr; }
};

// The record key of these labels (mac, else uuid), a view into them or into `storage`; empty
// without either.
std::string_view machine_of(const Labels& labels, std::string& storage) {
    const std::string* mac = labels.find("mac");
    const std::string* uuid = labels.find("uuid");
    // Views of the labels themselves (`mac ? *mac : ""` would view a temporary copy).
    return inventory::machine_key(mac ? std::string_view(*mac) : std::string_view(),
                                  uuid ? std::string_view(*uuid) : std::string_view(), storage);
}

// The labels groups are matched against: with the inventory on, "state" is the machine's
// recorded state, never what it claims. Templates still see the query as sent.
const Labels& matching_labels(const Call& call, const Labels& sent, Labels& scratch) {
    if (!call.inventory()) return sent;
    std::string storage;
    const std::string_view id = machine_of(sent, storage);
    auto state = id.empty() ? std::nullopt : call.inventory()->state_of(id);
    if (!state && !sent.find("state")) return sent;
    scratch = sent;
    scratch.erase("state");
    if (state) scratch.set("state", std::move(*state));
    return scratch;
}

// Hands the request to the inventory's writer (never waits for it).
void record(const Call& call, const Labels& labels, const Selection* sel, bool boot) {
    inventory::Inventory* inv = call.inventory();
    if (!inv) return;
    // Views of the labels: the inventory copies them only when they are news.
    std::string storage;
    inventory::SightingView s;
    s.id = machine_of(labels, storage);
    if (s.id.empty()) return;
    auto take = [&](std::string_view& field, const char* key) {
        if (const std::string* v = labels.find(key)) field = *v;
    };
    take(s.mac, "mac");
    take(s.uuid, "uuid");
    take(s.hostname, "hostname");
    take(s.serial, "serial");
    take(s.arch, "arch");
    s.client_ip = call.request.client_ip;
    s.endpoint = call.path;
    if (sel && sel->group) {
        s.group = sel->group->id;
        s.profile = sel->group->profile;
        s.default_group = sel->group->selector.empty();
    }
    s.boot = boot;
    s.time_ms = inventory::now_ms();
    inv->record(s);
}

// The signed check-in URL of this machine, for {{.request.checkin_url}}; "" when the inventory
// is off or the URL cannot be built (no usable Host).
std::string checkin_url(const Call& call, const Labels& labels) {
    inventory::Inventory* inv = call.inventory();
    if (!inv) return {};
    std::string storage;
    const std::string_view id = machine_of(labels, storage);
    if (id.empty()) return {};
    std::string base = call.machines->public_url;
    if (base.empty()) {
        const std::string_view host = call.request.host;
        const bool usable =
            !host.empty() && host.size() <= 255 &&
            std::all_of(host.begin(), host.end(), [](unsigned char c) {
                return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
            });
        if (!usable) return {};
        base = "http://" + std::string(host);
    }
    const std::int64_t expires = inventory::now_ms() / 1000 + inv->checkin_ttl_s();
    return base + "/checkin?" + inv->signer().query(id, inventory::kInstalled, expires);
}

// A group whose profile has no boot config: the machine should boot from its disk.
bool boots_from_disk(const Call& call, const Selection& sel) {
    return sel.group && !sel.profile && !sel.group->falls_through &&
           call.snapshot.profile(sel.group->profile);
}

metrics::MatchOutcome match_outcome(const Selection& sel) {
    using metrics::MatchOutcome;
    if (!sel.group) return MatchOutcome::none;
    return sel.group->selector.empty() ? MatchOutcome::default_group : MatchOutcome::group;
}

// Labels from the query (with the recorded state), the selection for `part`, then what
// `serve(labels, selection)` answers; or the refusal: 400 for unusable labels, 404 when
// nothing is selected. Every request with a MAC or UUID is recorded. With `exit_script` (boot
// scripts), a profile without boot answers it: the firmware boots the disk.
template <class Serve>
Reply with_selection(const Call& call, Part part, Serve serve,
                     std::string (*exit_script)() = nullptr) {
    auto labels = labels_from_query(call.query);
    if (!labels) return error_reply(400, labels.failure().reason);
    Labels scratch;
    const Selection sel = select(call.snapshot, matching_labels(call, *labels, scratch), part);
    record(call, *labels, &sel, part == Part::boot);
    Reply reply = exit_script && boots_from_disk(call, sel)
                      ? text_reply(exit_script(), sel.group->id + " (disk)")
                  : !sel ? error_reply(404, sel.reason)
                         : serve(*labels, sel);
    reply.match = match_outcome(sel);
    return reply;
}

Reply ipxe(const Call& call) {
    return with_selection(
        call, Part::boot,
        [](const Labels&, const Selection& sel) {
            return text_reply(ipxe_script(sel.profile->boot), sel.group->id);
        },
        &ipxe_exit_script);
}

Reply grub(const Call& call) {
    return with_selection(
        call, Part::boot,
        [](const Labels& labels, const Selection& sel) {
            const std::string* arch = labels.find("arch");
            const bool arm64 = arch && (*arch == "arm64" || *arch == "aarch64");
            return text_reply(grub_config(sel.profile->boot, arm64), sel.group->id);
        },
        &grub_exit_config);
}

Reply metadata(const Call& call) {
    return with_selection(call, Part::group, [&](const Labels& labels, const Selection& sel) {
        return text_reply(metadata_env(*sel.group, labels, call.query), sel.group->id);
    });
}

// The selected profile's named config, rendered with the group's data.
Reply template_reply(const Call& call, TemplateKind kind, const Labels& labels,
                     const Selection& sel) {
    const Snapshot& snapshot = call.snapshot;
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
    auto rendered = entry->parsed->render(
        template_data(*sel.group, labels, call.query, checkin_url(call, labels)));
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
Reply rendered(const Call& call, TemplateKind kind) {
    return with_selection(call, template_part(kind),
                          [&](const Labels& labels, const Selection& sel) {
                              return template_reply(call, kind, labels, sel);
                          });
}

Reply pixiecore(const Call& call, std::string_view mac_text) {
    auto decoded = percent_decode(mac_text, false);
    auto mac = decoded ? normalize_mac(*decoded) : std::nullopt;
    if (!mac) return error_reply(400, "malformed mac '" + std::string(mac_text) + "'");
    Labels labels;
    labels.set("mac", *mac);
    Labels scratch;
    auto sel = select(call.snapshot, matching_labels(call, labels, scratch), Part::boot);
    record(call, labels, &sel, true);
    Reply r = sel ? text_reply(pixiecore_json(sel.profile->boot), sel.group->id)
                  : error_reply(404, sel.reason);
    if (sel) r.content_type = "application/json";
    r.match = match_outcome(sel);
    return r;
}

// GET or POST /checkin?id=..&state=..&expires=..&sig=..: the machine the URL was signed for
// reports its state. Answered after the change is committed; anything else changes nothing.
Reply checkin(const Call& call) {
    inventory::Inventory* inv = call.inventory();
    if (!inv) return error_reply(404, "check-in needs the machine inventory (-state-path)");
    std::map<std::string, std::string, std::less<>> fields;
    const auto bad = for_each_query_pair(call.query, [&](std::string k, std::string v) {
        fields.try_emplace(std::move(k), std::move(v));
        return true;
    });
    const std::string& id = fields["id"];
    const std::string& state = fields["state"];
    const std::string& sig = fields["sig"];
    const std::string& expires = fields["expires"];
    std::int64_t expires_s = 0;
    const auto [end, ec] =
        std::from_chars(expires.data(), expires.data() + expires.size(), expires_s);
    if (bad || id.empty() || ec != std::errc() || end != expires.data() + expires.size() ||
        !inventory::valid_state(state) ||
        !inv->signer().verify(id, state, expires_s, sig, inventory::now_ms() / 1000))
        return error_reply(
            403, "check-in refused: the URL is not signed for this machine, or it expired");
    auto changed = inv->set_state(id, state, "checkin");
    if (!changed) {
        Reply r = error_reply(503, "check-in not recorded; try again");
        r.log_detail = changed.failure().reason;
        return r;
    }
    return text_reply("ok: " + id + " is " + state + "\n", "checkin " + id);
}

Reply file_reply(OpenAsset file, const std::string& relative, const ConditionalHeaders& cond);

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
    return file_reply(std::move(*file), *relative, cond);
}

// GET /ipxe-bin/NAME: an iPXE binary from -ipxe-dir, for UEFI HTTP boot clients (ProxyDHCP
// sends them here). Plain names only; the directory's own links are followed (open_entry).
Reply ipxe_binary(const AssetRoot* dir, std::string_view name, const ConditionalHeaders& cond) {
    if (!dir) return error_reply(404, "no iPXE directory is served (needs -proxy-dhcp)");
    auto relative = asset_relative_path(name);
    if (!relative || relative->find('/') != std::string::npos)
        return error_reply(404, "no such iPXE binary");
    auto file = dir->open_entry(*relative);
    if (!file) return error_reply(404, "no such iPXE binary");
    return file_reply(std::move(*file), *relative, cond);
}

Reply file_reply(OpenAsset file, const std::string& relative, const ConditionalHeaders& cond) {
    Reply r;
    r.plan = plan_asset(file.size, file.mtime_ns, cond);
    r.selected = relative;
    r.headers.emplace_back("ETag", asset_etag(file.size, file.mtime_ns));
    r.headers.emplace_back("Last-Modified",
                           http_date(static_cast<std::time_t>(file.mtime_ns / 1000000000LL)));
    r.headers.emplace_back("Accept-Ranges", "bytes");
    r.status = r.plan.status;
    if (!r.plan.content_range.empty())
        r.headers.emplace_back("Content-Range", r.plan.content_range);
    if (r.status == 200 || r.status == 206) {
        r.content_type = asset_content_type(relative);
        r.file = std::move(file);
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
            const StoreSource* source, const MachineServices* machines) {
    const auto [path, query] = path_and_query(request.target);
    const Call call{snapshot, request, path, query, machines};
    // The one write a machine makes: its check-in (POST, or GET for iPXE's imgfetch).
    if (path == "/checkin" && (request.method == "POST" || request.method == "GET"))
        return checkin(call);
    if (auto refused = refuse_method(request)) return std::move(*refused);

    if (path == "/ipxe") return ipxe(call);
    if (path == "/boot.ipxe" || path == "/boot.ipxe.0") {
        if (call.inventory() && !query.empty())
            if (auto labels = labels_from_query(query)) record(call, *labels, nullptr, false);
        return text_reply(chain_script());
    }
    if (path == "/cloud") return rendered(call, TemplateKind::cloud);
    if (path == "/ignition") return rendered(call, TemplateKind::ignition);
    if (path == "/generic") return rendered(call, TemplateKind::generic);

    if (path == "/metadata") return metadata(call);
    if (path == "/grub") return grub(call);
    if (path.starts_with("/pixiecore/v1/boot/"))
        return pixiecore(call, path.substr(std::string_view("/pixiecore/v1/boot/").size()));
    if (auto reply = asset_route(assets, path, request)) {
        // An asset URL that names its machine (?mac=, ?uuid=) counts as seeing it.
        if (call.inventory() && !query.empty() && reply->status < 400)
            if (auto labels = labels_from_query(query)) record(call, *labels, nullptr, false);
        return std::move(*reply);
    }
    if (path.starts_with("/ipxe-bin/"))
        return ipxe_binary(machines ? machines->ipxe_dir : nullptr, path.substr(10),
                           request.conditional);
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
                              const StoreSource* source, const MachineServices* machines) {
    return [&store, assets, source, machines](const MachineRequest& request) {
        thread_local const SnapshotHolder* holder = nullptr;
        thread_local std::uint64_t version = 0;
        thread_local std::shared_ptr<const Snapshot> snapshot;
        const std::uint64_t now = store.version();
        if (holder != &store || now != version || !snapshot) {
            snapshot = store.get();
            version = now;
            holder = &store;
        }
        return route(*snapshot, assets, request, source, machines);
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
