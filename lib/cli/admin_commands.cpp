#include "cli/admin_commands.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "admin/resources.hpp"
#include "cli/flags.hpp"
#include "client/admin_client.hpp"
#include "files/atomic_file.hpp"
#include "labels/labels.hpp"
#include "model/limits.hpp"
#include "store/data_files.hpp"

namespace bootcfg {

using nlohmann::json;

namespace {

struct Invocation {
    ClientOptions client;
    std::string token_file;
    std::string output = "table";
    std::string file;      // -f
    std::string if_match;  // --if-match
    bool replace = false;  // create: replace an existing object
    std::vector<std::string> selectors;
    std::string state, seen_since;  // machine list filters
    std::vector<std::string> labels;
    // machine set-bmc, next-boot
    BmcFlags bmc;
    bool uefi = false, persistent = false;
    std::vector<std::string> words;  // positional
};

Invocation parse(const std::vector<std::string>& args,
                 const std::function<const char*(const char*)>& getenv) {
    Invocation inv;
    auto env = [&](const char* name) {
        const char* v = getenv(name);
        return std::string(v ? v : "");
    };
    inv.client.endpoint = env("BOOTCFG_ENDPOINT");
    if (inv.client.endpoint.empty()) inv.client.endpoint = "unix:/run/bootcfg/admin.sock";
    inv.client.ca_file = env("BOOTCFG_CA_FILE");
    inv.client.cert_file = env("BOOTCFG_CERT_FILE");
    inv.client.key_file = env("BOOTCFG_KEY_FILE");
    inv.token_file = env("BOOTCFG_TOKEN_FILE");
    const ParsedFlags f = parse_flags(args, {{"--endpoint"},
                                             {"--ca-file"},
                                             {"--cert-file"},
                                             {"--key-file"},
                                             {"--token-file"},
                                             {"-o", true, "--output"},
                                             {"-f", true, "--file"},
                                             {"--if-match"},
                                             {"--selector"},
                                             {"--state"},
                                             {"--label"},
                                             {"--seen-since"},
                                             {"--bmc"},
                                             {"--user"},
                                             {"--password-file"},
                                             {"--ipmi-workarounds"},
                                             {"--cipher-suite"},
                                             {"--bmc-ca-file"},
                                             {"--insecure", false},
                                             {"--uefi", false},
                                             {"--persistent", false},
                                             {"--replace", false}});
    inv.words = f.words;
    inv.client.endpoint = f.get("--endpoint", inv.client.endpoint);
    try {
        check_endpoint(inv.client.endpoint);
    } catch (const ConnectError& e) {
        throw UsageError{std::string("--endpoint: ") + e.what()};
    }
    inv.client.ca_file = f.get("--ca-file", inv.client.ca_file);
    inv.client.cert_file = f.get("--cert-file", inv.client.cert_file);
    inv.client.key_file = f.get("--key-file", inv.client.key_file);
    inv.token_file = f.get("--token-file", inv.token_file);
    inv.output = f.get("-o", inv.output);
    inv.file = f.get("-f");
    inv.if_match = f.get("--if-match");
    inv.selectors = f.all("--selector");
    inv.replace = f.flag("--replace");
    inv.state = f.get("--state");
    inv.labels = f.all("--label");
    inv.seen_since = f.get("--seen-since");
    inv.bmc = BmcFlags::from(f);
    inv.uefi = f.flag("--uefi");
    inv.persistent = f.flag("--persistent");
    if (inv.output != "table" && inv.output != "json")
        throw UsageError{"-o " + inv.output + ": expected table or json"};
    if (inv.client.cert_file.empty() != inv.client.key_file.empty())
        throw UsageError{"--cert-file and --key-file go together"};
    if (!inv.token_file.empty()) inv.client.token = token_from_file(inv.token_file);
    return inv;
}

std::string encode(const std::string& s) {
    return percent_encode(s);
}

std::string joined(const json& object) {
    std::string s;
    if (!object.is_object()) return s;
    for (const auto& [k, v] : object.items())
        s += (s.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    return s;
}

std::string str(const json& j, const char* key) {
    if (!j.is_object()) return "";
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// j[key] when j is an object holding it, null otherwise (const operator[] on a missing key
// is undefined behaviour in nlohmann::json).
const json& at(const json& j, const char* key) {
    static const json null;
    if (!j.is_object()) return null;
    auto it = j.find(key);
    return it == j.end() ? null : *it;
}

struct Context {
    Invocation inv;
    std::FILE* out;
    std::FILE* err;

    ClientResponse call(const std::string& method, const std::string& target,
                        const std::string& body = {},
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
        if (!inv.if_match.empty()) headers.emplace_back("If-Match", "\"" + inv.if_match + "\"");
        return admin_request(inv.client, method, target, body, headers);
    }

    // The server's answer to a failed call: its message and field, exit 1.
    int refused(const ClientResponse& r, const std::string& context = "") {
        std::string message = "HTTP " + std::to_string(r.status);
        try {
            auto j = parse_json_bounded(r.body);
            message = str(j, "error");
            if (!str(j, "field").empty()) message += " (field " + str(j, "field") + ")";
        } catch (const json::exception&) {
            if (!r.body.empty()) message += ": " + r.body.substr(0, r.body.find('\n'));
        }
        std::fprintf(err, "bootcfg: %s%s\n", context.c_str(), message.c_str());
        return kExitRefused;
    }
};

int list(Context& c, const std::string& kind) {
    std::string target = "/api/v1/" + kind;
    if (!c.inv.selectors.empty()) {
        if (kind != "groups") throw UsageError{"--selector filters groups only"};
        std::string q;
        for (const auto& s : c.inv.selectors)
            q += (q.empty() ? "?" : "&") + ("selector=" + encode(s));
        target += q;
    }
    auto r = c.call("GET", target);
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json") {
        std::fputs(r.body.c_str(), c.out);
        return kExitOk;
    }
    const json items = parse_json_bounded(r.body).value("items", json::array());
    std::vector<std::vector<std::string>> rows;
    if (kind == "groups") {
        rows.push_back({"ID", "PROFILE", "SELECTOR", "REVISION", "NAME"});
        for (const auto& g : items)
            rows.push_back({str(g, "id"), str(g, "profile"),
                            g.contains("selector") ? joined(g["selector"]) : "(default)",
                            str(g, "revision"), str(g, "name")});
    } else if (kind == "profiles") {
        rows.push_back({"ID", "KERNEL", "TEMPLATES", "REVISION", "NAME"});
        for (const auto& p : items) {
            std::string templates;
            for (const char* k : {"ignition_id", "cloud_id", "generic_id"})
                if (!str(p, k).empty()) templates += (templates.empty() ? "" : ",") + str(p, k);
            rows.push_back({str(p, "id"), p.contains("boot") ? str(p["boot"], "kernel") : "-",
                            templates.empty() ? "-" : templates, str(p, "revision"),
                            str(p, "name")});
        }
    } else {
        rows.push_back({"NAME", "SIZE", "REVISION"});
        for (const auto& t : items)
            rows.push_back(
                {str(t, "name"), std::to_string(t.value("size", 0)), str(t, "revision")});
    }
    print_table(c.out, rows);
    return kExitOk;
}

int describe(Context& c, const std::string& kind, const std::string& name) {
    auto r = c.call("GET", "/api/v1/" + kind + "/" + encode(name));
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json" || kind == "groups" || kind == "profiles") {
        std::fputs(r.body.c_str(), c.out);
    } else {
        std::fwrite(r.body.data(), 1, r.body.size(), c.out);
    }
    if (c.inv.output == "table") std::fprintf(c.err, "revision %s\n", r.etag.c_str());
    return kExitOk;
}

int put(Context& c, const std::string& kind, std::string name, bool create) {
    if (c.inv.file.empty()) throw UsageError{"-f FILE is required"};
    std::string body;
    if (c.inv.file == "-") {
        std::ostringstream s;
        char buf[65536];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, stdin)) > 0;)
            s.write(buf, static_cast<std::streamsize>(n));
        body = s.str();
    } else if (!read_whole(c.inv.file, body)) {
        throw UsageError{"-f " + c.inv.file + ": cannot read it"};
    }
    if (name.empty()) {  // groups and profiles name themselves
        try {
            name = str(parse_json_bounded(body), "id");
        } catch (const json::exception& e) {
            std::fprintf(c.err, "bootcfg: %s: not JSON: %s\n", c.inv.file.c_str(),
                         json_error_text(e).c_str());
            return kExitUsage;
        }
        if (name.empty()) {
            std::fprintf(c.err, "bootcfg: %s: no \"id\" field\n", c.inv.file.c_str());
            return kExitUsage;
        }
    }
    std::vector<std::pair<std::string, std::string>> headers;
    if (create && !c.inv.replace && c.inv.if_match.empty())
        headers.emplace_back("If-None-Match", "*");
    auto r = c.call("PUT", "/api/v1/" + kind + "/" + encode(name), body, headers);
    if (r.status != 200 && r.status != 201) return c.refused(r);
    if (c.inv.output == "json")
        std::fputs(r.body.c_str(), c.out);
    else
        std::fprintf(c.out, "%s %s/%s (revision %s)\n", r.status == 201 ? "created" : "replaced",
                     kind.c_str(), name.c_str(), r.etag.c_str());
    return kExitOk;
}

