#include "render/render.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "template/go_format.hpp"

namespace bootcfg {

const std::string& chain_script() {
    static const std::string script =
        "#!ipxe\n"
        "chain ipxe?uuid=${uuid}&mac=${mac:hexhyp}&domain=${domain}&hostname=${hostname}"
        "&serial=${serial}&arch=${buildarch:uristring}\n";
    return script;
}

namespace {

// A profile's initrd entry as iPXE's `initrd` reads it: options, then the URL. `--name N`
// (-n N, --name=N) is kept apart, other options (--timeout T, --autofree, ...) as written.
struct InitrdEntry {
    std::string name, options, url;
};

InitrdEntry parse_initrd(const std::string& text) {
    std::vector<std::string> words;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t end = std::min(text.find(' ', i), text.size());
        if (end > i) words.push_back(text.substr(i, end - i));
        i = end + 1;
    }
    InitrdEntry e;
    std::size_t i = 0;
    for (; i < words.size() && words[i].size() > 1 && words[i][0] == '-'; ++i) {
        const std::string& w = words[i];
        if ((w == "--name" || w == "-n") && i + 1 < words.size()) {
            e.name = words[++i];
        } else if (w.starts_with("--name=")) {
            e.name = w.substr(7);
        } else {
            e.options += w + " ";
            if ((w == "--timeout" || w == "-t") && i + 1 < words.size())
                e.options += words[++i] + " ";
        }
    }
    for (; i < words.size(); ++i) e.url += (e.url.empty() ? "" : " ") + words[i];
    return e;
}

// Every initrd with a name: its own, or the last path segment of its URL (as iPXE would name
// it), made unique, in letters, digits, '.', '-', '_'.
std::vector<InitrdEntry> named_initrds(const BootSpec& boot) {
    std::vector<InitrdEntry> out;
    for (const auto& text : boot.initrd) out.push_back(parse_initrd(text));
    std::vector<std::string> taken;
    for (const auto& e : out)
        if (!e.name.empty()) taken.push_back(e.name);
    for (auto& e : out) {
        if (!e.name.empty()) continue;
        std::string path = e.url.substr(0, e.url.find_first_of("?# "));
        std::string base = path.substr(path.rfind('/') + 1);
        for (char& c : base)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
                c = '_';
        if (base.empty()) base = "initrd";
        std::string name = base;
        for (int n = 2; std::find(taken.begin(), taken.end(), name) != taken.end(); ++n)
            name = base + "-" + std::to_string(n);
        taken.push_back(name);
        e.name = name;
    }
    return out;
}

bool has_initrd_arg(const BootSpec& boot) {
    return std::any_of(boot.args.begin(), boot.args.end(),
                       [](const std::string& a) { return a.starts_with("initrd="); });
}

// For GRUB and Pixiecore, which load initrds their own way: the URLs, and the arguments without
// an `initrd=NAME` that names one of them (under GRUB's linuxefi the kernel's EFI stub would
// look for a file called NAME and stop). Each initrd entry is parsed once.
struct PlainBoot {
    std::vector<std::string> initrd_urls, args;
};

PlainBoot without_ipxe_names(const BootSpec& boot) {
    PlainBoot out;
    std::vector<std::string> names;
    for (const auto& text : boot.initrd) {
        auto e = parse_initrd(text);
        out.initrd_urls.push_back(std::move(e.url));
        if (!e.name.empty()) names.push_back(std::move(e.name));
    }
    for (const auto& a : boot.args)
        if (a.rfind("initrd=", 0) != 0 ||
            std::find(names.begin(), names.end(), a.substr(7)) == names.end())
            out.args.push_back(a);
    return out;
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

}  // namespace

// iPXE on UEFI hands an initrd to the kernel only when the command line names it
// (initrd=NAME): every initrd gets a name, and a profile without initrd= arguments of its own
// gets one per initrd, so one profile boots BIOS and UEFI clients alike.
std::string ipxe_script(const BootSpec& boot) {
    const auto initrds = named_initrds(boot);
    std::string out = "#!ipxe\nkernel ";
    out += boot.kernel;
    for (const auto& arg : boot.args) {
        out += ' ';
        out += arg;
    }
    if (!has_initrd_arg(boot))
        for (const auto& e : initrds) out += " initrd=" + e.name;
    out += '\n';
    for (const auto& e : initrds)
        out += "initrd " + e.options + "--name " + e.name + " " + e.url + "\n";
    out += "boot\n";
    return out;
}

std::string pixiecore_json(const BootSpec& boot) {
    nlohmann::ordered_json doc;
    doc["kernel"] = boot.kernel;
    const PlainBoot plain = without_ipxe_names(boot);
    doc["initrd"] = plain.initrd_urls;
    doc["cmdline"] = joined(plain.args);
    // Bytes that are not UTF-8 (from a request's labels) become U+FFFD, not an exception.
    return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

namespace {

// Inside GRUB's double quotes '"' and '\\' must be escaped ('$' stays: GRUB variables such as
// $net_default_server are used in kernel paths on purpose).
std::string grub_quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

}  // namespace

std::string grub_config(const BootSpec& boot, bool arm64) {
    std::string args;
    const PlainBoot plain = without_ipxe_names(boot);
    for (const auto& a : plain.args) args += " " + a;
    std::string initrds;
    for (const auto& i : plain.initrd_urls) initrds += " " + grub_quoted(i);
    auto entry = [&](const char* title, const char* linux_cmd, const char* initrd_cmd) {
        return std::string("menuentry \"") + title + "\" {\necho \"Loading kernel\"\n" + linux_cmd +
               " " + grub_quoted(boot.kernel) + args + "\necho \"Loading initrd\"\n" + initrd_cmd +
               " " + initrds + "\n}\n";
    };
    if (arm64) return "default=0\ntimeout=1\n" + entry("CoreOS (arm64)", "linux", "initrd");
    return "default=0\nfallback=1\ntimeout=1\n" + entry("CoreOS (EFI)", "linuxefi", "initrdefi") +
           entry("CoreOS (BIOS)", "linux", "initrd");
}

nlohmann::json template_data(const Group& group, const Labels& query, std::string_view raw_query,
                             std::string_view checkin_url) {
    nlohmann::json data = group.metadata.parsed();
    for (const auto& [key, value] : group.selector.entries()) {
        std::string k = key;
        std::transform(k.begin(), k.end(), k.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        data[k] = value;
    }
    nlohmann::json q = nlohmann::json::object();
    for (const auto& [key, value] : query.entries()) q[key] = value;
    data["request"] = {{"query", q}, {"raw_query", std::string(raw_query)}};
    if (!checkin_url.empty()) data["request"]["checkin_url"] = std::string(checkin_url);
    return data;
}

std::string ipxe_exit_script() {
    return "#!ipxe\necho bootcfg: no boot config for this machine: booting from disk\nexit\n";
}

std::string grub_exit_config() {
    return "echo 'bootcfg: no boot config for this machine: booting from disk'\nexit\n";
}

namespace {

bool shell_safe(const std::string& v) {
    return std::all_of(v.begin(), v.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' ||
               c == ',' || c == '@' || c == '%' || c == '+' || c == '=';
    });
}

// A POSIX shell variable name: [A-Za-z_][A-Za-z0-9_]*. Anything else (a label named "a;b",
// "x y" or "a-b") would be parsed as code by whoever sources the output, so it is dropped.
bool shell_identifier(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return (c < 0x80 && std::isalnum(c)) || c == '_'; });
}

void add_line(std::string name, const std::string& value, std::vector<std::string>& lines) {
    if (!shell_identifier(name)) return;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    name += '=';
    if (shell_safe(value)) {
        name += value;
    } else {
        name += '\'';
        for (char c : value) name += c == '\'' ? std::string("'\\''") : std::string(1, c);
        name += '\'';
    }
    lines.push_back(std::move(name));
}

void flatten_value(const std::string& name, const nlohmann::json& value,
                   std::vector<std::string>& lines);

void flatten(const nlohmann::json& obj, const std::string& prefix,
             std::vector<std::string>& lines) {
    for (const auto& [key, value] : obj.items()) flatten_value(prefix + key, value, lines);
}

void flatten_value(const std::string& name, const nlohmann::json& value,
                   std::vector<std::string>& lines) {
    if (value.is_object()) return flatten(value, name + "_", lines);
    if (!value.is_string() && !value.is_boolean() && !value.is_number()) return;
    add_line(name, template_detail::go_sprint_value(&value), lines);
}

std::string joined(std::vector<std::string>& lines) {
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& l : lines) {
        out += l;
        out += '\n';
    }
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

}  // namespace

// The same lines as metadata_env(template_data(...)), without building that JSON per request:
// metadata keys that a selector (lowercased) or "request" replaces are skipped whole.
std::string metadata_env(const Group& group, const Labels& query, std::string_view raw_query) {
    std::vector<std::string> lines;
    std::vector<std::string> selector_keys;
    for (const auto& [key, value] : group.selector.entries()) selector_keys.push_back(lower(key));
    const nlohmann::json metadata = group.metadata.parsed();
    for (const auto& [key, value] : metadata.items()) {
        if (key == "request" ||
            std::find(selector_keys.begin(), selector_keys.end(), key) != selector_keys.end())
            continue;
        flatten_value(key, value, lines);
    }
    std::size_t i = 0;
    for (const auto& [key, value] : group.selector.entries())
        add_line(selector_keys[i++], value, lines);
    for (const auto& [key, value] : query.entries()) add_line("request_query_" + key, value, lines);
    add_line("request_raw_query", std::string(raw_query), lines);
    return joined(lines);
}

std::string metadata_env(const nlohmann::json& data) {
    std::vector<std::string> lines;
    flatten(data, "", lines);
    return joined(lines);
}

}  // namespace bootcfg
