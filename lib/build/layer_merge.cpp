#include "build/layer_merge.hpp"

#include <algorithm>

#include "build/build.hpp"

namespace bootcfg {

namespace {

std::pair<std::string, std::string> split_last(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {"", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
}

}  // namespace

bool LayerMerge::is_whiteout(const std::string& path) {
    return split_last(path).second.rfind(".wh.", 0) == 0;
}

void LayerMerge::hide_lower(const std::string& dir, std::uint32_t layer, bool self) {
    if (self) {
        auto it = index_.find(dir);
        if (it != index_.end() && it->second.layer < layer) index_.erase(it);
    }
    // Children sort between "dir/" and "dir0" ('0' follows '/'); the root's children are all.
    auto it = dir.empty() ? index_.upper_bound("") : index_.lower_bound(dir + "/");
    const auto end = dir.empty() ? index_.end() : index_.lower_bound(dir + "0");
    while (it != end) {
        if (it->second.layer < layer)
            it = index_.erase(it);
        else
            ++it;
    }
}

void LayerMerge::add(std::uint32_t layer, std::uint32_t ordinal, const std::string& path,
                     archive_entry* entry, const std::string& where) {
    newest_mtime_ = std::max<std::int64_t>(newest_mtime_, archive_entry_mtime(entry));
    const auto [dir, name] = split_last(path);
    if (name.rfind(".wh.", 0) == 0) {
        if (name == ".wh..wh..opq")
            hide_lower(dir, layer, false);
        else if (name.rfind(".wh..wh.", 0) != 0)  // other .wh..wh.* are aufs bookkeeping
            hide_lower(join(dir, name.substr(4)), layer, true);
        return;
    }
    Record r;
    r.layer = layer;
    r.ordinal = ordinal;
    if (const char* hardlink = archive_entry_hardlink(entry)) {
        const std::string target_path = archive_io::clean_member_path(hardlink, where);
        auto target = index_.find(target_path);
        if (target == index_.end())
            throw BuildError(where + ": hardlink '" + path + "' points to '" + target_path +
                             "', which is not in the image");
        if (target->second.kind == Kind::directory)
            throw BuildError(where + ": hardlink '" + path + "' points to the directory '" +
                             target_path + "'");
        r.kind = Kind::hardlink;
        r.data_layer = target->second.data_layer;
        r.data_ordinal = target->second.data_ordinal;
    } else if (archive_entry_filetype(entry) == AE_IFDIR) {
        r.kind = Kind::directory;
        r.header = archive_io::clone(entry);
    } else {
        r.data_layer = layer;
        r.data_ordinal = ordinal;
    }
    auto it = index_.find(path);
    if (it != index_.end()) {
        // A directory replaced by anything else takes its lower contents with it; a directory
        // over a directory only changes its metadata.
        if (it->second.kind == Kind::directory && r.kind != Kind::directory)
            hide_lower(path, layer, false);
        it->second = std::move(r);
    } else {
        index_.emplace(path, std::move(r));
    }
}

void LayerMerge::finish() {
    links_by_data_.clear();
    for (const auto& [path, r] : index_)
        if (r.kind == Kind::hardlink)
            links_by_data_[key(r.data_layer, r.data_ordinal)].push_back(path);
}

std::vector<std::string> LayerMerge::survivors(std::uint32_t layer, std::uint32_t ordinal,
                                               const std::string& path) const {
    std::vector<std::string> out;
    auto it = index_.find(path);
    if (it != index_.end() && it->second.kind == Kind::other && it->second.layer == layer &&
        it->second.ordinal == ordinal)
        out.push_back(path);
    auto links = links_by_data_.find(key(layer, ordinal));
    if (links != links_by_data_.end())
        out.insert(out.end(), links->second.begin(), links->second.end());
    return out;
}

archive_entry* LayerMerge::directory(const std::string& path) const {
    auto it = index_.find(path);
    return it != index_.end() && it->second.kind == Kind::directory ? it->second.header.get()
                                                                    : nullptr;
}

}  // namespace bootcfg
