// bootcfg push: LinuxKit's kernel+initrd output placed where bootcfgd serves it, with a profile.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "files/atomic_file.hpp"
#include "image/archive_io.hpp"
#include "image/image.hpp"
#include "labels/labels.hpp"
#include "store/data_files.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace {

std::string read_small(const std::string& path) {
    std::string text;
    if (!read_whole(path, text)) throw ImageError(path + ": " + std::strerror(errno));
    if (text.size() > (1u << 20)) throw ImageError(path + ": larger than 1 MiB");
    return text;
}

// An input that push publishes: a readable regular file that every local user may read
// already (push never widens permissions), and, for LinuxKit's own files, inside --dir (a
// symlink out of it could publish any file the operator can read).
void check_input(const std::string& path, const char* what, const std::string& inside) {
    struct stat st {};
    if (::access(path.c_str(), R_OK) != 0 || ::stat(path.c_str(), &st) != 0)
        throw ImageError(path + ": " + std::strerror(errno) + " (" + what + ")");
    if (!S_ISREG(st.st_mode)) throw ImageError(path + ": not a regular file (" + what + ")");
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    if (!(st.st_mode & S_IROTH))
        throw ImageError(path + ": not readable by everyone (mode " + mode + "), but bootcfgd " +
                         "serves it to every machine; refusing to publish it (chmod o+r if " +
                         "it is meant to be public)");
    if (inside.empty()) return;
    char* real = ::realpath(path.c_str(), nullptr);
    char* root = ::realpath(inside.c_str(), nullptr);
    const std::string target = real ? real : "", dir = root ? root : "";
    std::free(real);
    std::free(root);
    if (target.empty() || dir.empty() ||
        (target.compare(0, dir.size() + 1, dir + "/") != 0 && dir != "/"))
        throw ImageError(path + ": leads to " + (target.empty() ? "?" : target) +
                         ", outside --dir " + inside + "; refusing to publish it");
}

// Fills `out` with `path`'s bytes, gunzipped when asked and possible. Returns false when
// decompression was asked for but the file was not compressed.
bool append_file(AtomicFile& out, const std::string& path, bool decompress) {
    std::vector<char> buf(1 << 17);
    if (decompress) {
        bool compressed = false;
        archive_io::Reader r = archive_io::Reader::decompressing(path, compressed);
        if (compressed) {
            while (const std::size_t n = r.read(buf.data(), buf.size()))
                throw_on_failure<ImageError>(out.write({buf.data(), n}));
            return true;
        }
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ImageError(path + ": " + std::strerror(errno));
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw ImageError(path + ": " + std::strerror(e));
        }
        if (n == 0) break;
        if (auto written = out.write({buf.data(), static_cast<std::size_t>(n)}); !written) {
            ::close(fd);
            throw ImageError(written.failure().reason);
        }
    }
    ::close(fd);
    return !decompress;
}

// Every file of one push, written to temp files first and renamed into place only when all
// of them are complete: a full disk or a bad input changes nothing that machines are served.
class Staging {
  public:
    AtomicFile& file(const std::string& path) {
        staged_.push_back({path, std::make_unique<AtomicFile>()});
        throw_on_failure<ImageError>(staged_.back().second->open(path));
        return *staged_.back().second;
    }
    void text(const std::string& path, const std::string& text) {
        throw_on_failure<ImageError>(file(path).write(text));
    }
    // Renames each file over its target unless the target holds the same bytes already.
    void commit(PushResult& result) {
        for (auto& [path, file] : staged_) {
            if (file->same_as_target()) {
                file->discard();
                result.unchanged.push_back(path);
                continue;
            }
            throw_on_failure<ImageError>(file->commit());
            result.written.push_back(path);
        }
    }

  private:
    std::vector<std::pair<std::string, std::unique_ptr<AtomicFile>>> staged_;
};

