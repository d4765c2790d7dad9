// MAC/UUID normalization, percent-decoding and query -> labels: normalized values are fixed
// points, a decoded string never grows, and labels come out sorted and unique.
#include "labels/labels.hpp"
#include "fuzz_support.hpp"

using namespace bootcfg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto mac = normalize_mac(input)) {
        fuzz::require(mac->size() == 17);
        fuzz::require(normalize_mac(*mac) == mac);
    }
    if (auto uuid = normalize_uuid(input)) {
        fuzz::require(uuid->size() == 36);
        fuzz::require(normalize_uuid(*uuid) == uuid);
    }
    for (bool plus : {false, true})
        if (auto decoded = percent_decode(input, plus))
            fuzz::require(decoded->size() <= input.size());

    const auto q = labels_from_query(input);
    if (!q) {
        fuzz::require(!q.failure().reason.empty());
        return 0;
    }
    const auto& entries = q->entries();
    for (std::size_t i = 1; i < entries.size(); ++i)
        fuzz::require(entries[i - 1].first < entries[i].first);
    if (const std::string* mac = q->find("mac")) fuzz::require(normalize_mac(*mac) == *mac);
    (void)q->to_string();
    return 0;
}
