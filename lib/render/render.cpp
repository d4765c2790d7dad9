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

std::string join_args(const BootSpec& boot) {
    std::string out;
    for (const auto& arg : boot.args) {
        if (!out.empty()) out += ' ';
        out += arg;
    }
    return out;
}

std::string ipxe_script(const BootSpec& boot) {
    std::string out = "#!ipxe\nkernel ";
    out += boot.kernel;
    for (const auto& arg : boot.args) {
        out += ' ';
        out += arg;
    }
    out += '\n';
    for (const auto& initrd : boot.initrd) {
        out += "initrd ";
        out += initrd;
        out += '\n';
    }
    out += "boot\n";
    return out;
}

std::string pixiecore_json(const BootSpec& boot) {
    nlohmann::ordered_json doc;
    doc["kernel"] = boot.kernel;
    doc["initrd"] = boot.initrd;
    doc["cmdline"] = join_args(boot);
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
    for (const auto& a : boot.args) args += " " + a;
    std::string initrds;
    for (const auto& i : boot.initrd) initrds += " " + grub_quoted(i);
    auto entry = [&](const char* title, const char* linux_cmd, const char* initrd_cmd) {
        return std::string("menuentry \"") + title + "\" {\necho \"Loading kernel\"\n" + linux_cmd +
               " " + grub_quoted(boot.kernel) + args + "\necho \"Loading initrd\"\n" + initrd_cmd +
               " " + initrds + "\n}\n";
    };
    if (arm64) return "default=0\ntimeout=1\n" + entry("CoreOS (arm64)", "linux", "initrd");
    return "default=0\nfallback=1\ntimeout=1\n" + entry("CoreOS (EFI)", "linuxefi", "initrdefi") +
           entry("CoreOS (BIOS)", "linux", "initrd");
}

nlohmann::json template_data(const Group& group, const Labels& query, std::string_view raw_query) {
    nlohmann::json data = group.metadata.is_object() ? group.metadata : nlohmann::json::object();
    for (const auto& [key, value] : group.selector.entries()) {
        std::string k = key;
        std::transform(k.begin(), k.end(), k.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        data[k] = value;
    }
    nlohmann::json q = nlohmann::json::object();
    for (const auto& [key, value] : query.entries()) q[key] = value;
    data["request"] = {{"query", q}, {"raw_query", std::string(raw_query)}};
    return data;
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
    if (group.metadata.is_object()) {
        for (const auto& [key, value] : group.metadata.items()) {
            if (key == "request" ||
                std::find(selector_keys.begin(), selector_keys.end(), key) != selector_keys.end())
                continue;
            flatten_value(key, value, lines);
        }
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
