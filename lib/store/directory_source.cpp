// Loads the bootcfg layout: {boot,cloud}/default, {boot,cloud}/uuid/<UUID>, {boot,cloud}/mac/<MAC>.
// Each machine key (default, a uuid, a mac) becomes one profile and one group selecting it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "store/store.hpp"

namespace bootcfg {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxDataFile = 16 * 1024 * 1024;

std::string errno_text(int err) {
    return std::strerror(err);
}

// Reads a whole regular file; on failure returns nullopt and sets reason.
std::optional<std::string> read_data_file(const std::string& path, std::string& reason) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        reason = errno_text(errno);
        return std::nullopt;
    }
    struct stat st {};
    std::optional<std::string> out;
    if (::fstat(fd, &st) != 0) {
        reason = errno_text(errno);
    } else if (!S_ISREG(st.st_mode)) {
        reason = "not a regular file";
    } else if (static_cast<std::size_t>(st.st_size) > kMaxDataFile) {
        reason = "file is larger than 16 MiB";
    } else {
        std::string data(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t got = 0;
        while (got < data.size()) {
            const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got != data.size()) {
            reason = "file changed size while being read";
        } else {
            out = std::move(data);
        }
    }
    ::close(fd);
    return out;
}

std::string json_reason(const std::exception& e) {
    // nlohmann prefixes "[json.exception.parse_error.101] "; the rest is the useful part.
    std::string what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) {
        auto close = what.find("] ");
        if (close != std::string::npos) what.erase(0, close + 2);
    }
    return what;
}

// {"kernel": "...", "initrd": [...], "cmdline": {"key": "value", "flag": ""}}
// cmdline keys come out sorted: bootcfg v0.1 rendered the map with Go's template range, which
// visits map keys in order, so sorted is what existing fleets boot with.
std::optional<BootSpec> parse_boot_config(const std::string& text, std::string& reason) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        reason = json_reason(e);
        return std::nullopt;
    }
    if (!doc.is_object()) {
        reason = "boot config must be a JSON object";
        return std::nullopt;
    }
    BootSpec spec;
    for (const auto& [key, value] : doc.items()) {
        if (key == "kernel") {
            if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
                reason = "field 'kernel' must be a non-empty string";
                return std::nullopt;
            }
            spec.kernel = value.get<std::string>();
        } else if (key == "initrd") {
            if (!value.is_array()) {
                reason = "field 'initrd' must be a list of strings";
                return std::nullopt;
            }
            for (const auto& item : value) {
                if (!item.is_string()) {
                    reason = "field 'initrd' must be a list of strings";
                    return std::nullopt;
                }
                spec.initrd.push_back(item.get<std::string>());
            }
        } else if (key == "cmdline") {
            if (!value.is_object()) {
                reason = "field 'cmdline' must be an object of strings";
                return std::nullopt;
            }
            for (const auto& [arg, arg_value] : value.items()) {
                if (arg_value.is_string()) {
                    const auto& s = arg_value.get_ref<const std::string&>();
                    spec.args.push_back(s.empty() ? arg : arg + "=" + s);
                } else if (arg_value.is_number() || arg_value.is_boolean()) {
                    // true: bare flag; false: left out; numbers written as JSON writes them.
                    if (arg_value.is_boolean()) {
                        if (arg_value.get<bool>()) spec.args.push_back(arg);
                    } else {
                        spec.args.push_back(arg + "=" + arg_value.dump());
                    }
                } else {
                    reason = "cmdline value for '" + arg + "' must be a string";
                    return std::nullopt;
                }
            }
        } else {
            reason = "unknown field '" + key + "' (expected kernel, initrd, cmdline)";
            return std::nullopt;
        }
    }
    if (spec.kernel.empty()) {
        reason = "missing field 'kernel'";
        return std::nullopt;
    }
    return spec;
}

struct MachineEntry {
    Labels selector;
    std::optional<BootSpec> boot;
    std::string boot_source;
    std::string cloud_name;
    std::string cloud_source;
};

bool hidden(const std::string& name) {
    // Editors and atomic writers leave dotfiles and backups beside real configs.
    return name.empty() || name[0] == '.' || name.back() == '~';
}

class LayoutLoader {
  public:
    LayoutLoader(const std::string& root, const Snapshot* previous)
        : root_(root), previous_(previous) {}

    StoreContents load() {
        std::error_code ec;
        if (!fs::is_directory(root_, ec)) {
            problem(root_, ec ? ec.message() : "not a directory");
            return std::move(out_);
        }
        for (const char* section : {"boot", "cloud"}) load_section(section);
        for (auto& [id, entry] : entries_) emit(id, entry);
        return std::move(out_);
    }

