// Rendering: a profile's parts -> the bytes a client reads. Pure functions, no I/O.
#pragma once

#include <string>

#include "model/model.hpp"

namespace bootcfg {

// The static script dnsmasq chainloads; it makes iPXE report its labels to /ipxe.
const std::string& chain_script();

// #!ipxe / kernel <kernel> <args> / initrd <each> / boot
std::string ipxe_script(const BootSpec& boot);

// Pixiecore API answer: {"kernel":…,"initrd":[…],"cmdline":"…"}.
std::string pixiecore_json(const BootSpec& boot);

// Command line as one string: args joined by single spaces.
std::string join_args(const BootSpec& boot);

}  // namespace bootcfg
