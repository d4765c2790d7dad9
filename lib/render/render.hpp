// Rendering: a profile's parts -> the bytes a client reads. Pure functions, no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "model/model.hpp"

namespace bootcfg {

// The static script dnsmasq chainloads; it makes iPXE report its labels to /ipxe.
const std::string& chain_script();

// #!ipxe / kernel <kernel> <args> / initrd --name N <each> / boot. Every initrd is named (its
// own --name, else its URL's last segment) and, unless the args hold an initrd= already, the
// kernel line names each one (initrd=N), which iPXE on UEFI needs to pass it to the kernel.
std::string ipxe_script(const BootSpec& boot);

// Pixiecore API answer: {"kernel":…,"initrd":[…],"cmdline":"…"}; iPXE's --name options and
// the initrd=N arguments naming them are left out (Pixiecore names initrds itself).
std::string pixiecore_json(const BootSpec& boot);

// matchbox's GRUB config (linuxefi/initrdefi, then linux/initrd entries), without iPXE's
// --name options and initrd=N arguments. With arm64, where
// linuxefi does not exist, one entry using linux/initrd.
std::string grub_config(const BootSpec& boot, bool arm64);

// Template data as matchbox builds it: the group's metadata, then its selectors with lowercased
// keys, then "request": {"query": labels, "raw_query": raw query string}, plus "checkin_url"
// when one is given (the inventory is on).
nlohmann::json template_data(const Group& group, const Labels& query, std::string_view raw_query,
                             std::string_view checkin_url = {});

// What iPXE or GRUB runs for a machine whose profile has no boot config: leave, so the firmware
// boots the next device (the disk).
std::string ipxe_exit_script();
std::string grub_exit_config();

// KEY=value lines, sorted; keys uppercased, nested maps joined with '_'; strings, bools and
// numbers only; values single-quoted for the shell when they need it.
std::string metadata_env(const nlohmann::json& data);
// The same for a group and request, without building the template data (the /metadata path).
std::string metadata_env(const Group& group, const Labels& query, std::string_view raw_query);

}  // namespace bootcfg
