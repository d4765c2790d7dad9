// What etcd's JSON gateway streams (watch lines) and the keys it holds are hostile input: each
// line parses or fails with a reason; base64 round-trips; a key maps to an object only when the
// object maps back to the same key. (Reads and transactions come over gRPC, parsed by
// libprotobuf.)
#include "fuzz_support.hpp"
#include "store/etcd_codec.hpp"

using namespace bootcfg;
using namespace bootcfg::etcd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    if (const auto watch = parse_watch_line(input); !watch)
        fuzz::require(!watch.failure().reason.empty());

    fuzz::require(base64_decode(base64_encode(input)) == std::string(input));
    if (const auto decoded = base64_decode(input))  // unused low bits may differ, bytes may not
        fuzz::require(base64_decode(base64_encode(*decoded)) == decoded);

    constexpr std::string_view prefix = "/bootcfg/";
    if (const auto ref = object_of(prefix, input)) fuzz::require(key_of(prefix, *ref) == input);
    const std::string end = prefix_end(input);
    fuzz::require(input.empty() || end == std::string(1, '\0') || std::string_view(end) > input);
    return 0;
}
