// The files of lib/ui/files, as generated into the build by lib/ui/embed.cmake.
#pragma once

#include <span>
#include <string_view>

namespace bootcfg::ui {

struct EmbeddedFile {
    std::string_view name;  // "app.js"
    std::string_view bytes;
    std::string_view sha256;  // hex, of bytes
};

std::span<const EmbeddedFile> embedded_files();

}  // namespace bootcfg::ui