int remove(Context& c, const std::string& kind, const std::string& name) {
    auto r = c.call("DELETE", "/api/v1/" + kind + "/" + encode(name));
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json")
        std::fputs(r.body.c_str(), c.out);
    else
        std::fprintf(c.out, "deleted %s/%s\n", kind.c_str(), name.c_str());
    return kExitOk;
}

// "12 s ago", "3 min ago", "2 h ago", "5 d ago".
std::string ago(std::int64_t ms) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    const std::int64_t s = std::max<std::int64_t>(0, (now - ms) / 1000);
    if (s < 120) return std::to_string(s) + " s ago";
    if (s < 7200) return std::to_string(s / 60) + " min ago";
    if (s < 172800) return std::to_string(s / 3600) + " h ago";
    return std::to_string(s / 86400) + " d ago";
}

// One event of the stream as a line: machines with their state, objects with who wrote them.
std::string event_line(const std::string& type, const json& data) {
    if (type.starts_with("machine")) {
        std::string line = type + " " + str(data, "id");
        if (type != "machine.forgotten") {
            line += " " + str(data, "state");
            if (!str(data, "group").empty())
                line += " " + str(data, "group") + " -> " + str(data, "profile");
            line += " " + str(data, "last_endpoint");
        }
        return line;
    }
    if (type.starts_with("object."))
        return type + " " + str(data, "kind") + "/" + str(data, "name") + " " +
               str(data, "revision") + " by " + str(data, "who");
    return type + " " + data.dump();
}

