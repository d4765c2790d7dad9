// bootcfg image save2image: a `docker save` archive → one gzip tar of the merged rootfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "files/atomic_file.hpp"
#include "image/archive_io.hpp"
#include "image/image.hpp"
#include "image/layer_merge.hpp"
#include "model/limits.hpp"

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

// The archive as a seekable, uncompressed tar: the input file itself when it is one; stdin,
// a pipe or a compressed archive is decompressed once into an unlinked temp file, so that the
// passes over the layers below each read plain tar (the one copy on disk this command makes).
void open_input(const SaveOptions& o, const std::string& label, FileDescriptor& in,
                Progress& progress) {
    FileDescriptor source;
    if (o.input != "-") {
        source.fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
        if (source.fd < 0) throw ImageError(o.input + ": " + std::strerror(errno));
    } else if (::isatty(0)) {
        throw ImageError("stdin is a terminal: pipe `docker save IMAGE` in or name the archive");
    } else {
        source.fd = 0;
    }
    struct stat st {};
    const bool regular = ::fstat(source.fd, &st) == 0 && S_ISREG(st.st_mode);
    bool compressed = false;
    Reader raw = Reader::decompressing_fd(source.fd, label, compressed);
    if (regular && !compressed) {
        std::swap(in.fd, source.fd);
        return;
    }
    std::string dir = o.temp_dir;
    if (dir.empty()) dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/var/tmp";
    in.fd = ::open(dir.c_str(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
    if (in.fd < 0) {
        std::string path = dir + "/bootcfg-save2image-XXXXXX";
        in.fd = ::mkstemp(path.data());
        if (in.fd < 0) throw ImageError(dir + ": cannot make a temp file: " + std::strerror(errno));
        ::unlink(path.c_str());
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    const std::string verb = compressed ? "decompressing " : "reading ";
    while (const std::size_t n = raw.read(buf.data(), buf.size())) {
        for (std::size_t done = 0; done < n;) {
            const ssize_t w = ::write(in.fd, buf.data() + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw ImageError(dir + ": temp file: " + std::strerror(errno));
            done += static_cast<std::size_t>(w);
        }
        total += n;
        progress.show("save2image: " + verb + label + " " + mib(total));
    }
}

// SHA-256 (and SHA-512 for blobs named by one) of a member as it streams past.
class Digest {
  public:
    explicit Digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_, md, nullptr) != 1)
            throw ImageError("cannot start a digest (OpenSSL)");
    }
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;
    ~Digest() { EVP_MD_CTX_free(ctx_); }
    void update(const void* bytes, std::size_t n) { EVP_DigestUpdate(ctx_, bytes, n); }
    std::string hex() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_, out, &len);
        static const char* digits = "0123456789abcdef";
        std::string h;
        for (unsigned int i = 0; i < len; ++i) {
            h += digits[out[i] >> 4];
            h += digits[out[i] & 15];
        }
        return h;
    }

  private:
    EVP_MD_CTX* ctx_;
};

struct Member {
    std::uint64_t size = 0;
    std::string sha256, sha512;  // sha512 only for blobs/sha512/*
    bool compressed = false;     // starts with a gzip, zstd, xz or bzip2 magic
};

bool compressed_magic(const unsigned char* b, std::size_t n) {
    auto starts = [&](std::initializer_list<unsigned char> m) {
        return n >= m.size() && std::equal(m.begin(), m.end(), b);
    };
    return starts({0x1f, 0x8b}) || starts({0x28, 0xb5, 0x2f, 0xfd}) ||
           starts({0xfd, '7', 'z', 'X', 'Z', 0}) || starts({'B', 'Z', 'h'});
}

// The outer archive's members: names, sizes and digests, symlinks between them, and the text
// of manifest.json and index.json. Every blob named by its digest is checked against it here.
struct OuterIndex {
    std::map<std::string, Member> files;
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

// "blobs/ALG/HEX" → {ALG, HEX}; empty when the name is not a blob path.
std::pair<std::string, std::string> blob_parts(const std::string& name) {
    if (name.rfind("blobs/", 0) != 0) return {};
    const auto slash = name.find('/', 6);
    if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) return {};
    return {name.substr(6, slash - 6), name.substr(slash + 1)};
}

