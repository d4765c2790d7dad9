// Loads a data directory into profiles, groups and templates. Two layouts, one model:
//  - matchbox: profiles/*.json, groups/*.json, ignition/<name>, cloud/<name>, generic/<name>;
//  - bootcfg v0.1: boot/{default,uuid/<UUID>,mac/<MAC>} and cloud/{default,uuid/<UUID>,mac/<MAC>},
//    where each machine key becomes a profile "bootcfg:<key>" and a group selecting it that
//    falls through per part (see match.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "store/data_files.hpp"
#include "store/parallel_for.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxDataFile = 16 * 1024 * 1024;

// Reads an open file to its end (at most 16 MiB) and closes it. Regular files only: one short
// read means end of file.
std::optional<std::string> read_to_end(int fd, std::string& reason) {
    std::string data;
    char buf[65536];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            reason = std::strerror(errno);
            ::close(fd);
            return std::nullopt;
        }
        data.append(buf, static_cast<std::size_t>(n));
        // More than one buffer's worth: a large file is refused by its size, not read to 16 MiB.
        struct stat st {};
        const bool too_large =
            data.size() > kMaxDataFile ||
            (data.size() == sizeof buf && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
             static_cast<std::size_t>(st.st_size) > kMaxDataFile);
        if (too_large) {
            reason = "file is larger than 16 MiB";
            ::close(fd);
            return std::nullopt;
        }
        if (n < static_cast<ssize_t>(sizeof buf)) break;
    }
    ::close(fd);
    return data;
}

int open_at(int dirfd, const char* name, std::string& reason) {
    const int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) reason = std::strerror(errno);
    return fd;
}

// A file readdir already reported as regular: no fstat (one syscall fewer per machine in a
// 100,000-file directory).
std::optional<std::string> read_regular_file(int dirfd, const char* name, std::string& reason) {
    const int fd = open_at(dirfd, name, reason);
    if (fd < 0) return std::nullopt;
    return read_to_end(fd, reason);
}

// Any path (relative to dirfd, or absolute with AT_FDCWD): checked to be a regular file first.
std::optional<std::string> read_data_file(int dirfd, const char* name, std::string& reason) {
    const int fd = open_at(dirfd, name, reason);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        reason = std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        reason = "not a regular file";
    } else {
        return read_to_end(fd, reason);
    }
    ::close(fd);
    return std::nullopt;
}
bool is_json_name(const std::string& name) {
    return name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0;
}

class DataDirLoader {
  public:
    DataDirLoader(const std::string& root, const Snapshot* previous)
        : root_(root), previous_(previous) {}