// bootcfg machine watch: GET /api/v1/events, one line per event until the server or Ctrl-C
// ends it; -o json prints {"id", "event", "data"} per line.
int watch(Context& c) {
    ClientOptions options = c.inv.client;
    options.timeout = std::chrono::seconds(60);  // the server says something every 15 s
    std::string pending, type, data, id;
    auto dispatch = [&] {
        if (data.empty()) return;
        json parsed;
        try {
            parsed = parse_json_bounded(data);
        } catch (const json::exception&) {
            parsed = data;
        }
        if (c.inv.output == "json") {
            std::fprintf(c.out, "%s\n",
                         json{{"id", id}, {"event", type}, {"data", parsed}}
                             .dump(-1, ' ', false, json::error_handler_t::replace)
                             .c_str());
        } else {
            const std::time_t now = std::time(nullptr);
            char when[16];
            std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
            std::fprintf(c.out, "%s %s\n", when, event_line(type, parsed).c_str());
        }
        std::fflush(c.out);
    };
    auto sink = [&](std::string_view piece) {
        pending.append(piece);
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) {
                dispatch();
                type.clear(), data.clear(), id.clear();
            } else if (line.starts_with("event: ")) {
                type = line.substr(7);
            } else if (line.starts_with("data: ")) {
                data += line.substr(6);
            } else if (line.starts_with("id: ")) {
                id = line.substr(4);
            }
        }
        return pending.size() < (1u << 20);  // a line longer than 1 MiB is not an event stream
    };
    StreamingRequest stream;
    auto r = stream.run(options, "GET", "/api/v1/events", "", {}, sink);
    if (r.status != 200) return c.refused(r);
    return kExitOk;
}

