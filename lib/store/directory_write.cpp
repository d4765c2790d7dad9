// The data directory's write side: where an object's file is, and replacing or removing it
// atomically and durably, checked against the revision the writer last saw.
#include <filesystem>
#include <memory>

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
    return root_ + "/" + data_dir_path(ref);
}

std::optional<std::string> DirectorySource::read(const std::string& location) const {
    std::string bytes;
    if (!read_whole(location, bytes)) return std::nullopt;
    return bytes;
}

WriteOutcome DirectorySource::write(const std::vector<ObjectWrite>& writes) const {
    std::lock_guard guard(write_mutex_);
    WriteOutcome outcome;
    std::vector<std::unique_ptr<AtomicFile>> staged;
    std::vector<const std::string*> removals;
    for (const ObjectWrite& w : writes) {
        const auto now = read(w.location);
        if (w.expected) {
            const std::string revision = now ? stored_revision(w.kind, *now) : "";
            if (revision != *w.expected)
                return {WriteOutcome::conflict, "", revision, w.location, {}};
        }
        if (!w.bytes) {
            if (now) removals.push_back(&w.location);
            continue;
        }
        if (now == w.bytes) {
            outcome.unchanged.push_back(w.location);
            continue;
        }
        auto file = std::make_unique<AtomicFile>();
        Result<void> stored =
            make_directories(std::filesystem::path(w.location).parent_path().string());
        if (stored) stored = file->open(w.location);
        if (stored) stored = file->write(*w.bytes);
        if (!stored) return {WriteOutcome::failed, stored.failure().reason, "", w.location, {}};
        staged.push_back(std::move(file));
    }
    for (auto& file : staged)
        if (auto done = file->commit(); !done)
            return {WriteOutcome::failed, done.failure().reason, "", "", {}};
    for (const std::string* location : removals)
        if (auto done = remove_file_durable(*location); !done)
            return {WriteOutcome::failed, done.failure().reason, "", *location, {}};
    return outcome;
}

}  // namespace bootcfg
