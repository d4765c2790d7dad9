// Parsing and validating data files (profiles, groups, bootcfg-layout boot configs): one set of
// rules for files read from the data dir and documents written through the admin API.
#include "store/data_files.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

#include "labels/labels.hpp"
#include "model/limits.hpp"
#include "template/template.hpp"

namespace bootcfg {

using nlohmann::json;

namespace {

// A member of a JSON object without copying it; null when absent.
const json& member(const json& doc, const char* key) {
    static const json null;
    auto it = doc.find(key);
    return it == doc.end() ? null : *it;
}

std::optional<std::string> string_field(const json& doc, const char* key, Failure& failure) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return std::string();
    if (!it->is_string()) {
        failure.field = key;
        failure.reason = std::string("field '") + key + "' must be a string";
        return std::nullopt;
    }
    return it->get<std::string>();
}

bool string_list(const json& value, const char* key, std::vector<std::string>& out,
                 Failure& failure) {
    if (value.is_null()) return true;
    if (!value.is_array()) {
        failure.field = key;
        failure.reason = std::string("field '") + key + "' must be a list of strings";
        return false;
    }
    for (const auto& item : value) {
        if (!item.is_string()) {
            failure.field = key;
            failure.reason = std::string("field '") + key + "' must be a list of strings";
            return false;
        }
        out.push_back(item.get<std::string>());
    }
    return true;
}

// The bootcfg v0.1 "cmdline" map: key sorted (Go's template range over a map), empty value or
// true gives a bare flag, false leaves the key out.
bool cmdline_map(const json& value, std::vector<std::string>& args, Failure& failure) {
    if (value.is_null()) return true;
    if (!value.is_object()) {
        failure.field = "cmdline";
        failure.reason = "field 'cmdline' must be an object of strings";
        return false;
    }
    for (const auto& [arg, v] : value.items()) {
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            args.push_back(s.empty() ? arg : arg + "=" + s);
        } else if (v.is_boolean()) {
            if (v.get<bool>()) args.push_back(arg);
        } else if (v.is_number()) {
            args.push_back(arg + "=" + v.dump());
        } else {
            failure.field = "cmdline." + arg;
            failure.reason = "cmdline value for '" + arg + "' must be a string";
            return false;
        }
    }
    return true;
}

// Kernel, initrd and argument values are written verbatim into iPXE and GRUB scripts, one
// command per line: a newline (or any other control byte) in them would add commands.
bool control_free(const BootSpec& spec, const std::string& prefix, const char* args_field,
                  Failure& failure) {
    auto clean = [](const std::string& v) {
        return std::none_of(v.begin(), v.end(),
                            [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    };
    auto refuse = [&](std::string field) {
        failure.field = prefix + field;
        failure.reason =
            "field '" + failure.field + "' contains a control character (newline, CR, NUL, ...)";
        return false;
    };
    if (!clean(spec.kernel)) return refuse("kernel");
    for (const auto& i : spec.initrd)
        if (!clean(i)) return refuse("initrd");
    for (const auto& a : spec.args)
        if (!clean(a)) return refuse(args_field);
    return true;
}

}  // namespace

int line_of_field(const std::string& text, const std::string& field) {
    std::string key = field.substr(field.rfind('.') + 1);
    if (const auto bracket = key.find('['); bracket != std::string::npos) key.resize(bracket);
    if (key.empty()) return 0;
    const std::string quoted = "\"" + key + "\"";
    for (std::size_t at = text.find(quoted); at != std::string::npos;
         at = text.find(quoted, at + 1)) {
        std::size_t after = at + quoted.size();
        while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after])))
            ++after;
        if (after < text.size() && text[after] == ':')
            return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
    }
    return 0;
}

namespace {

bool unknown_fields(const json& doc, std::initializer_list<const char*> known, Failure& failure) {
    for (const auto& [key, _] : doc.items()) {
        bool ok = false;
        for (const char* k : known) ok = ok || key == k;
        if (!ok) {
            std::string list;
            for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
            failure.field = key;
            failure.reason = "unknown field '" + key + "' (expected " + list + ")";
            return true;
        }
    }
    return false;
}

}  // namespace

namespace {

// The parsers below fill `failure` as they go; the public functions wrap them in a Result.
std::optional<json> json_of(const std::string& text, Failure& failure) {
    if (json_too_deep(text)) {
        failure.reason = "JSON nested deeper than " + std::to_string(kMaxNesting) + " levels";
        return std::nullopt;
    }
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        const std::size_t upto = std::min<std::size_t>(e.byte, text.size());
        failure.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + upto, '\n'));
        std::string what = e.what();
        const auto colon = what.find(": ", what.find("parse error"));
        failure.reason =
            "invalid JSON: " + (colon == std::string::npos ? what : what.substr(colon + 2));
        return std::nullopt;
    } catch (const json::exception& e) {
        // Not a syntax error but still unusable, e.g. a number beyond float64 ("1e400").
        failure.reason = "invalid JSON: " + json_error_text(e);
        return std::nullopt;
    }
}