// bootcfg machine list|describe|set-state|forget|watch: the inventory through the admin API.
int machine(Context& c, const std::vector<std::string>& w) {
    const std::string verb = w.size() > 1 ? w[1] : "";
    auto id = [&]() -> std::string {
        const std::size_t want = verb == "set-state" ? 4 : 3;
        if (w.size() != want)
            throw UsageError{"machine " + verb + " takes " +
                             (verb == "set-state" ? "MAC STATE" : "MAC (or uuid:UUID)")};
        return w[2];
    };
    const bool filters = !c.inv.state.empty() || !c.inv.labels.empty() || !c.inv.seen_since.empty();
    if (filters && verb != "list")
        throw UsageError{"--state, --label and --seen-since filter machine list only"};
    if (c.inv.bmc.any() && verb != "set-bmc")
        throw UsageError{
            "--bmc, --user, --password-file, --ipmi-workarounds, --cipher-suite, "
            "--bmc-ca-file and --insecure go with machine set-bmc"};
    auto printed = [&](const ClientResponse& r, const std::string& line) {
        if (r.status != 200) return c.refused(r);
        if (c.inv.output == "json")
            std::fputs(r.body.c_str(), c.out);
        else
            std::fprintf(c.out, "%s\n", line.c_str());
        return static_cast<int>(kExitOk);
    };
    if (verb == "list" && w.size() == 2) {
        std::string q;
        auto add = [&](const std::string& k, const std::string& v) {
            q += (q.empty() ? "?" : "&") + k + "=" + encode(v);
        };
        if (!c.inv.state.empty()) add("state", c.inv.state);
        for (const auto& l : c.inv.labels) add("label", l);
        if (!c.inv.seen_since.empty()) add("seen-since", c.inv.seen_since);
        auto r = c.call("GET", "/api/v1/machines" + q);
        if (r.status != 200) return c.refused(r);
        if (c.inv.output == "json") {
            std::fputs(r.body.c_str(), c.out);
            return kExitOk;
        }
        const json items = parse_json_bounded(r.body).value("items", json::array());
        std::vector<std::vector<std::string>> rows = {{"MACHINE", "STATE", "HOSTNAME", "ARCH", "IP",
                                                       "GROUP -> PROFILE", "LAST SEEN", "BOOTS"}};
        std::map<std::string, int> per_state;
        for (const auto& m : items) {
            ++per_state[str(m, "state")];
            const std::string group = str(m, "group");
            rows.push_back({str(m, "id"), str(m, "state"), str(m, "hostname"), str(m, "arch"),
                            str(m, "client_ip"),
                            group.empty() ? "-" : group + " -> " + str(m, "profile"),
                            ago(m.value("last_seen_ms", std::int64_t{0})),
                            std::to_string(m.value("boot_count", 0))});
        }
        print_table(c.out, rows);
        std::string counts;
        for (const auto& [state, n] : per_state)
            counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + state;
        std::fprintf(c.err, "%zu machines%s%s\n", items.size(), counts.empty() ? "" : ": ",
                     counts.c_str());
        return kExitOk;
    }
    if (verb == "watch" && w.size() == 2) return watch(c);
    if (verb == "describe" || verb == "get") {
        auto r = c.call("GET", "/api/v1/machines/" + encode(id()));
        if (r.status != 200) return c.refused(r);
        std::fputs(r.body.c_str(), c.out);
        return kExitOk;
    }
    if (verb == "set-state") {
        const std::string machine_id = id();
        auto r =
            c.call("PATCH", "/api/v1/machines/" + encode(machine_id), json{{"state", w[3]}}.dump());
        return printed(r, "machine " + machine_id + " is " + w[3]);
    }
    if (verb == "set-bmc") {
        const std::string machine_id = id();
        if (c.inv.bmc.url.empty()) throw UsageError{"machine set-bmc needs --bmc URL"};
        const std::string body = c.inv.bmc.body();
        if (c.inv.bmc.insecure)
            std::fprintf(c.err,
                         "note: --insecure: bootcfgd will not verify this BMC's certificate, so "
                         "anyone on the path can pose as it and read its password\n");
        auto r = c.call("PUT", "/api/v1/machines/" + encode(machine_id) + "/bmc", body);
        return printed(r, "machine " + machine_id + ": BMC " + c.inv.bmc.url);
    }
    if (verb == "remove-bmc") {
        const std::string machine_id = id();
        auto r = c.call("DELETE", "/api/v1/machines/" + encode(machine_id) + "/bmc");
        return printed(r, "machine " + machine_id + ": BMC removed");
    }
    if (verb == "forget") {
        const std::string machine_id = id();
        auto r = c.call("DELETE", "/api/v1/machines/" + encode(machine_id));
        return printed(r, "forgot machine " + machine_id);
    }
    throw UsageError{"unknown command 'machine " + verb +
                     "' (list, describe, set-state, forget, watch, set-bmc, remove-bmc)"};
}