OuterIndex index_outer(int fd, const std::string& label, Progress& progress) {
    OuterIndex idx;
    Reader r = Reader::from_fd(fd, label);
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    while (archive_entry* e = r.next()) {
        const std::string name = archive_io::clean_member_path(archive_entry_pathname(e), label);
        if (archive_entry_filetype(e) == AE_IFLNK) {
            const char* target = archive_entry_symlink(e);
            idx.symlinks[name] = archive_io::symlink_destination(name, target ? target : "");
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        if (name == "manifest.json" || name == "index.json") {
            idx.json[name] = read_member_text(r, name);
            Member& m = idx.files[name];
            m.size = idx.json[name].size();
            continue;
        }
        const auto [alg, hex] = blob_parts(name);
        Digest sha256(EVP_sha256());
        std::optional<Digest> sha512;
        if (alg == "sha512") sha512.emplace(EVP_sha512());
        Member m;
        while (const std::size_t n = r.read(buf.data(), buf.size())) {
            if (m.size == 0)
                m.compressed =
                    compressed_magic(reinterpret_cast<const unsigned char*>(buf.data()), n);
            sha256.update(buf.data(), n);
            if (sha512) sha512->update(buf.data(), n);
            m.size += n;
            total += n;
            progress.show("save2image: verifying " + label + " " + mib(total));
        }
        m.sha256 = sha256.hex();
        if (sha512) m.sha512 = sha512->hex();
        const std::string& actual = alg == "sha512" ? m.sha512 : m.sha256;
        if ((alg == "sha256" || alg == "sha512") && hex != actual)
            throw ImageError(label + ": " + name + " does not match its digest (its content is " +
                             alg + ":" + actual + ")");
        idx.files[name] = std::move(m);
    }
    return idx;
}

// One member's text, read by a pass of its own (manifests and configs are small).
std::string read_outer_member(int fd, const std::string& label, const std::string& member) {
    Reader r = Reader::from_fd(fd, label);
    while (archive_entry* e = r.next())
        if (archive_entry_filetype(e) == AE_IFREG &&
            archive_io::clean_member_path(archive_entry_pathname(e), label) == member)
            return read_member_text(r, member);
    throw ImageError(label + ": " + member + " disappeared from the archive");
}

json parse_json(const std::string& text, const std::string& what) {
    try {
        return parse_json_bounded(text);
    } catch (const json::exception& e) {
        throw ImageError(what + ": not valid JSON (" + json_error_text(e).substr(0, 120) + ")");
    }
}

// Typed reads of a JSON document from the archive: a field of the wrong type is named, never
// an abort. `where` names the file (and the object within it).
const json* field(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& object, const char* key, const std::string& where) {
    const json* v = field(object, key);
    if (!v) return "";
    if (!v->is_string()) throw ImageError(where + ": " + key + " is not a string");
    return v->get<std::string>();
}

// object[key] when it has the type, an empty one of that type when absent, else an error
// naming the field as a `noun` ("a list", "an object").
const json& typed_field(const json& object, const char* key, const std::string& where,
                        json::value_t type, const char* noun) {
    static const json empty_list = json::array(), empty_object = json::object();
    const json* v = field(object, key);
    if (!v) return type == json::value_t::array ? empty_list : empty_object;
    if (v->type() != type) throw ImageError(where + ": " + key + " is not " + noun);
    return *v;
}

const json& list_field(const json& object, const char* key, const std::string& where) {
    return typed_field(object, key, where, json::value_t::array, "a list");
}

const json& object_field(const json& object, const char* key, const std::string& where) {
    return typed_field(object, key, where, json::value_t::object, "an object");
}

bool lower_hex(const std::string& s, std::size_t length) {
    return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The member an OCI descriptor names, checked: a digest we can verify, present in the archive,
// of the size the descriptor declares.
std::string descriptor_blob(const json& descriptor, const std::string& where, const OuterIndex& idx,
                            const std::string& label) {
    if (!descriptor.is_object()) throw ImageError(where + ": a descriptor is not an object");
    const std::string digest = string_field(descriptor, "digest", where);
    if (digest.empty()) throw ImageError(where + ": a descriptor without a digest");
    const auto colon = digest.find(':');
    const std::string alg = digest.substr(0, colon == std::string::npos ? 0 : colon);
    const std::string hex = colon == std::string::npos ? "" : digest.substr(colon + 1);
    if (alg != "sha256" && alg != "sha512")
        throw ImageError(where + ": digest '" + digest.substr(0, 80) +
                         "' is not sha256 or sha512 (cannot be verified)");
    if (!lower_hex(hex, alg == "sha256" ? 64 : 128))
        throw ImageError(where + ": digest '" + digest.substr(0, 80) + "' is malformed");
    const std::string blob = "blobs/" + alg + "/" + hex;
    const std::string member = idx.resolve(blob);
    auto it = idx.files.find(member);
    if (it == idx.files.end())
        throw ImageError(label + ": " + blob + " is named in " + where + " but not in the archive");
    // A blob reached through a symlink was indexed under another name: check it by content.
    const std::string& actual = alg == "sha512" ? it->second.sha512 : it->second.sha256;
    if (member != blob && actual != hex)
        throw ImageError(label + ": " + blob + " does not match its digest");
    if (const json* size = field(descriptor, "size")) {
        if (!size->is_number_unsigned())
            throw ImageError(where + ": size of " + blob + " is not a byte count");
        if (size->get<std::uint64_t>() != it->second.size)
            throw ImageError(where + ": declares " + blob + " as " +
                             std::to_string(size->get<std::uint64_t>()) + " bytes; it holds " +
                             std::to_string(it->second.size));
    }
    return member;
}

// Docker's manifest.json form: an uncompressed layer must hash to its diff_id in the config,
// and a config named by its digest (classic `<id>.json`) to that digest.
void verify_docker_config(int fd, const std::string& label, const OuterIndex& idx,
                          const std::string& config_name, const std::vector<std::string>& layers) {
    if (config_name.empty()) return;
    const std::string member =
        idx.resolve(archive_io::clean_member_path(config_name.c_str(), label + ": manifest.json"));
    auto it = idx.files.find(member);
    if (it == idx.files.end())
        throw ImageError(label + ": manifest.json names config " + config_name +
                         ", which is not in the archive");
    const auto slash = member.rfind('/');
    std::string id = member.substr(slash == std::string::npos ? 0 : slash + 1);
    if (id.size() == 69 && id.ends_with(".json")) id.resize(64);
    if (lower_hex(id, 64) && id != it->second.sha256)
        throw ImageError(label + ": config " + member + " does not match its digest");
    const std::string where = label + ": " + member;
    const json config = parse_json(read_outer_member(fd, label, member), where);
    const json& diff_ids = list_field(object_field(config, "rootfs", where), "diff_ids", where);
    if (diff_ids.empty()) return;
    if (diff_ids.size() != layers.size())
        throw ImageError(where + ": lists " + std::to_string(diff_ids.size()) + " diff_ids for " +
                         std::to_string(layers.size()) + " layers");
    for (std::size_t i = 0; i < layers.size(); ++i) {
        if (!diff_ids[i].is_string())
            throw ImageError(where + ": diff_ids[" + std::to_string(i) + "] is not a string");
        const Member& layer = idx.files.at(layers[i]);
        if (layer.compressed) continue;  // its diff_id is of the uncompressed bytes
        if (diff_ids[i].get<std::string>() != "sha256:" + layer.sha256)
            throw ImageError(label + ": layer " + layers[i] + " does not match its diff_id in " +
                             member);
    }
}

// Layer member names, bottom layer first, every one verified against the digests the
// archive declares for it.
std::vector<std::string> find_layers(int fd, const std::string& label, const std::string& image,
                                     Progress& progress) {
    const OuterIndex idx = index_outer(fd, label, progress);
    std::vector<std::string> layers;
    auto layer_member = [&](const std::string& name) {
        const std::string member = idx.resolve(name);
        if (!idx.files.count(member))
            throw ImageError(label + ": layer " + member + " is not in the archive");
        layers.push_back(member);
    };
    if (idx.json.count("manifest.json")) {
        const std::string where = label + ": manifest.json";
        const json manifest = parse_json(idx.json.at("manifest.json"), where);
        if (!manifest.is_array() || manifest.empty())
            throw ImageError(label + ": manifest.json lists no image");
        const json* chosen = nullptr;
        std::string tags;
        for (const auto& item : manifest) {
            for (const auto& t : list_field(item, "RepoTags", where)) {
                if (!t.is_string()) throw ImageError(where + ": a RepoTag is not a string");
                tags += (tags.empty() ? "" : ", ") + t.get<std::string>();
                if (!image.empty() && t == image) chosen = &item;
            }
        }
        if (!image.empty() && !chosen)
            throw ImageError(label + ": no image tagged " + image +
                             " (it holds: " + (tags.empty() ? "untagged images" : tags) + ")");
        if (!chosen && manifest.size() > 1)
            throw ImageError(label + ": holds " + std::to_string(manifest.size()) +
                             " images; choose one with --image (" + tags + ")");
        if (!chosen) chosen = &manifest[0];
        if (!field(*chosen, "Layers")) throw ImageError(where + ": Layers is missing");
        for (const auto& l : list_field(*chosen, "Layers", where)) {
            if (!l.is_string()) throw ImageError(where + ": a layer name is not a string");
            layer_member(archive_io::clean_member_path(l.get<std::string>().c_str(), label));
        }
        verify_docker_config(fd, label, idx, string_field(*chosen, "Config", where), layers);
    } else if (idx.json.count("index.json")) {
        // An OCI image layout without Docker's manifest.json: index → (index…) → manifest.
        std::string where = label + ": index.json";
        json node = parse_json(idx.json.at("index.json"), where);
        for (int depth = 0; depth < 4 && field(node, "manifests"); ++depth) {
            const json& list = list_field(node, "manifests", where);
            if (list.empty()) throw ImageError(where + " lists no image");
            const json* chosen = list.size() == 1 ? &list[0] : nullptr;
            for (const auto& m : list) {
                const json& ann = object_field(m, "annotations", where);
                std::string ref = string_field(ann, "io.containerd.image.name", where);
                if (ref.empty())
                    ref = string_field(ann, "org.opencontainers.image.ref.name", where);
                if (!image.empty() && !ref.empty() && (ref == image || ref.ends_with("/" + image)))
                    chosen = &m;
            }
            if (!chosen)
                throw ImageError(where + " lists " + std::to_string(list.size()) +
                                 " manifests; choose one with --image");
            const std::string blob = descriptor_blob(*chosen, where, idx, label);
            where = label + ": " + blob;
            node = parse_json(read_outer_member(fd, label, blob), where);
        }
        if (!field(node, "layers")) throw ImageError(where + ": the image manifest has no layers");
        if (const json* config = field(node, "config")) descriptor_blob(*config, where, idx, label);
        for (const auto& l : list_field(node, "layers", where))
            layer_member(descriptor_blob(l, where, idx, label));
    } else {
        throw ImageError(label + ": not a `docker save` archive (no manifest.json or index.json)");
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
        throw ImageError(label + ": layer " + member + " disappeared from the archive");
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

    // The directory and every surviving directory above it, parents first. Only directories of
    // the merge are remembered, and a path is at most kMaxMemberPath long, so a path of many
    // components costs time and memory in proportion to its own length.
    void ensure_dir(const std::string& path) {
        if (path.empty() || emitted_.count(path)) return;
        for (std::size_t end = path.find('/');; end = path.find('/', end + 1)) {
            const std::string dir = end == std::string::npos ? path : path.substr(0, end);
            if (!emitted_.count(dir)) {
                if (archive_entry* header = merge_.directory(dir)) {
                    emitted_.insert(dir);
                    archive_io::EntryPtr e = archive_io::clone(header);
                    archive_entry_set_pathname(e.get(), ("./" + dir).c_str());
                    out_.header(e.get());
                    ++entries;
                }
            }
            if (end == std::string::npos) return;
        }
    }

    void entry(std::uint32_t layer, std::uint32_t ordinal, const std::string& member_path,
               archive_entry* in, Reader& data) {
        if (LayerMerge::is_whiteout(member_path) || archive_entry_hardlink(in)) return;
        const std::string path = merge_.placed(layer, ordinal, member_path);
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

SaveResult save_to_image(const SaveOptions& o, Progress& progress) {
    const std::string label = o.input == "-" ? "stdin" : o.input;
    FileDescriptor in;
    AtomicFile output;
    int out_fd = o.output_fd >= 0 ? o.output_fd : 1;
    const bool to_file = o.output_fd < 0 && o.output != "-";
    if (to_file) {
        throw_on_failure<ImageError>(output.open(o.output));
        out_fd = output.fd();
    } else if (::isatty(out_fd)) {
        throw ImageError("refusing to write a gzip archive to a terminal: use -o FILE or redirect");
    }
    open_input(o, label, in, progress);
    const std::vector<std::string> layers = find_layers(in.fd, label, o.image, progress);

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
    if (to_file) throw_on_failure<ImageError>(output.commit());
    progress.clear();
    result.entries = rootfs.entries;
    result.content_bytes = rootfs.bytes;
    return result;
}

}  // namespace bootcfg