// bootcfg v0.1 boot config: {"kernel", "initrd": [...], "cmdline": {...}}.
std::optional<BootSpec> layout_boot_of(const std::string& text, Failure& failure) {
    auto doc = json_of(text, failure);
    if (!doc) return std::nullopt;
    if (!doc->is_object()) {
        failure.reason = "boot config must be a JSON object";
        return std::nullopt;
    }
    if (unknown_fields(*doc, {"kernel", "initrd", "cmdline"}, failure)) return std::nullopt;
    BootSpec spec;
    auto kernel = string_field(*doc, "kernel", failure);
    if (!kernel) return std::nullopt;
    if (kernel->empty()) {
        failure.field = "kernel";
        failure.reason = "missing field 'kernel'";
        return std::nullopt;
    }
    spec.kernel = *kernel;
    if (!string_list(member(*doc, "initrd"), "initrd", spec.initrd, failure)) return std::nullopt;
    if (!cmdline_map(member(*doc, "cmdline"), spec.args, failure)) return std::nullopt;
    if (!control_free(spec, "", "cmdline", failure)) return std::nullopt;
    return spec;
}

// matchbox profile: {"id", "name", "boot": {"kernel", "initrd", "args", "cmdline"},
// "ignition_id", "cloud_id", "generic_id"}.
std::optional<Profile> profile_of(const std::string& text, Failure& failure) {
    auto doc = json_of(text, failure);
    if (!doc) return std::nullopt;
    if (!doc->is_object()) {
        failure.reason = "profile must be a JSON object";
        return std::nullopt;
    }
    if (unknown_fields(*doc, {"id", "name", "boot", "ignition_id", "cloud_id", "generic_id"},
                       failure))
        return std::nullopt;
    Profile p;
    auto id = string_field(*doc, "id", failure);
    auto name = id ? string_field(*doc, "name", failure) : std::nullopt;
    auto ign = name ? string_field(*doc, "ignition_id", failure) : std::nullopt;
    auto cloud = ign ? string_field(*doc, "cloud_id", failure) : std::nullopt;
    auto generic = cloud ? string_field(*doc, "generic_id", failure) : std::nullopt;
    if (!generic) return std::nullopt;
    if (id->empty()) {
        failure.field = "id";
        failure.reason = "missing field 'id'";
        return std::nullopt;
    }
    p.id = *id;
    p.name = *name;
    p.ignition_id = *ign;
    p.cloud_id = *cloud;
    p.generic_id = *generic;
    const json& boot = member(*doc, "boot");
    if (!boot.is_null()) {
        if (!boot.is_object()) {
            failure.field = "boot";
            failure.reason = "field 'boot' must be an object";
            return std::nullopt;
        }
        Failure inner;
        if (unknown_fields(boot, {"kernel", "initrd", "args", "cmdline"}, inner)) {
            failure.field = "boot." + inner.field;
            failure.reason = "boot: " + inner.reason;
            return std::nullopt;
        }
        auto in_boot = [&] {
            failure.field = "boot." + failure.field;
            return std::nullopt;
        };
        auto kernel = string_field(boot, "kernel", failure);
        if (!kernel) return in_boot();
        p.boot.kernel = *kernel;
        if (!string_list(member(boot, "initrd"), "initrd", p.boot.initrd, failure) ||
            !string_list(member(boot, "args"), "args", p.boot.args, failure) ||
            !cmdline_map(member(boot, "cmdline"), p.boot.args, failure))
            return in_boot();
        if (!control_free(p.boot, "boot.", "args", failure)) return std::nullopt;
        p.has_boot = !p.boot.kernel.empty();
        if (!p.has_boot && (!p.boot.initrd.empty() || !p.boot.args.empty())) {
            failure.field = "boot.kernel";
            failure.reason = "boot has initrd or args but no 'kernel'";
            return std::nullopt;
        }
    }
    return p;
}