// bootcfg power MAC on|off|cycle|reset|soft|status: through the machine's BMC, by bootcfgd.
int power(Context& c, const std::vector<std::string>& w) {
    if (w.size() != 3)
        throw UsageError{"power takes MAC and one of on, off, cycle, reset, soft, status"};
    const std::string& action = w[2];
    static const std::vector<std::string> actions = {"on", "off", "cycle", "reset", "soft"};
    const bool status = action == "status";
    if (!status && std::find(actions.begin(), actions.end(), action) == actions.end())
        throw UsageError{"power " + action + ": expected on, off, cycle, reset, soft or status"};
    const std::string target = "/api/v1/machines/" + encode(w[1]) + "/power";
    auto r =
        status ? c.call("GET", target) : c.call("POST", target, json{{"action", action}}.dump());
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json") {
        std::fputs(r.body.c_str(), c.out);
        return kExitOk;
    }
    const json j = parse_json_bounded(r.body);
    std::fprintf(c.out, "%s%s: power is %s (%s)\n", str(j, "machine").c_str(),
                 status ? "" : (" " + action).c_str(), str(j, "power").c_str(),
                 str(j, "bmc").c_str());
    return kExitOk;
}

// bootcfg next-boot MAC [pxe|http|disk [--uefi] [--persistent]]: the BMC's boot override.
int next_boot(Context& c, const std::vector<std::string>& w) {
    if (w.size() != 2 && w.size() != 3)
        throw UsageError{"next-boot takes MAC [pxe|http|disk] [--uefi] [--persistent]"};
    const std::string target = "/api/v1/machines/" + encode(w[1]) + "/next-boot";
    ClientResponse r;
    if (w.size() == 2) {
        if (c.inv.uefi || c.inv.persistent)
            throw UsageError{"--uefi and --persistent go with a device: next-boot MAC pxe --uefi"};
        r = c.call("GET", target);
    } else {
        const std::string& device = w[2];
        if (device != "pxe" && device != "http" && device != "disk")
            throw UsageError{"next-boot " + device + ": expected pxe, http or disk"};
        r = c.call("PUT", target,
                   json{{"device", device}, {"uefi", c.inv.uefi}, {"persistent", c.inv.persistent}}
                       .dump());
    }
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json") {
        std::fputs(r.body.c_str(), c.out);
        return kExitOk;
    }
    const json j = parse_json_bounded(r.body);
    const json& next = at(j, "next_boot");
    std::string said = "no override (the firmware's boot order)";
    if (at(next, "device").is_string())
        said = str(next, "device") + (at(next, "uefi") == true ? " (UEFI)" : "") +
               (at(next, "persistent") == true ? ", every boot" : ", next boot only");
    std::fprintf(c.out, "%s: next boot %s (%s)\n", str(j, "machine").c_str(), said.c_str(),
                 str(j, "bmc").c_str());
    return kExitOk;
}

