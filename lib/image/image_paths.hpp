// Where a Linux rootfs keeps its kernels, initrds and modules.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bootcfg::image_paths {

inline bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

// The kernel version a path holds a kernel for: boot/vmlinuz-V, or (usr/)lib/modules/V/vmlinuz
// (Fedora-style images keep the kernel beside its modules).
inline std::optional<std::string> kernel_version(const std::string& path) {
    if (starts_with(path, "boot/vmlinuz-") && path.find('/', 5) == std::string::npos &&
        path.size() > 13)
        return path.substr(13);
    for (const char* prefix : {"lib/modules/", "usr/lib/modules/"}) {
        const std::string p = prefix;
        if (starts_with(path, p) && path.size() > p.size() + 8 &&
            path.compare(path.size() - 8, 8, "/vmlinuz") == 0) {
            const std::string v = path.substr(p.size(), path.size() - 8 - p.size());
            if (!v.empty() && v.find('/') == std::string::npos) return v;
        }
    }
    return std::nullopt;
}

// Initrd file names for kernel V, most specific first (Debian, RHEL, SUSE, modules dir).
inline std::vector<std::string> initrd_candidates(const std::string& v) {
    return {"boot/initrd.img-" + v,
            "boot/initramfs-" + v + ".img",
            "boot/initrd-" + v,
            "boot/initrd-" + v + ".img",
            "usr/lib/modules/" + v + "/initramfs.img",
            "lib/modules/" + v + "/initramfs.img"};
}

inline bool is_boot_initrd(const std::string& path) {
    return (starts_with(path, "boot/initrd") || starts_with(path, "boot/initramfs")) &&
           path.find('/', 5) == std::string::npos;
}

}  // namespace bootcfg::image_paths
