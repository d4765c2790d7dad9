// The asset path resolver and the conditional/range rules: a resolved path is relative and has no
// dot segments, opening it never reaches the canary outside the root, and a range plan stays
// inside the file. Input: "URL-PATH\nRANGE\nIF-RANGE\nIF-NONE-MATCH\nIF-MODIFIED-SINCE".
#include <unistd.h>

#include "assets/assets.hpp"
#include "fuzz_support.hpp"

using namespace bootcfg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& w = fuzz::world();
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto [path, rest1] = fuzz::split(input, '\n');
    auto [range, rest2] = fuzz::split(rest1, '\n');
    auto [if_range, rest3] = fuzz::split(rest2, '\n');
    auto [inm, ims] = fuzz::split(rest3, '\n');

    if (auto rel = asset_relative_path(path)) {
        const std::string& r = *rel;
        fuzz::require(!r.empty() && r.front() != '/' && r.find('\0') == std::string::npos);
        fuzz::require(r != ".." && r.rfind("../", 0) != 0 && r.find("/../") == std::string::npos &&
                      r.find("/./") == std::string::npos);
        if (auto file = w.assets->open(r)) {
            fuzz::require(!fuzz::is_canary(w, file->fd.get()));
        }
    }

    const std::uint64_t sizes[] = {0, 1, 4096, std::uint64_t{1} << 40};
    for (std::uint64_t file_size : sizes) {
        ConditionalHeaders h{inm, ims, range, if_range};
        AssetPlan plan = plan_asset(file_size, 1'700'000'000'000'000'000, h);
        if (plan.status == 206) {
            fuzz::require(plan.length > 0 && plan.offset < file_size &&
                          plan.length <= file_size - plan.offset);
        }
        if (plan.status == 200) fuzz::require(plan.offset == 0 && plan.length == file_size);
    }
    if (auto t = parse_http_date(ims)) (void)http_date(*t);
    (void)asset_content_type(path);
    return 0;
}