int select(Context& c, const std::vector<std::string>& labels) {
    if (labels.empty()) throw UsageError{"select needs labels, e.g. select mac=52:54:00:12:34:56"};
    std::string q;
    for (const auto& l : labels) {
        const auto eq = l.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError{"label '" + l + "' is not KEY=VALUE"};
        q += (q.empty() ? "?" : "&") + encode(l.substr(0, eq)) + "=" + encode(l.substr(eq + 1));
    }
    auto r = c.call("GET", "/api/v1/select" + q);
    if (r.status != 200) return c.refused(r);
    if (c.inv.output == "json") {
        std::fputs(r.body.c_str(), c.out);
        return kExitOk;
    }
    const json j = parse_json_bounded(r.body);
    std::vector<std::vector<std::string>> rows{{"PART", "GROUP", "PROFILE", "NOTE"}};
    for (const char* part : {"boot", "ignition", "cloud", "generic", "metadata"}) {
        const json& s = at(at(j, "selected"), part);
        rows.push_back({part, str(s, "group").empty() ? "-" : str(s, "group"),
                        str(s, "profile").empty() ? "-" : str(s, "profile"), str(s, "reason")});
    }
    print_table(c.out, rows);
    std::fprintf(c.out, "\nmatching groups, best first (%s):\n", str(j, "rule").c_str());
    std::vector<std::vector<std::string>> groups{{"GROUP", "PROFILE", "SELECTOR SIZE", "SOURCE"}};
    const json& matching = at(j, "matching_groups");
    for (const auto& g : matching.is_array() ? matching : json::array())
        groups.push_back({str(g, "group"), str(g, "profile"),
                          std::to_string(g.value("selector_size", 0)), str(g, "source")});
    print_table(c.out, groups);
    return kExitOk;
}

// One object `apply` writes, with the revision the server gives those bytes.
struct ApplyItem {
    std::string kind, name, body, file, revision;
};

std::string read_file_or_throw(const std::string& path) {
    std::string body;
    if (!read_whole(path, body)) throw UsageError{"-f " + path + ": cannot read it"};
    return body;
}

// A profile or group file: its kind, name and revision, by the server's own parsers.
ApplyItem object_item(const std::string& path, const std::string& body,
                      const std::string& kind_hint) {
    ApplyItem item{kind_hint, "", body, path, ""};
    if (item.kind.empty()) {
        json doc;
        try {
            doc = parse_json_bounded(body);
        } catch (const json::exception& e) {
            throw UsageError{"-f " + path + ": not JSON: " + json_error_text(e)};
        }
        if (!doc.is_object()) throw UsageError{"-f " + path + ": not a profile or a group"};
        item.kind = doc.contains("profile") ? "groups" : "profiles";
    }
    Failure failure;
    if (item.kind == "groups") {
        const auto g = parse_group(body);
        if (g)
            item.name = g->id, item.revision = revision(*g);
        else
            failure = g.failure();
    } else {
        const auto p = parse_profile(body);
        if (p)
            item.name = p->id, item.revision = revision(*p);
        else
            failure = p.failure();
    }
    if (item.name.empty())
        throw UsageError{"-f " + path + ": " +
                         (failure.reason.empty() ? "no \"id\" field" : failure.reason)};
    return item;
}