// matchbox group: {"id", "name", "profile", "selector": {...}, "metadata": {...}}.
std::optional<Group> group_of(const std::string& text, Failure& failure) {
    auto doc = json_of(text, failure);
    if (!doc) return std::nullopt;
    if (!doc->is_object()) {
        failure.reason = "group must be a JSON object";
        return std::nullopt;
    }
    if (unknown_fields(*doc, {"id", "name", "profile", "selector", "metadata"}, failure))
        return std::nullopt;
    Group g;
    auto id = string_field(*doc, "id", failure);
    auto name = id ? string_field(*doc, "name", failure) : std::nullopt;
    auto profile = name ? string_field(*doc, "profile", failure) : std::nullopt;
    if (!profile) return std::nullopt;
    if (id->empty()) {
        failure.field = "id";
        failure.reason = "missing field 'id'";
        return std::nullopt;
    }
    if (profile->empty()) {
        failure.field = "profile";
        failure.reason = "missing field 'profile'";
        return std::nullopt;
    }
    g.id = *id;
    g.name = *name;
    g.profile = *profile;
    const json& selector = member(*doc, "selector");
    if (!selector.is_null() && !selector.is_object()) {
        failure.field = "selector";
        failure.reason = "field 'selector' must be an object of strings";
        return std::nullopt;
    }
    if (selector.is_object()) {
        for (const auto& [key, value] : selector.items()) {
            if (!value.is_string()) {
                failure.field = "selector." + key;
                failure.reason = "selector '" + key + "' must be a string";
                return std::nullopt;
            }
            const auto& v = value.get_ref<const std::string&>();
            auto normalized = normalize_label(key, v);
            if (!normalized) {
                failure.field = "selector.mac";
                failure.reason = "selector mac '" + v + "' is not a MAC address";
                return std::nullopt;
            }
            g.selector.set(key, std::move(*normalized));
        }
    }
    json& metadata = (*doc)["metadata"];
    if (!metadata.is_object() && !metadata.is_null()) {
        failure.field = "metadata";
        failure.reason = "field 'metadata' must be an object";
        return std::nullopt;
    }
    g.metadata = Metadata(as_go_json(std::move(metadata)));

    return g;
}

std::optional<TemplateEntry> template_entry_of(TemplateKind kind, const std::string& name,
                                               std::string text, Failure& failure) {
    TemplateEntry entry{name, std::move(text), nullptr, {}};
    if (kind == TemplateKind::ignition && is_raw_ignition(name)) {
        if (!json_of(entry.text, failure)) return std::nullopt;
        return entry;
    }
    auto parsed = Template::parse(entry.text);
    if (!parsed) {
        failure = parsed.failure();
        failure.reason = "template: " + failure.reason;
        return std::nullopt;
    }
    entry.parsed = std::make_shared<const Template>(std::move(*parsed));
    return entry;
}

template <class T, class Parse>
Result<T> as_result(Parse parse) {
    Failure failure;
    std::optional<T> value = parse(failure);
    if (!value) return failure;
    return std::move(*value);
}

}  // namespace

bool is_raw_ignition(const std::string& name) {
    return name.ends_with(".ign") || name.ends_with(".ignition");
}

Result<json> parse_json(const std::string& text) {
    return as_result<json>([&](Failure& f) { return json_of(text, f); });
}
Result<BootSpec> parse_layout_boot(const std::string& text) {
    return as_result<BootSpec>([&](Failure& f) { return layout_boot_of(text, f); });
}
Result<Profile> parse_profile(const std::string& text) {
    return as_result<Profile>([&](Failure& f) { return profile_of(text, f); });
}
Result<Group> parse_group(const std::string& text) {
    return as_result<Group>([&](Failure& f) { return group_of(text, f); });
}
Result<TemplateEntry> parse_template_entry(TemplateKind kind, const std::string& name,
                                           std::string text) {
    return as_result<TemplateEntry>(
        [&](Failure& f) { return template_entry_of(kind, name, std::move(text), f); });
}

bool hidden_name(std::string_view name) {
    return name.empty() || name.front() == '.' || name.back() == '~';
}

void add_layout_machine(const std::string& key, LayoutMachine machine, StoreContents& out) {
    if (!machine.boot && machine.cloud_name.empty()) return;
    Profile profile;
    profile.id = std::string(kLayoutPrefix) + key;
    profile.name = profile.id;
    profile.has_boot = machine.boot.has_value();
    if (machine.boot) profile.boot = std::move(*machine.boot);
    profile.cloud_id = machine.cloud_name;
    profile.source = machine.boot_source.empty() ? machine.cloud_source : machine.boot_source;
    Group group;
    group.id = profile.id;
    group.name = profile.id;
    group.profile = profile.id;
    group.selector = std::move(machine.selector);
    group.falls_through = true;
    group.source = profile.source;
    out.profiles.push_back(std::move(profile));
    out.groups.push_back(std::move(group));
}

}  // namespace bootcfg
