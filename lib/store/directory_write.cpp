// The data directory's write side: where an object's file is, and replacing or removing it
// atomically and durably, checked against the revision the writer last saw.
#include <filesystem>

#include "files/atomic_file.hpp"
#include "store/store.hpp"

namespace bootcfg {

DirectorySource::DirectorySource(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string DirectorySource::locate(const ObjectRef& ref, const Snapshot& current) const {
    // The file the served version came from (its name may differ from the id), else the file
    // name matchbox would use.
    if (ref.kind == ObjectKind::groups) {
        if (const Group* g = current.group(ref.name); g && !g->source.empty() && !g->falls_through)
            return g->source;
    } else if (ref.kind == ObjectKind::profiles) {
        if (const Profile* p = current.profile(ref.name); p && !p->source.empty()) return p->source;
    }
    if (is_template(ref.kind))
        return root_ + "/" + template_dir(template_kind(ref.kind)) + "/" + ref.name;
    return root_ + "/" + kind_name(ref.kind) + "/" + ref.name + ".json";
}

std::optional<std::string> DirectorySource::read(const std::string& location) const {
    std::string bytes;
    if (!read_whole(location, bytes)) return std::nullopt;
    return bytes;
}

WriteOutcome DirectorySource::write(const std::string& location, ObjectKind kind,
                                    const std::optional<std::string>& bytes,
                                    const std::optional<std::string>& expected) const {
    std::lock_guard guard(write_mutex_);
    if (expected) {
        const auto now = read(location);
        const std::string revision = now ? stored_revision(kind, *now) : "";
        if (revision != *expected) return {WriteOutcome::conflict, "", revision};
    }
    std::string error;
    if (!bytes) {
        if (!remove_file_durable(location, error)) return {WriteOutcome::failed, error, ""};
        return {};
    }
    if (!make_directories(std::filesystem::path(location).parent_path().string(), error) ||
        !write_file_atomic(location, *bytes, error))
        return {WriteOutcome::failed, error, ""};
    return {};
}

}  // namespace bootcfg