// What `apply -f` names, in the order references need: templates, then profiles, then groups.
std::vector<ApplyItem> apply_items(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return {object_item(path, read_file_or_throw(path), "")};
    std::vector<ApplyItem> items;
    auto files_in = [&](const std::string& sub) {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(fs::path(path) / sub, ec)) {
            const std::string name = e.path().filename().string();
            if (!e.is_regular_file() || name.empty() || name[0] == '.' || name.back() == '~')
                continue;
            out.push_back(e.path().string());
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    for (const char* kind : {"ignition", "cloud", "generic"})
        for (const auto& file : files_in(kind)) {
            const std::string name = fs::path(file).filename().string();
            const std::string body = read_file_or_throw(file);
            const auto entry =
                parse_template_entry(template_kind(*kind_from_name(kind)), name, body);
            if (!entry) throw UsageError{"-f " + file + ": " + entry.failure().reason};
            items.push_back({kind, name, body, file, revision(*entry)});
        }
    for (const char* kind : {"profiles", "groups"})
        for (const auto& file : files_in(kind))
            if (file.ends_with(".json"))
                items.push_back(object_item(file, read_file_or_throw(file), kind));
    if (items.empty())
        throw UsageError{"-f " + path +
                         ": nothing to apply (ignition/, cloud/, generic/, profiles/, groups/)"};
    return items;
}

// Creates what is missing, replaces what differs, leaves what is the same; stops at the first
// refusal (the server's reason, naming the file). Running it twice changes nothing.
int apply(Context& c) {
    if (c.inv.file.empty()) throw UsageError{"apply needs -f DIR|FILE"};
    int created = 0, updated = 0, unchanged = 0;
    for (const auto& item : apply_items(c.inv.file)) {
        const std::string target = "/api/v1/" + item.kind + "/" + encode(item.name);
        const auto current = c.call("GET", target);
        if (current.status != 200 && current.status != 404) return c.refused(current);
        if (current.status == 200 && current.etag == item.revision) {
            ++unchanged;
            std::fprintf(c.out, "unchanged %s/%s\n", item.kind.c_str(), item.name.c_str());
            continue;
        }
        std::vector<std::pair<std::string, std::string>> headers;
        if (current.status == 200)
            headers.emplace_back("If-Match", "\"" + current.etag + "\"");
        else
            headers.emplace_back("If-None-Match", "*");
        const auto r = admin_request(c.inv.client, "PUT", target, item.body, headers);
        if (r.status != 200 && r.status != 201) return c.refused(r, "apply " + item.file + ": ");
        ++(current.status == 200 ? updated : created);
        std::fprintf(c.out, "%s %s/%s (revision %s)\n",
                     current.status == 200 ? "updated  " : "created  ", item.kind.c_str(),
                     item.name.c_str(), r.etag.c_str());
    }
    std::fprintf(c.err, "apply: %d created, %d updated, %d unchanged\n", created, updated,
                 unchanged);
    return kExitOk;
}

}  // namespace

bool is_admin_command(const std::string& word) {
    return word == "group" || word == "profile" || word == "ignition" || word == "cloud" ||
           word == "generic" || word == "select" || word == "apply" || word == "machine" ||
           word == "power" || word == "next-boot";
}