  private:
    void problem(const std::string& path, std::string reason) {
        out_.problems.push_back({path, std::move(reason)});
    }

    void load_section(const std::string& section) {
        const fs::path dir = fs::path(root_) / section;
        std::error_code ec;
        if (!fs::exists(dir, ec)) return;
        if (!fs::is_directory(dir, ec)) {
            problem(dir.string(), "expected a directory");
            return;
        }
        for (const auto& name : sorted_names(dir)) {
            const fs::path path = dir / name;
            if (name == "default") {
                add(section, path.string(), "default", Labels{});
            } else if (name == "uuid" || name == "mac") {
                load_keyed(section, name, path);
            } else if (!hidden(name)) {
                problem(path.string(), "unexpected entry (expected default, uuid/, mac/)");
            }
        }
    }

    void load_keyed(const std::string& section, const std::string& kind, const fs::path& dir) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            problem(dir.string(), "expected a directory");
            return;
        }
        for (const auto& name : sorted_names(dir)) {
            if (hidden(name)) continue;
            const std::string path = (dir / name).string();
            auto key = kind == "mac" ? normalize_mac(name) : normalize_uuid(name);
            if (!key) {
                problem(path, kind == "mac" ? "file name is not a MAC address"
                                            : "file name is not a UUID");
                continue;
            }
            Labels selector;
            selector.set(kind, *key);
            add(section, path, kind + "/" + *key, std::move(selector));
        }
    }

    std::vector<std::string> sorted_names(const fs::path& dir) {
        std::vector<std::string> names;
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            names.push_back(it->path().filename().string());
        if (ec) problem(dir.string(), ec.message());
        std::sort(names.begin(), names.end());
        return names;
    }

    void add(const std::string& section, const std::string& path, const std::string& id,
             Labels selector) {
        MachineEntry& entry = entries_[id];
        entry.selector = std::move(selector);
        std::string reason;
        auto data = read_data_file(path, reason);
        if (!data) return failed(section, path, id, reason);
        const std::string& earlier = section == "boot" ? entry.boot_source : entry.cloud_source;
        if (!earlier.empty()) {
            problem(path, "same machine as " + earlier + " (names differ only in form); ignored");
            return;
        }
        if (section == "boot") {
            auto spec = parse_boot_config(*data, reason);
            if (!spec) return failed(section, path, id, reason);
            entry.boot = std::move(*spec);
            entry.boot_source = path;
        } else {
            entry.cloud_name = "cloud/" + id;
            entry.cloud_source = path;
            out_.cloud_configs[entry.cloud_name] = std::move(*data);
        }
    }

    void emit(const std::string& id, MachineEntry& entry) {
        if (!entry.boot && entry.cloud_name.empty()) return;
        Profile profile;
        profile.id = id;
        profile.name = id;
        profile.has_boot = entry.boot.has_value();
        if (entry.boot) profile.boot = std::move(*entry.boot);
        profile.cloud_id = entry.cloud_name;
        profile.source = entry.boot_source.empty() ? entry.cloud_source : entry.boot_source;
        Group group;
        group.id = id;
        group.name = id;
        group.profile = id;
        group.selector = std::move(entry.selector);
        group.falls_through = true;
        group.source = profile.source;
        out_.profiles.push_back(std::move(profile));
        out_.groups.push_back(std::move(group));
    }

    // The previous snapshot's version of a machine's part, when it came from this same file.
    bool keep_previous(const std::string& section, const std::string& path, const std::string& id,
                       MachineEntry& entry) {
        if (!previous_) return false;
        const Profile* old = previous_->profile(id);
        if (!old) return false;
        if (section == "boot") {
            if (!old->has_boot || old->source != path) return false;
            entry.boot = old->boot;
            entry.boot_source = path;
            return true;
        }
        const std::string name = "cloud/" + id;
        const std::string* text = previous_->cloud_config(name);
        if (!text) return false;
        entry.cloud_name = name;
        entry.cloud_source = path;
        out_.cloud_configs[name] = *text;
        return true;
    }

    void failed(const std::string& section, const std::string& path, const std::string& id,
                std::string reason) {
        MachineEntry& entry = entries_[id];
        if (keep_previous(section, path, id, entry)) reason += "; keeping the last good version";
        problem(path, std::move(reason));
    }

    std::string root_;
    const Snapshot* previous_;
    StoreContents out_;
    std::map<std::string, MachineEntry> entries_;
};

}  // namespace

StoreContents DirectorySource::load(const Snapshot* previous) const {
    return LayoutLoader(root_, previous).load();
}

}  // namespace bootcfg
