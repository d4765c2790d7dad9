// Durable file replacement: readers see the old file or the new one, never a torn one, and a
// crash right after return keeps the new one.
#pragma once

#include <string>
#include <string_view>

namespace bootcfg {

// Writes a hidden temp file beside `path`, fsyncs it, renames it over `path`, fsyncs the
// directory. On failure returns false with a one-line reason naming the file; `path` is untouched.
bool write_file_atomic(const std::string& path, std::string_view bytes, std::string& error,
                       unsigned mode = 0644);

// Unlinks `path` and fsyncs its directory.
bool remove_file_durable(const std::string& path, std::string& error);

}  // namespace bootcfg