// Groups `bootcfg push` wrote earlier for a MAC now pushed with another image: the MAC moves.
// A group written by hand for exactly that MAC is not ours to remove: refused.
std::vector<std::string> groups_taking_mac(const Snapshot& data, const std::string& mac,
                                           const std::string& keep) {
    std::vector<std::string> out;
    for (const Group* group : data.groups()) {
        if (group->falls_through || group->source == keep || group->selector.entries().size() != 1)
            continue;
        const std::string* selected = group->selector.find("mac");
        if (!selected || *selected != mac) continue;
        if (!group->name.ends_with("(bootcfg push)"))
            throw ImageError("--mac " + mac + ": " + group->source +
                             " (not written by push) selects it already; remove that group or "
                             "push without --mac");
        out.push_back(group->source);
    }
    return out;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

}  // namespace

std::string read_linuxkit_cmdline(const std::string& path) {
    std::string cmdline = read_small(path);
    while (!cmdline.empty() && std::isspace(static_cast<unsigned char>(cmdline.back())))
        cmdline.pop_back();
    // It becomes part of an iPXE script line: a line break would add commands.
    for (unsigned char c : cmdline)
        if (c < 0x20 || c == 0x7f)
            throw ImageError(path +
                             ": holds a control character (a line break?); a kernel command "
                             "line is one line");
    return cmdline;
}

std::string equinix_ipxe_script(const std::string& name, const std::string& base_url,
                                const std::string& cmdline, const std::string& arch) {
    // Appends the image's cmdline to the params iPXE needs, as LinuxKit does.
    std::string s = "#!ipxe\n\ndhcp\nset base-url " + base_url + "\n";
    if (arch != "aarch64") {
        // x86_64 Equinix Metal machines have their console on ttyS1.
        const std::string tty =
            cmdline.find("console=ttyS1") == std::string::npos ? "console=ttyS1,115200" : "";
        s += "set kernel-params ip=dhcp nomodeset ro serial " + tty + " " + cmdline + "\n";
        s += "kernel ${base-url}/" + name + "-kernel ${kernel-params}\n";
        s += "initrd ${base-url}/" + name + "-initrd.img\n";
    } else {
        s += "initrd --name initrd ${base-url}/" + name + "-initrd.img\n";
        s += "set kernel-params ip=dhcp nomodeset ro " + cmdline + "\n";
        s += "kernel ${base-url}/" + name +
             "-kernel initrd=initrd root=/dev/ram0 ${kernel-params}\n";
    }
    return s + "boot";
}

