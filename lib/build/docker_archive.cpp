// bootcfg image save2image: a `docker save` archive → one gzip tar of the merged rootfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "build/archive_io.hpp"
#include "build/build.hpp"
#include "build/layer_merge.hpp"
#include "files/atomic_file.hpp"

namespace bootcfg {

using archive_io::Reader;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxJsonMember = 16u << 20;

std::string mib(std::uint64_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

struct FileDescriptor {
    int fd = -1;
    ~FileDescriptor() {
        if (fd > 2) ::close(fd);
    }
};

// The archive as a seekable file: the input itself, or stdin copied once to an unlinked temp
// file (the one copy on disk this command makes).
void open_input(const SaveOptions& o, FileDescriptor& in, ProgressLine& progress) {
    if (o.input != "-") {
        in.fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
        if (in.fd < 0) throw BuildError(o.input + ": " + std::strerror(errno));
        return;
    }
    struct stat st {};
    if (::fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
        in.fd = 0;
        return;
    }
    if (::isatty(0))
        throw BuildError("stdin is a terminal: pipe `docker save IMAGE` in or name the archive");
    std::string dir = o.temp_dir;
    if (dir.empty()) dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/var/tmp";
    in.fd = ::open(dir.c_str(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
    if (in.fd < 0) {
        std::string path = dir + "/bootcfg-save2image-XXXXXX";
        in.fd = ::mkstemp(path.data());
        if (in.fd < 0) throw BuildError(dir + ": cannot make a temp file: " + std::strerror(errno));
        ::unlink(path.c_str());
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::read(0, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw BuildError(std::string("stdin: ") + std::strerror(errno));
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(in.fd, buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw BuildError(dir + ": temp file: " + std::strerror(errno));
            done += w;
        }
        total += static_cast<std::uint64_t>(n);
        progress.show("save2image: reading stdin " + mib(total));
    }
}

// The outer archive's members: names, symlinks between them, and the small JSON files.
struct OuterIndex {
    std::set<std::string> files;
    std::map<std::string, std::string> symlinks;  // member → member it points to
    std::map<std::string, std::string> json;      // manifest.json, index.json

    std::string resolve(std::string name) const {
        for (int hops = 0; hops < 16; ++hops) {
            auto it = symlinks.find(name);
            if (it == symlinks.end()) return name;
            name = it->second;
        }
        return name;
    }
};

std::string read_member_text(Reader& r, const std::string& name) {
    std::string text;
    char buf[65536];
    while (const std::size_t n = r.read(buf, sizeof buf)) {
        text.append(buf, n);
        if (text.size() > kMaxJsonMember) r.fail(name + " is larger than 16 MiB");
    }
    return text;
}

OuterIndex index_outer(int fd, const std::string& label, const std::set<std::string>& wanted) {
    OuterIndex idx;
    Reader r = Reader::from_fd(fd, label);
    while (archive_entry* e = r.next()) {
        const std::string name = archive_io::clean_member_path(archive_entry_pathname(e), label);
        if (archive_entry_filetype(e) == AE_IFLNK) {
            const char* target = archive_entry_symlink(e);
            idx.symlinks[name] = archive_io::symlink_destination(name, target ? target : "");
        } else if (archive_entry_filetype(e) == AE_IFREG) {
            idx.files.insert(name);
            if (wanted.count(name)) idx.json[name] = read_member_text(r, name);
        }
    }
    return idx;
}

json parse_json(const std::string& text, const std::string& what) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw BuildError(what + ": not valid JSON (" + std::string(e.what()).substr(0, 120) + ")");
    }
}

std::string blob_name(const json& descriptor, const std::string& where) {
    const auto digest = descriptor.is_object() ? descriptor.value("digest", "") : "";
    const auto colon = digest.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == digest.size())
        throw BuildError(where + ": a descriptor without a digest");
    return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

// Layer member names, bottom layer first.
std::vector<std::string> find_layers(int fd, const std::string& label, const std::string& image) {
    OuterIndex idx = index_outer(fd, label, {"manifest.json", "index.json"});
    std::vector<std::string> layers;
    if (idx.json.count("manifest.json")) {
        const json manifest = parse_json(idx.json["manifest.json"], label + ": manifest.json");
        if (!manifest.is_array() || manifest.empty())
            throw BuildError(label + ": manifest.json lists no image");
        const json* chosen = nullptr;
        std::string tags;
        for (const auto& item : manifest) {
            const json repo_tags =
                item.is_object() ? item.value("RepoTags", json::array()) : json::array();
            for (const auto& t : repo_tags) {
                if (!t.is_string()) continue;
                tags += (tags.empty() ? "" : ", ") + t.get<std::string>();
                if (!image.empty() && t == image) chosen = &item;
            }
        }
        if (!image.empty() && !chosen)
            throw BuildError(label + ": no image tagged " + image +
                             " (it holds: " + (tags.empty() ? "untagged images" : tags) + ")");
        if (!chosen && manifest.size() > 1)
            throw BuildError(label + ": holds " + std::to_string(manifest.size()) +
                             " images; choose one with --image (" + tags + ")");
        if (!chosen) chosen = &manifest[0];
        const json list = chosen->is_object() ? chosen->value("Layers", json()) : json();
        if (!list.is_array()) throw BuildError(label + ": manifest.json: Layers is missing");
        for (const auto& l : list) {
            if (!l.is_string())
                throw BuildError(label + ": manifest.json: a layer name is not a string");
            layers.push_back(archive_io::clean_member_path(l.get<std::string>().c_str(), label));
        }
    } else if (idx.json.count("index.json")) {
        // An OCI image layout without Docker's manifest.json: index → (index…) → manifest.
        json node = parse_json(idx.json["index.json"], label + ": index.json");
        for (int depth = 0; depth < 4 && node.contains("manifests"); ++depth) {
            const json& list = node["manifests"];
            if (!list.is_array() || list.empty())
                throw BuildError(label + ": index.json lists no image");
            const json* chosen = list.size() == 1 ? &list[0] : nullptr;
            for (const auto& m : list) {
                const json ann =
                    m.is_object() ? m.value("annotations", json::object()) : json::object();
                const std::string ref =
                    ann.is_object() ? ann.value("io.containerd.image.name",
                                                ann.value("org.opencontainers.image.ref.name", ""))
                                    : "";
                if (!image.empty() && !ref.empty() && (ref == image || ref.ends_with("/" + image)))
                    chosen = &m;
            }
            if (!chosen)
                throw BuildError(label + ": index.json lists " + std::to_string(list.size()) +
                                 " manifests; choose one with --image");
            const std::string blob = blob_name(*chosen, label + ": index.json");
            OuterIndex b = index_outer(fd, label, {idx.resolve(blob)});
            if (!b.json.count(idx.resolve(blob)))
                throw BuildError(label + ": " + blob +
                                 " is named in index.json but not in the archive");
            node = parse_json(b.json[idx.resolve(blob)], label + ": " + blob);
        }
        if (!node.contains("layers") || !node["layers"].is_array())
            throw BuildError(label + ": the image manifest has no layers");
        for (const auto& l : node["layers"]) layers.push_back(blob_name(l, label + ": manifest"));
    } else {
        throw BuildError(label + ": not a `docker save` archive (no manifest.json or index.json)");
    }
    for (auto& l : layers) {
        l = idx.resolve(l);
        if (!idx.files.count(l))
            throw BuildError(label + ": layer " + l + " is not in the archive");
    }
    return layers;
}

// One layer, read straight out of the outer archive.
struct LayerStream {
    std::unique_ptr<Reader> outer;
    Reader inner;
    static LayerStream open(int fd, const std::string& label, const std::string& member,
                            const std::string& inner_label) {
        auto outer = std::make_unique<Reader>(Reader::from_fd(fd, label));
        while (archive_entry* e = outer->next()) {
            if (archive_io::clean_member_path(archive_entry_pathname(e), label) == member) {
                Reader inner = Reader::nested(*outer, inner_label);
                return LayerStream{std::move(outer), std::move(inner)};
            }
        }
        throw BuildError(label + ": layer " + member + " disappeared from the archive");
    }
};

// Every entry of every layer, bottom layer first, with its clean path and a reader positioned
// at its data; `where` names the layer for messages.
template <typename Visit>
void for_each_layer_entry(int fd, const std::string& label, const std::vector<std::string>& layers,
                          Visit&& visit) {
    for (std::uint32_t i = 0; i < layers.size(); ++i) {
        const std::string where =
            label + ": layer " + std::to_string(i + 1) + " (" + layers[i] + ")";
        LayerStream s = LayerStream::open(fd, label, layers[i], where);
        std::uint32_t ordinal = 0;
        while (archive_entry* e = s.inner.next()) {
            visit(i, ordinal, archive_io::clean_member_path(archive_entry_pathname(e), where), e,
                  s.inner, where);
            ++ordinal;
        }
    }
}

class RootfsWriter {
  public:
    RootfsWriter(archive_io::GzipTarWriter& out, const LayerMerge& merge)
        : out_(out), merge_(merge) {}

    void root() {
        archive_entry* dir = merge_.directory("");
        archive_io::EntryPtr e =
            dir ? archive_io::clone(dir) : archive_io::EntryPtr(archive_entry_new());
        if (!dir) {
            archive_entry_set_filetype(e.get(), AE_IFDIR);
            archive_entry_set_perm(e.get(), 0755);
            archive_entry_set_uid(e.get(), 0);
            archive_entry_set_gid(e.get(), 0);
            archive_entry_set_uname(e.get(), "root");
            archive_entry_set_gname(e.get(), "root");
            archive_entry_set_mtime(e.get(), merge_.newest_mtime(), 0);
        }
        archive_entry_set_pathname(e.get(), "./");
        out_.header(e.get());
        emitted_.insert("");
        ++entries;
    }

    // The directory and every surviving directory above it, parents first.
    void ensure_dir(const std::string& path) {
        if (emitted_.count(path)) return;
        const auto slash = path.rfind('/');
        ensure_dir(slash == std::string::npos ? "" : path.substr(0, slash));
        emitted_.insert(path);
        archive_entry* dir = merge_.directory(path);
        if (!dir) return;
        archive_io::EntryPtr e = archive_io::clone(dir);
        archive_entry_set_pathname(e.get(), ("./" + path).c_str());
        out_.header(e.get());
        ++entries;
    }

    void entry(std::uint32_t layer, std::uint32_t ordinal, const std::string& path,
               archive_entry* in, Reader& data) {
        if (LayerMerge::is_whiteout(path) || archive_entry_hardlink(in)) return;
        if (archive_entry_filetype(in) == AE_IFDIR) return ensure_dir(path);
        const auto paths = merge_.survivors(layer, ordinal, path);
        if (paths.empty()) return;
        for (const auto& p : paths) {
            const auto slash = p.rfind('/');
            ensure_dir(slash == std::string::npos ? "" : p.substr(0, slash));
        }
        archive_io::EntryPtr e = archive_io::clone(in);
        archive_entry_set_pathname(e.get(), ("./" + paths[0]).c_str());
        out_.header(e.get());
        ++entries;
        if (archive_entry_filetype(in) == AE_IFREG) bytes += out_.copy_from(data);
        for (std::size_t i = 1; i < paths.size(); ++i) {
            archive_io::EntryPtr link = archive_io::clone(in);
            archive_entry_set_pathname(link.get(), ("./" + paths[i]).c_str());
            archive_entry_set_hardlink(link.get(), ("./" + paths[0]).c_str());
            archive_entry_set_size(link.get(), 0);
            out_.header(link.get());
            ++entries;
        }
    }

    std::size_t entries = 0;
    std::uint64_t bytes = 0;

  private:
    archive_io::GzipTarWriter& out_;
    const LayerMerge& merge_;
    std::set<std::string> emitted_;
};

}  // namespace

SaveResult save_to_image(const SaveOptions& o, ProgressLine& progress) {
    const std::string label = o.input == "-" ? "stdin" : o.input;
    FileDescriptor in;
    AtomicFile output;
    std::string error;
    int out_fd = o.output_fd >= 0 ? o.output_fd : 1;
    const bool to_file = o.output_fd < 0 && o.output != "-";
    if (to_file) {
        if (!output.open(o.output, error)) throw BuildError(error);
        out_fd = output.fd();
    } else if (::isatty(out_fd)) {
        throw BuildError("refusing to write a gzip archive to a terminal: use -o FILE or redirect");
    }
    open_input(o, in, progress);
    const std::vector<std::string> layers = find_layers(in.fd, label, o.image);

    // First pass: headers only, to learn what survives where.
    LayerMerge merge;
    for_each_layer_entry(in.fd, label, layers,
                         [&](std::uint32_t layer, std::uint32_t ordinal, const std::string& path,
                             archive_entry* e, Reader&, const std::string& where) {
                             merge.add(layer, ordinal, path, e, where);
                             if ((ordinal + 1) % 4096 == 0)
                                 progress.show("save2image: indexing layer " +
                                               std::to_string(layer + 1) + "/" +
                                               std::to_string(layers.size()) + ", " +
                                               std::to_string(merge.size()) + " paths");
                         });
    merge.finish();

    // Second pass: each layer streamed once more, surviving entries copied to the output.
    SaveResult result;
    result.layers = layers.size();
    archive_io::GzipTarWriter writer(out_fd, to_file            ? o.output
                                             : o.output_fd >= 0 ? "output"
                                                                : "stdout");
    RootfsWriter rootfs(writer, merge);
    rootfs.root();
    for_each_layer_entry(
        in.fd, label, layers,
        [&](std::uint32_t layer, std::uint32_t ordinal, const std::string& path, archive_entry* e,
            Reader& data, const std::string&) {
            rootfs.entry(layer, ordinal, path, e, data);
            progress.show("save2image: writing layer " + std::to_string(layer + 1) + "/" +
                          std::to_string(layers.size()) + ", " + mib(rootfs.bytes));
        });
    writer.close();
    if (to_file && !output.commit(error)) throw BuildError(error);
    progress.clear();
    result.entries = rootfs.entries;
    result.content_bytes = rootfs.bytes;
    return result;
}

}  // namespace bootcfg