    StoreContents load() {
        std::error_code ec;
        if (!fs::is_directory(root_, ec)) {
            problem(root_, 0, ec ? ec.message() : "not a directory");
            return std::move(out_);
        }
        load_layout_section("boot");
        load_layout_section("cloud");
        for (auto& [key, entry] : layout_) add_layout_machine(key, std::move(entry), out_);
        for (auto kind : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic})
            load_templates(kind);
        load_profiles();
        load_groups();
        return std::move(out_);
    }

    // What one file of the matchbox layout holds now; nullopt for anything else (the bootcfg
    // layout merges two files per machine, a directory may hold many: those load everything).
    std::optional<LocationChange> reread(const std::string& path) {
        const std::string prefix = root_ + "/";
        if (!path.starts_with(prefix)) return std::nullopt;
        const std::string relative = path.substr(prefix.size());
        const auto slash = relative.find('/');
        if (slash == std::string::npos || relative.find('/', slash + 1) != std::string::npos)
            return std::nullopt;
        const std::string dir = relative.substr(0, slash), name = relative.substr(slash + 1);
        const bool json_dir = dir == "profiles" || dir == "groups";
        std::optional<TemplateKind> kind;
        for (auto k : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic})
            if (dir == template_dir(k)) kind = k;
        if (!json_dir && !kind) return std::nullopt;
        if (kind == TemplateKind::cloud && (name == "default" || name == "uuid" || name == "mac"))
            return std::nullopt;
        LocationChange change{path, {}, false};
        struct stat st {};
        if (hidden_name(name) || ::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR || hidden_name(name)) return change;
            return std::nullopt;  // EMFILE, EACCES on the way: let a full load report it
        }
        if (S_ISDIR(st.st_mode)) {
            if (!json_dir || !is_json_name(name)) return std::nullopt;  // a new directory
            problem(path, 0, "not a regular file");
            return finish(change);
        }
        const bool restorable = previous_->holds(path);
        auto restore = [&] { return restorable; };
        if (json_dir && !is_json_name(name)) {
            problem(path, 0, "ignored: not a .json file");
            return finish(change);
        }
        auto data = read(path, restore);
        if (!data) return finish(change, restorable);
        auto take = [&](auto parsed, auto& into) {
            if (!parsed) {
                failed(path, parsed.failure(), restore);
                return finish(change, restorable);
            }
            parsed->source = path;
            into.push_back(std::move(*parsed));
            return finish(change);
        };
        if (dir == "profiles")
            return take(parse_with_field_line(*data, parse_profile), out_.profiles);
        if (dir == "groups") return take(parse_with_field_line(*data, parse_group), out_.groups);
        return take(parse_template_entry(*kind, name, std::move(*data)),
                    out_.templates[static_cast<int>(*kind)]);
    }

  private:
    LocationChange finish(LocationChange& change, bool keep_previous = false) {
        change.now = std::move(out_);
        change.keep_previous = keep_previous;
        out_ = {};
        return std::move(change);
    }

    void problem(const std::string& path, int line, std::string reason, std::string field = {}) {
        out_.problems.push_back({path, line, std::move(reason), std::move(field)});
    }

    // Reports a broken file; when the previous snapshot had a good version from this same path,
    // keeps that (restore returns true) and says so.
    void failed(const std::string& path, const Failure& f, const std::function<bool()>& restore) {
        std::string reason = f.reason;
        if (previous_ && restore && restore()) reason += "; keeping the last good version";
        problem(path, f.line, std::move(reason), f.field);
    }

    struct DirEntry {
        std::string name;
        bool is_dir;
        bool is_regular;
        bool operator<(const DirEntry& o) const { return name < o.name; }
    };

    // Entries of a directory in name order. The type comes from readdir, so a large directory
    // costs no stat per file (only symlinks and unknown types are resolved).
    // An unreadable directory is reported unless `unreadable` is given to take the reason.
    std::vector<DirEntry> sorted_entries(const fs::path& dir, std::string* unreadable = nullptr) {
        std::vector<DirEntry> entries;
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            if (unreadable)
                *unreadable = std::strerror(errno);
            else
                problem(dir.string(), 0, std::strerror(errno));
            return entries;
        }
        while (const dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            bool is_dir = e->d_type == DT_DIR;
            bool is_regular = e->d_type == DT_REG;
            if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
                struct stat st {};
                const bool ok = ::fstatat(::dirfd(d), e->d_name, &st, 0) == 0;
                is_dir = ok && S_ISDIR(st.st_mode);
                is_regular = ok && S_ISREG(st.st_mode);
            }
            entries.push_back({name, is_dir, is_regular});
        }
        ::closedir(d);
        std::sort(entries.begin(), entries.end());
        return entries;
    }

    bool directory(const fs::path& dir) {
        std::error_code ec;
        if (!fs::exists(dir, ec)) return false;
        if (fs::is_directory(dir, ec)) return true;
        problem(dir.string(), 0, "expected a directory");
        return false;
    }

    std::optional<std::string> read(const std::string& path, const std::function<bool()>& restore) {
        Failure f;
        auto data = read_data_file(AT_FDCWD, path.c_str(), f.reason);
        if (!data) failed(path, f, restore);
        return data;
    }

    // ---- bootcfg layout

    // Names of a directory; when it cannot be read (EMFILE, EIO, permissions), the problem is
    // reported and keep(prefix) may put back what the previous snapshot had from beneath it.
    std::optional<std::vector<std::string>> names_or_keep(
        const fs::path& dir, const std::function<bool(const std::string&)>& keep) {
        std::string unreadable;
        auto entries = sorted_entries(dir, &unreadable);
        if (unreadable.empty()) {
            std::vector<std::string> names;
            for (auto& e : entries) names.push_back(std::move(e.name));
            return names;
        }
        const bool kept = previous_ && keep(dir.native() + "/");
        problem(dir.string(), 0,
                unreadable + (kept ? "; keeping the last good versions of its files" : ""));
        return std::nullopt;
    }

    // The bootcfg-layout entries of the previous snapshot whose files lie beneath prefix.
    bool keep_layout(const std::string& section, const std::string& prefix) {
        bool kept = false;
        auto selector_of = [&](const std::string& id) {
            const Group* g = previous_->group(id);
            return g && g->falls_through ? std::optional<Labels>(g->selector) : std::nullopt;
        };
        if (section == "boot") {
            for (const Profile* profile : previous_->profiles()) {
                const Profile& p = *profile;
                const std::string& id = p.id;
                if (!from_layout(id) || !p.has_boot || !p.source.starts_with(prefix)) continue;
                auto selector = selector_of(id);
                if (!selector) continue;
                LayoutMachine& entry = layout_[id.substr(std::string_view(kLayoutPrefix).size())];
                entry.selector = std::move(*selector);
                entry.boot = p.boot;
                entry.boot_source = p.source;
                kept = true;
            }
            return kept;
        }
        for (const TemplateEntry* cloud : previous_->templates(TemplateKind::cloud)) {
            const TemplateEntry& t = *cloud;
            const std::string& key = t.name;
            if (!t.source.starts_with(prefix)) continue;
            auto selector = selector_of(std::string(kLayoutPrefix) + key);
            if (!selector) continue;
            LayoutMachine& entry = layout_[key];
            entry.selector = std::move(*selector);
            entry.cloud_name = key;
            entry.cloud_source = t.source;
            out_.templates[static_cast<int>(TemplateKind::cloud)].push_back(t);
            kept = true;
        }
        return kept;
    }

    void load_layout_section(const std::string& section) {
        const fs::path dir = fs::path(root_) / section;
        if (!directory(dir)) return;
        const auto names = names_or_keep(
            dir, [&](const std::string& prefix) { return keep_layout(section, prefix); });
        if (!names) return;
        for (const auto& name : *names) {
            const fs::path path = dir / name;
            if (name == "default") {
                add_layout(section, path.string(), "default", Labels{});
            } else if (name == "uuid" || name == "mac") {
                load_layout_keyed(section, name, path);
            } else if (section == "boot" && !hidden_name(name)) {
                problem(path.string(), 0, "unexpected entry (expected default, uuid/, mac/)");
            }
        }
    }

    void load_layout_keyed(const std::string& section, const std::string& kind,
                           const fs::path& dir) {
        if (!directory(dir)) return;
        const auto names = names_or_keep(
            dir, [&](const std::string& prefix) { return keep_layout(section, prefix); });
        if (!names) return;
        for (const auto& name : *names) {
            if (hidden_name(name)) continue;
            const std::string path = (dir / name).string();
            auto key = kind == "mac" ? normalize_mac(name) : normalize_uuid(name);
            if (!key) {
                problem(
                    path, 0,
                    kind == "mac" ? "file name is not a MAC address" : "file name is not a UUID");
                continue;
            }
            Labels selector;
            selector.set(kind, *key);
            add_layout(section, path, kind + "/" + *key, std::move(selector));
        }
    }

    void add_layout(const std::string& section, const std::string& path, const std::string& key,
                    Labels selector) {
        LayoutMachine& entry = layout_[key];
        entry.selector = std::move(selector);
        const std::string& earlier = section == "boot" ? entry.boot_source : entry.cloud_source;
        if (!earlier.empty()) {
            problem(path, 0,
                    "same machine as " + earlier + " (names differ only in form); ignored");
            return;
        }
        const std::string id = std::string(kLayoutPrefix) + key;
        if (section == "boot") {
            auto restore = [&] {
                const Profile* old = previous_->profile(id);
                if (!old || !old->has_boot || old->source != path) return false;
                entry.boot = old->boot;
                entry.boot_source = path;
                return true;
            };
            auto data = read(path, restore);
            if (!data) return;
            auto spec = parse_with_field_line(*data, parse_layout_boot);
            if (!spec) return failed(path, spec.failure(), restore);
            entry.boot = std::move(*spec);
            entry.boot_source = path;
        } else {
            auto restore = [&] {
                const TemplateEntry* old = previous_->template_entry(TemplateKind::cloud, key);
                if (!old || old->source != path) return false;
                entry.cloud_name = key;
                entry.cloud_source = path;
                out_.templates[static_cast<int>(TemplateKind::cloud)].push_back(*old);
                return true;
            };
            auto data = read(path, restore);
            if (!data) return;
            entry.cloud_name = key;
            entry.cloud_source = path;
            // bootcfg v0.1 served cloud-configs as they are; they may hold Jinja or other "{{".
            out_.templates[static_cast<int>(TemplateKind::cloud)].push_back(
                TemplateEntry{key, std::move(*data), nullptr, path});
        }
    }

    // ---- matchbox layout

    void load_templates(TemplateKind kind) {
        const fs::path dir = fs::path(root_) / template_dir(kind);
        if (!directory(dir)) return;
        auto& map = out_.templates[static_cast<int>(kind)];
        const auto names = names_or_keep(dir, [&](const std::string& prefix) {
            bool kept = false;
            for (const TemplateEntry* t : previous_->templates(kind))
                if (t->source.starts_with(prefix) &&
                    t->source.find('/', prefix.size()) == std::string::npos) {
                    map.push_back(*t);
                    kept = true;
                }
            return kept;
        });
        if (!names) return;
        for (const auto& name : *names) {
            if (hidden_name(name)) continue;
            // cloud/default, cloud/uuid/ and cloud/mac/ belong to the bootcfg layout.
            if (kind == TemplateKind::cloud &&
                (name == "default" || name == "uuid" || name == "mac"))
                continue;
            const std::string path = (dir / name).string();
            std::error_code ec;
            if (fs::is_directory(path, ec)) continue;  // only the top level, like matchbox
            auto restore = [&] {
                const TemplateEntry* old = previous_->template_entry(kind, name);
                if (!old || old->source != path) return false;
                map.push_back(*old);
                return true;
            };
            auto data = read(path, restore);
            if (!data) continue;
            auto entry = parse_template_entry(kind, name, std::move(*data));
            if (!entry) {
                failed(path, entry.failure(), restore);
                continue;
            }
            entry->source = path;
            map.push_back(std::move(*entry));
        }
    }

    // Reads and parses every .json file of a directory on all cores (fleets keep one file per
    // machine, so this is most of the start-up time), then records results in name order.
    // for_each_previous(fn) calls fn on each item of the previous snapshot.
    template <class T, class Parse, class ForEachPrevious>
    void load_json_dir(const char* dirname, Parse parse, ForEachPrevious for_each_previous,
                       std::vector<T>& into) {
        const fs::path dir = fs::path(root_) / dirname;
        if (!directory(dir)) return;
        const std::string prefix = dir.native() + "/";
        // Last good versions, by the file they came from.
        auto keep_previous = [&](auto wanted) {
            bool kept = false;
            if (previous_)
                for_each_previous([&](const T& item) {
                    if (wanted(item.source)) {
                        into.push_back(item);
                        kept = true;
                    }
                });
            return kept;
        };
        std::string unreadable;
        auto entries = sorted_entries(dir, &unreadable);
        if (!unreadable.empty()) {
            const bool kept = keep_previous(
                [&](const std::string& source) { return source.starts_with(prefix); });
            problem(dir.string(), 0,
                    unreadable + (kept ? "; keeping the last good versions of its files" : ""));
            return;
        }
        std::vector<std::string> paths;
        std::vector<char> regular;  // a FIFO or directory named *.json is reported, never opened
        for (const auto& e : entries) {
            if (hidden_name(e.name)) continue;
            const bool json_name = is_json_name(e.name);
            if (e.is_dir && !json_name) continue;  // operators keep notes and archives in subdirs
            std::string path = prefix + e.name;
            if (!json_name) {
                problem(path, 0, "ignored: not a .json file");
                continue;
            }
            paths.push_back(std::move(path));
            regular.push_back(e.is_regular);
        }
        decltype(entries)().swap(entries);
        const int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const std::size_t name_at = dir.native().size() + 1;
        auto failures = parse_in_place(paths.size(), into, [&](std::size_t i, T& slot) {
            Failure failure;
            if (!regular[i]) {
                failure.reason = "not a regular file";
            } else if (auto data =
                           read_regular_file(dirfd, paths[i].c_str() + name_at, failure.reason)) {
                auto parsed = parse_with_field_line(*data, parse);
                if (parsed) {
                    slot = std::move(*parsed);
                    slot.source = std::move(paths[i]);  // only a failure's path is used later
                    return std::unique_ptr<Failure>();
                }
                failure = parsed.failure();
            }
            return std::make_unique<Failure>(std::move(failure));
        });
        if (dirfd >= 0) ::close(dirfd);
        for (std::size_t i = 0; i < paths.size(); ++i)
            if (failures[i])
                failed(paths[i], *failures[i], [&] {
                    return keep_previous(
                        [&](const std::string& source) { return source == paths[i]; });
                });
    }

    void load_profiles() {
        load_json_dir<Profile>(
            "profiles", parse_profile, [&](const auto& fn) { previous_->for_each_profile(fn); },
            out_.profiles);
    }

    void load_groups() {
        load_json_dir<Group>(
            "groups", parse_group, [&](const auto& fn) { previous_->for_each_group(fn); },
            out_.groups);
    }

    std::string root_;
    const Snapshot* previous_;
    StoreContents out_;
    std::map<std::string, LayoutMachine> layout_;
};

}  // namespace

StoreContents DirectorySource::load(const Snapshot* previous) const {
    return DataDirLoader(root_, previous).load();
}

std::optional<std::vector<LocationChange>> DirectorySource::read_changes(
    const std::vector<std::string>& locations, const Snapshot& previous) const {
    std::vector<LocationChange> changes;
    for (const auto& location : locations) {
        auto change = DataDirLoader(root_, &previous).reread(location);
        if (!change) return std::nullopt;
        changes.push_back(std::move(*change));
    }
    return changes;
}

}  // namespace bootcfg
