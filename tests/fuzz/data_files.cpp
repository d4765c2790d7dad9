// The data-file parsers (profile, group, bootcfg-layout boot config, and bootcfgd's YAML
// config): any bytes are either accepted or rejected with a reason; never a crash, a throw or
// an accepted document missing what the loader relies on. The first byte picks the parser.
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.hpp"
#include "fuzz_support.hpp"
#include "store/data_files.hpp"

using namespace bootcfg;

namespace {

// The YAML loader reads a file: give it one that lives in memory.
void fuzz_yaml_config(std::string_view text) {
    const int fd = ::memfd_create("config.yaml", 0);
    fuzz::require(fd >= 0);
    fuzz::require(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    const auto r =
        parse_daemon_config({"-config", path}, [](const char*) -> const char* { return nullptr; });
    fuzz::require(r ? !r->address.empty() : !r.failure().reason.empty());
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(bytes) + 1, size - 1);
    switch (bytes[0] % 4) {
        case 0:
            if (auto p = parse_profile(text)) {
                fuzz::require(!p->id.empty() && p->has_boot == !p->boot.kernel.empty());
            } else {
                fuzz::require(!p.failure().reason.empty());
            }
            break;
        case 1:
            if (auto g = parse_group(text)) {
                fuzz::require(!g->id.empty() && !g->profile.empty() &&
                              g->metadata.parsed().is_object());
                if (const std::string* mac = g->selector.find("mac"))
                    fuzz::require(normalize_mac(*mac) == *mac);
            } else {
                fuzz::require(!g.failure().reason.empty());
            }
            break;
        case 2:
            if (auto b = parse_layout_boot(text)) {
                fuzz::require(!b->kernel.empty());
            } else {
                fuzz::require(!b.failure().reason.empty());
            }
            break;
        default:
            fuzz_yaml_config(text);
    }
    return 0;
}