PushResult push_linuxkit(const PushOptions& o, Progress& progress) {
    PushResult result;
    if (!valid_name(o.name))
        throw ImageError("NAME '" + o.name + "': use letters, digits, '.', '-', '_'");
    if (o.arch != "x86_64" && o.arch != "aarch64")
        throw ImageError("--arch " + o.arch + ": must be x86_64 or aarch64");
    const std::string prefix = o.dir + "/" + o.name;
    const std::string kernel = prefix + "-kernel", initrd = prefix + "-initrd.img",
                      cmdline_file = prefix + "-cmdline";
    check_input(kernel, "LinuxKit kernel", o.dir);
    check_input(initrd, "LinuxKit initrd", o.dir);
    check_input(cmdline_file, "LinuxKit cmdline", o.dir);
    if (!o.ucode.empty()) check_input(o.ucode, "--ucode microcode cpio", "");
    std::vector<std::string> macs;
    for (const auto& m : o.macs) {
        auto mac = normalize_mac(m);
        if (!mac) throw ImageError("--mac " + m + ": not a MAC address");
        macs.push_back(*mac);
    }
    const std::string cmdline = read_linuxkit_cmdline(cmdline_file);

    const bool decompress = o.decompress || o.arch == "aarch64";
    if (decompress && !o.decompress)
        result.notes.push_back("aarch64: kernel and initrd are decompressed");
    throw_on_failure<ImageError>(make_directories(o.destination));

    Staging staging;
    progress.show("push: kernel");
    const std::string kernel_out = o.destination + "/" + o.name + "-kernel";
    if (!append_file(staging.file(kernel_out), kernel, decompress))
        result.notes.push_back(kernel + " is not compressed; copied as is");
    progress.show("push: initrd");
    const std::string initrd_out = o.destination + "/" + o.name + "-initrd.img";
    {
        // Microcode first: the kernel reads the early, uncompressed cpio before the rest.
        AtomicFile& out = staging.file(initrd_out);
        if (!o.ucode.empty()) append_file(out, o.ucode, false);
        if (!append_file(out, initrd, decompress))
            result.notes.push_back(initrd + " is not compressed; copied as is");
    }
    progress.clear();
    staging.text(o.destination + "/" + o.name + "-cmdline", cmdline);
    if (!o.base_url.empty()) {
        std::string base = o.base_url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        staging.text(o.destination + "/" + o.name + "-equinixmetal.ipxe",
                     equinix_ipxe_script(o.name, base, cmdline, o.arch));
    }
    if (o.data_path.empty()) {
        staging.commit(result);
        return result;
    }

    // Written where the store reads them, in its canonical form.
    const DirectorySource store(o.data_path);
    const Snapshot data(store.load(nullptr));
    Profile profile;
    profile.id = o.name;
    profile.name = "LinuxKit " + o.name + " (bootcfg push)";
    profile.has_boot = true;
    profile.boot.kernel = o.asset_url + "/" + o.name + "-kernel";
    profile.boot.initrd = {"--name initrd " + o.asset_url + "/" + o.name + "-initrd.img"};
    profile.boot.args = {"initrd=initrd"};
    if (o.arch == "aarch64") profile.boot.args.push_back("root=/dev/ram0");
    for (auto& w : words(cmdline)) profile.boot.args.push_back(w);
    std::vector<std::pair<std::string, std::string>> files;  // path, text
    files.emplace_back(store.locate({ObjectKind::profiles, o.name}, data),
                       profile_json(profile).dump(2) + "\n");
    for (const auto& mac : macs) {
        Group group;
        group.id = o.name + "-" + mac;
        std::replace(group.id.begin(), group.id.end(), ':', '-');
        group.name = o.name + " for " + mac + " (bootcfg push)";
        group.profile = o.name;
        group.selector.set("mac", mac);
        files.emplace_back(store.locate({ObjectKind::groups, group.id}, data),
                           group_json(group).dump(2) + "\n");
    }
    // Checked with the loader's own parsers before anything lands in the data dir.
    std::vector<ObjectWrite> writes;
    for (const auto& [path, text] : files) {
        const bool is_profile = &path == &files.front().first;
        if (is_profile) {
            if (auto p = parse_profile(text); !p)
                throw ImageError(path + ": " + p.failure().reason);
        } else if (auto g = parse_group(text); !g) {
            throw ImageError(path + ": " + g.failure().reason);
        }
        writes.push_back({path, is_profile ? ObjectKind::profiles : ObjectKind::groups, text, {}});
    }
    std::vector<std::string> removed;
    for (std::size_t i = 0; i < macs.size(); ++i)
        for (auto& old : groups_taking_mac(data, macs[i], files[i + 1].first)) {
            writes.push_back({old, ObjectKind::groups, std::nullopt, {}});
            removed.push_back(std::move(old));
        }
    // The profile and groups land together through the store, once every asset is complete in
    // its temp file; then the assets replace theirs.
    const WriteOutcome outcome = store.write(writes);
    if (outcome.status != WriteOutcome::written)
        throw ImageError(outcome.reason);  // names the file
    staging.commit(result);
    for (const auto& [path, text] : files) {
        const auto& same = outcome.unchanged;
        (std::find(same.begin(), same.end(), path) == same.end() ? result.written
                                                                 : result.unchanged)
            .push_back(path);
    }
    result.removed = std::move(removed);
    return result;
}

}  // namespace bootcfg
