// Which entry of which image layer survives at each path, with OCI/Docker whiteouts applied.
// Built from headers alone (first pass); the writer then streams each layer once more and asks
// for every entry whether, and under which paths, it belongs in the merged rootfs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "image/archive_io.hpp"

namespace bootcfg {

class LayerMerge {
  public:
    // Entries of layer `layer` in archive order; `path` is clean (archive_io::clean_member_path).
    // Whiteouts (.wh.NAME, DIR/.wh..wh..opq) hide what lower layers put there. A hardlink takes
    // the data its target has at that point of the stream, as Docker and umoci apply layers in
    // order: a whiteout or replacement of the target later in the same layer does not change
    // it. A parent that is a symlink in the tree so far is followed inside the rootfs (as umoci
    // and Docker apply a layer), so nothing lands beneath a link in the output. Throws
    // ImageError (naming `where`) for a link to nothing or to a directory, a whiteout that
    // names nothing, or a path through more than 40 symlinks.
    void add(std::uint32_t layer, std::uint32_t ordinal, const std::string& path,
             archive_entry* entry, const std::string& where);
    // After the last layer: indexes hardlinks by the entry that holds their data.
    void finish();

    static bool is_whiteout(const std::string& path);

    // Where entry (layer, ordinal) at member path `path` belongs (its parents resolved).
    std::string placed(std::uint32_t layer, std::uint32_t ordinal, const std::string& path) const;
    // The final paths that entry (layer, ordinal) placed at `path` provides: its own path first
    // when it survives there, then every surviving hardlink to it (which may outlive the original).
    std::vector<std::string> survivors(std::uint32_t layer, std::uint32_t ordinal,
                                       const std::string& path) const;
    // The final header of the directory at `path`, or nullptr when no directory survives there.
    archive_entry* directory(const std::string& path) const;
    std::size_t size() const { return index_.size(); }
    std::int64_t newest_mtime() const { return newest_mtime_; }

  private:
    enum class Kind : std::uint8_t { directory, hardlink, symlink, other };
    struct Record {
        Kind kind = Kind::other;
        std::uint32_t layer = 0, ordinal = 0;            // the entry that defines the path now
        std::uint32_t data_layer = 0, data_ordinal = 0;  // hardlinks: the entry with the data
        archive_io::EntryPtr header;                     // directories: their final metadata
        std::string target;                              // symlinks: where they point
    };
    static std::uint64_t key(std::uint32_t layer, std::uint32_t ordinal) {
        return (static_cast<std::uint64_t>(layer) << 32) | ordinal;
    }
    // Erases what layers below `layer` put beneath `dir` (and `dir` itself when `self`).
    void hide_lower(const std::string& dir, std::uint32_t layer, bool self);
    std::string resolve_parents(const std::string& path, const std::string& where) const;

    std::map<std::string, Record> index_;
    std::unordered_map<std::uint64_t, std::vector<std::string>> links_by_data_;
    std::unordered_map<std::uint64_t, std::string> moved_;  // entries placed beneath a symlink
    std::int64_t newest_mtime_ = 0;
};

}  // namespace bootcfg
