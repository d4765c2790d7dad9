// Matching: request labels -> the group and profile that answer for one part (boot, cloud).
#pragma once

#include <optional>
#include <string>

#include "labels/labels.hpp"
#include "store/store.hpp"

namespace bootcfg {

// What a request needs from the profile; `group` needs only a group (metadata).
enum class Part { boot, cloud, ignition, generic, group };

// The part a template kind answers for (/cloud, /ignition, /generic).
Part template_part(TemplateKind kind);

struct Selection {
    const Group* group = nullptr;
    const Profile* profile = nullptr;
    std::string reason;  // why nothing was selected (when profile is null)

    explicit operator bool() const { return profile != nullptr || (group && reason.empty()); }
};

// The best matching group whose profile has `part`. Groups from the bootcfg layout fall through
// to the next match when their profile lacks the part (uuid -> mac -> default, per part);
// any other group is final, and a missing part is reported, not papered over.
Selection select(const Snapshot& snapshot, const Labels& labels, Part part);

// What ProxyDHCP gives a machine instead of the default loader: a string in its best matching
// group's metadata under `key` ("pxe_boot_file" for PXE firmware over TFTP, "http_boot_file" for
// UEFI HTTP boot): a file name in -ipxe-dir, an http:// URL, or "-" for no answer at all.
// nullopt when that group names none.
std::optional<std::string> boot_file_override(const Snapshot& snapshot, const Labels& labels,
                                              std::string_view key);

}  // namespace bootcfg
