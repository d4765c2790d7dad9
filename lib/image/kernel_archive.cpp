// bootcfg image archive: kernel, initrd and modules of the newest kernel in a rootfs image.
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "files/atomic_file.hpp"
#include "image/archive_io.hpp"
#include "image/image.hpp"
#include "image/image_paths.hpp"

namespace bootcfg {

namespace {

using image_paths::starts_with;

struct Link {
    bool hard = false;
    std::string target;  // clean path (symlinks: already made relative to the root)
};

// What a path names once symlinks along it (and a final hardlink) are followed, inside the image.
std::string resolve(std::string path, const std::map<std::string, Link>& links,
                    const std::string& image) {
    for (int hops = 0; hops < 40; ++hops) {
        bool changed = false;
        std::string prefix;
        for (std::size_t start = 0; start <= path.size();) {
            std::size_t end = path.find('/', start);
            if (end == std::string::npos) end = path.size();
            prefix = path.substr(0, end);
            auto it = links.find(prefix);
            if (it != links.end() && (!it->second.hard || end == path.size())) {
                path = archive_io::symlink_destination("", it->second.target + path.substr(end));
                changed = true;
                break;
            }
            start = end + 1;
        }
        if (!changed) return path;
    }
    throw ImageError(image + ": too many levels of links resolving " + path);
}

// One output file: a gzip tar, or (raw) the member's bytes as they are.
struct Output {
    AtomicFile file;
    std::unique_ptr<archive_io::GzipTarWriter> tar;
    std::string path;
    void open(const std::string& outdir, const std::string& name, bool raw = false) {
        path = outdir + "/" + name;
        throw_on_failure<ImageError>(file.open(path));
        if (!raw) tar = std::make_unique<archive_io::GzipTarWriter>(file.fd(), path);
    }
    // The current member of `r` under `name` (tar), or its bytes (raw).
    void copy(archive_entry* e, const char* name, archive_io::Reader& r) {
        if (tar) {
            archive_io::EntryPtr entry = archive_io::clone(e);
            archive_entry_set_pathname(entry.get(), name);
            tar->header(entry.get());
            tar->copy_from(r);
            return;
        }
        std::vector<char> buf(1 << 20);
        while (const std::size_t n = r.read(buf.data(), buf.size()))
            throw_on_failure<ImageError>(file.write({buf.data(), n}));
    }
    void commit() {
        if (tar) tar->close();
        throw_on_failure<ImageError>(file.commit());
    }
};

}  // namespace

KernelArchiveResult archive_kernel(const std::string& image, const std::string& outdir,
                                   Progress& progress, bool raw) {
    // First pass: which kernels, initrds, module trees and links the image has.
    std::map<std::string, std::string> kernels;  // version → path
    std::set<std::string> boot_files;
    std::map<std::string, Link> links;
    std::set<std::string> module_roots;  // "usr/lib/modules/V" / "lib/modules/V" with entries
    {
        archive_io::Reader r = archive_io::Reader::from_file(image);
        std::size_t n = 0;
        while (archive_entry* e = r.next()) {
            const std::string path =
                archive_io::clean_member_path(archive_entry_pathname(e), image);
            if (auto v = image_paths::kernel_version(path)) {
                auto& slot = kernels[*v];
                if (slot.empty() || starts_with(path, "boot/")) slot = path;
            }
            if (image_paths::is_boot_initrd(path) || path.ends_with("/initramfs.img"))
                boot_files.insert(path);
            if (const char* h = archive_entry_hardlink(e)) {
                links[path] = {true, archive_io::clean_member_path(h, image)};
            } else if (archive_entry_filetype(e) == AE_IFLNK) {
                const char* t = archive_entry_symlink(e);
                links[path] = {false, archive_io::symlink_destination(path, t ? t : "")};
            }
            for (const char* prefix : {"lib/modules/", "usr/lib/modules/"}) {
                const std::string p = prefix;
                if (starts_with(path, p) && path.size() > p.size()) {
                    const auto slash = path.find('/', p.size());
                    module_roots.insert(slash == std::string::npos ? path : path.substr(0, slash));
                }
            }
            if (++n % 4096 == 0)
                progress.show("archive: scanning " + std::to_string(n) + " entries");
        }
    }
    if (kernels.empty())
        throw ImageError(image +
                         ": no kernel in the image (no /boot/vmlinuz-* or lib/modules/*/vmlinuz)");
    std::vector<std::string> versions;
    for (const auto& [v, p] : kernels) versions.push_back(v);
    std::sort(versions.begin(), versions.end(), version_less);

    KernelArchiveResult result;
    result.version = versions.back();
    result.kernel_member = resolve(kernels[result.version], links, image);
    for (const auto& candidate : image_paths::initrd_candidates(result.version))
        if (boot_files.count(candidate) || links.count(candidate)) {
            result.initrd_member = resolve(candidate, links, image);
            break;
        }
    if (result.initrd_member.empty()) {
        std::vector<std::string> initrds;
        for (const auto& f : boot_files)
            if (image_paths::is_boot_initrd(f)) initrds.push_back(f);
        std::sort(initrds.begin(), initrds.end(), version_less);
        if (initrds.empty())
            throw ImageError(image + ": no initrd for kernel " + result.version +
                             " (looked for boot/initrd.img-" + result.version +
                             ", boot/initramfs-" + result.version + ".img and the like)");
        result.initrd_member = resolve(initrds.back(), links, image);
    }
    std::vector<std::string> module_prefixes;
    for (const char* prefix : {"lib/modules/", "usr/lib/modules/"})
        if (module_roots.count(prefix + result.version))
            module_prefixes.push_back(prefix + result.version);
    const std::string modules_out = "lib/modules/" + result.version;

    // Second pass: copy the three parts out.
    throw_on_failure<ImageError>(make_directories(outdir));
    Output kernel, initrd, modules;
    kernel.open(outdir, raw ? "vmlinuz" : "kernel.tar.gz", raw);
    initrd.open(outdir, raw ? "initrd.img" : "initrd.tar.gz", raw);
    modules.open(outdir, "modules.tar.gz");
    bool kernel_found = false, initrd_found = false;
    auto module_name = [&](const std::string& path) -> std::optional<std::string> {
        for (const auto& prefix : module_prefixes)
            if (path == prefix || starts_with(path, prefix + "/"))
                return modules_out + path.substr(prefix.size());
        return std::nullopt;
    };
    archive_io::Reader r = archive_io::Reader::from_file(image);
    std::size_t n = 0;
    while (archive_entry* e = r.next()) {
        const std::string path = archive_io::clean_member_path(archive_entry_pathname(e), image);
        const bool data = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e);
        if (data && (path == result.kernel_member || path == result.initrd_member)) {
            const bool is_kernel = path == result.kernel_member;
            (is_kernel ? kernel : initrd).copy(e, is_kernel ? "./vmlinuz" : "./initrd", r);
            (path == result.kernel_member ? kernel_found : initrd_found) = true;
        } else if (auto name = module_name(path)) {
            archive_io::EntryPtr copy = archive_io::clone(e);
            archive_entry_set_pathname(
                copy.get(), (archive_entry_filetype(e) == AE_IFDIR ? *name + "/" : *name).c_str());
            if (const char* h = archive_entry_hardlink(e)) {
                auto target = module_name(archive_io::clean_member_path(h, image));
                if (!target)
                    throw ImageError(image + ": module file " + path + " is a hardlink to " + h +
                                     ", outside the module tree");
                archive_entry_set_hardlink(copy.get(), target->c_str());
            }
            modules.tar->header(copy.get());
            if (data) modules.tar->copy_from(r);
            ++result.module_entries;
        }
        if (++n % 4096 == 0)
            progress.show("archive: copying, " + std::to_string(n) + " entries read");
    }
    if (!kernel_found)
        throw ImageError(image + ": kernel " + kernels[result.version] + " points to " +
                         result.kernel_member + ", which is not a file in the image");
    if (!initrd_found)
        throw ImageError(image + ": initrd " + result.initrd_member +
                         " is not a file in the image");
    progress.clear();
    for (Output* o : {&kernel, &initrd, &modules}) {
        o->commit();
        result.written.push_back(o->path);
    }
    return result;
}

}  // namespace bootcfg
