#include "image/layer_merge.hpp"

#include <algorithm>

#include "image/image.hpp"

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

std::string LayerMerge::resolve_parents(const std::string& path, const std::string& where) const {
    std::string current = path;
    int links = 0;
    std::size_t slash = current.find('/');
    while (slash != std::string::npos) {
        auto it = index_.find(current.substr(0, slash));
        if (it == index_.end() || it->second.kind != Kind::symlink) {
            slash = current.find('/', slash + 1);
            continue;
        }
        if (++links > 40)
            throw ImageError(where + ": '" + path + "' goes through more than 40 symlinks");
        const std::string dest = archive_io::symlink_destination(it->first, it->second.target);
        current = dest.empty() ? current.substr(slash + 1) : dest + current.substr(slash);
        if (current.size() > archive_io::kMaxMemberPath)
            throw ImageError(where + ": '" + path.substr(0, 60) +
                             "' resolves through symlinks to a path too long to open");
        slash = current.find('/');  // the destination may go through links itself
    }
    return current;
}

void LayerMerge::add(std::uint32_t layer, std::uint32_t ordinal, const std::string& member_path,
                     archive_entry* entry, const std::string& where) {
    newest_mtime_ = std::max<std::int64_t>(newest_mtime_, archive_entry_mtime(entry));
    const std::string path = resolve_parents(member_path, where);
    if (path != member_path) moved_[key(layer, ordinal)] = path;
    const auto [dir, name] = split_last(path);
    if (name.rfind(".wh.", 0) == 0) {
        if (name == ".wh." || name == ".wh.." || name == ".wh...")
            throw ImageError(where + ": whiteout '" + member_path + "' names nothing");
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
        const std::string target_path =
            resolve_parents(archive_io::clean_member_path(hardlink, where), where);
        auto target = index_.find(target_path);
        if (target == index_.end())
            throw ImageError(where + ": hardlink '" + path + "' points to '" + target_path +
                             "', which is not in the image");
        if (target->second.kind == Kind::directory)
            throw ImageError(where + ": hardlink '" + path + "' points to the directory '" +
                             target_path + "'");
        r.kind = Kind::hardlink;
        r.data_layer = target->second.data_layer;
        r.data_ordinal = target->second.data_ordinal;
    } else if (archive_entry_filetype(entry) == AE_IFDIR) {
        r.kind = Kind::directory;
        r.header = archive_io::clone(entry);
    } else {
        if (archive_entry_filetype(entry) == AE_IFLNK) {
            const char* target = archive_entry_symlink(entry);
            r.kind = Kind::symlink;
            r.target = target ? target : "";
        }
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
    if (it != index_.end() &&
        (it->second.kind == Kind::other || it->second.kind == Kind::symlink) &&
        it->second.layer == layer && it->second.ordinal == ordinal)
        out.push_back(path);
    auto links = links_by_data_.find(key(layer, ordinal));
    if (links != links_by_data_.end())
        out.insert(out.end(), links->second.begin(), links->second.end());
    return out;
}

std::string LayerMerge::placed(std::uint32_t layer, std::uint32_t ordinal,
                               const std::string& path) const {
    auto it = moved_.find(key(layer, ordinal));
    return it == moved_.end() ? path : it->second;
}

archive_entry* LayerMerge::directory(const std::string& path) const {
    auto it = index_.find(path);
    return it != index_.end() && it->second.kind == Kind::directory ? it->second.header.get()
                                                                    : nullptr;
}

}  // namespace bootcfg