std::string admin_usage() {
    return "Admin API commands (bootcfgd -admin-address):\n"
           "  bootcfg group|profile create -f FILE [--replace] [--if-match REV]\n"
           "  bootcfg group|profile list [--selector KEY=VALUE]   (selector: groups only)\n"
           "  bootcfg group|profile describe ID\n"
           "  bootcfg group|profile delete ID [--if-match REV]\n"
           "  bootcfg ignition|cloud|generic put NAME -f FILE [--if-match REV]\n"
           "  bootcfg ignition|cloud|generic list | describe NAME | delete NAME\n"
           "  bootcfg apply -f DIR|FILE                create or update templates, profiles, "
           "groups "
           "(in that\n"
           "                                           order; idempotent; DIR in the data dir's "
           "layout)\n"
           "  bootcfg select KEY=VALUE...              which group and profile a machine gets, and "
           "why\n"
           "  bootcfg machine list [--state S] [--label KEY=VALUE] [--seen-since 10m]\n"
           "  bootcfg machine describe MAC | set-state MAC STATE | forget MAC | watch\n"
           "                                           the machine inventory (-state-path)\n"
           "  bootcfg machine set-bmc MAC --bmc ipmi://HOST[:PORT] --user U --password-file F\n"
           "                  [--ipmi-workarounds opensesspriv,...] [--cipher-suite 3|17]\n"
           "  bootcfg machine set-bmc MAC --bmc redfish://HOST[:PORT][/redfish/v1/Systems/ID]\n"
           "                  --user U --password-file F [--bmc-ca-file F | --insecure]\n"
           "  bootcfg machine remove-bmc MAC           a machine's BMC, kept by bootcfgd (password "
           "never shown)\n"
           "  bootcfg power MAC on|off|cycle|reset|soft|status\n"
           "  bootcfg next-boot MAC [pxe|http|disk [--uefi] [--persistent]]\n"
           "                                           through the BMC, by bootcfgd (audited)\n"
           "Flags: --endpoint URL (https://HOST:PORT, http://127.0.0.1:PORT, unix:/PATH; default\n"
           "  unix:/run/bootcfg/admin.sock), --ca-file, --cert-file, --key-file, --token-file,\n"
           "  -o table|json. Environment: BOOTCFG_ENDPOINT, BOOTCFG_CA_FILE, BOOTCFG_CERT_FILE,\n"
           "  BOOTCFG_KEY_FILE, BOOTCFG_TOKEN_FILE (flags win).\n"
           "Exit codes: 0 ok, 1 the server said no, 2 usage, 3 cannot connect.\n";
}

int run_admin_command(const std::vector<std::string>& args,
                      const std::function<const char*(const char*)>& getenv, std::FILE* out,
                      std::FILE* err) {
    try {
        Context c{parse(args, getenv), out, err};
        const auto& w = c.inv.words;
        if (w.empty()) throw UsageError{"missing command"};
        const std::string& noun = w[0];
        if (noun == "select") return select(c, {w.begin() + 1, w.end()});
        if (noun == "machine") return machine(c, w);
        if (noun == "power") return power(c, w);
        if (noun == "next-boot") return next_boot(c, w);
        if (noun == "apply") {
            if (w.size() != 1) throw UsageError{"apply takes no words: bootcfg apply -f DIR|FILE"};
            return apply(c);
        }
        if (w.size() < 2) throw UsageError{noun + " needs a verb"};
        const std::string& verb = w[1];
        const bool object = noun == "group" || noun == "profile";
        const std::string kind = noun == "group" ? "groups" : noun == "profile" ? "profiles" : noun;
        auto arg = [&](const char* what) -> std::string {
            if (w.size() != 3) throw UsageError{noun + " " + verb + " takes one " + what};
            return w[2];
        };
        if (verb == "list" && w.size() == 2) return list(c, kind);
        if (verb == "describe" || verb == "get")
            return describe(c, kind, arg(object ? "ID" : "NAME"));
        if (verb == "delete") return remove(c, kind, arg(object ? "ID" : "NAME"));
        if (object && verb == "create" && w.size() == 2) return put(c, kind, "", true);
        if (!object && verb == "put") return put(c, kind, arg("NAME"), false);
        throw UsageError{"unknown command '" + noun + " " + verb + "'"};
    } catch (const UsageError& e) {
        std::fprintf(err, "bootcfg: %s (bootcfg help)\n", e.what());
        return kExitUsage;
    } catch (const ConnectError& e) {
        std::fprintf(err, "bootcfg: %s\n", e.what());
        return kExitConnect;
    } catch (const json::exception& e) {
        std::fprintf(err, "bootcfg: the server's answer is not the expected JSON: %s\n",
                     json_error_text(e).c_str());
        return kExitRefused;
    }
}

}  // namespace bootcfg
