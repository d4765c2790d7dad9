#include "match/group_index.hpp"

#include <algorithm>
#include <unordered_map>

namespace bootcfg {

namespace {

// Rank of a selector key in the tie rule (lower wins).
int selector_key_rank(const std::string& key) {
    static const char* const ranked[] = {"uuid", "mac", "hostname", "serial"};
    for (int i = 0; i < 4; ++i)
        if (key == ranked[i]) return i;
    return 4;
}

bool key_less(const std::string& a, const std::string& b) {
    const int ra = selector_key_rank(a), rb = selector_key_rank(b);
    return ra != rb ? ra < rb : a < b;
}

void append_value(std::string& out, const std::string& value) {
    // Length-prefixed, so values containing any byte cannot collide across keys.
    out += std::to_string(value.size());
    out += ':';
    out += value;
}

}  // namespace

bool GroupIndex::values_key(const std::vector<std::string>& keys, const Labels& labels,
                            std::string& out) {
    out.clear();
    for (const auto& k : keys) {
        const std::string* v = labels.find(k);
        if (!v) return false;
        append_value(out, *v);
    }
    return true;
}

GroupIndex::GroupIndex(const std::vector<Group>& groups) {
    // Labels keep keys sorted, so the joined keys name a signature; only a new one is ranked.
    std::unordered_map<std::string, std::size_t> by_keys;
    std::string joined;
    for (std::uint32_t pos = 0; pos < groups.size(); ++pos) {
        joined.clear();
        for (const auto& entry : groups[pos].selector.entries()) append_value(joined, entry.first);
        auto [it, fresh] = by_keys.try_emplace(joined, signatures_.size());
        if (fresh) {
            std::vector<std::string> keys;
            for (const auto& entry : groups[pos].selector.entries()) keys.push_back(entry.first);
            std::sort(keys.begin(), keys.end(), key_less);
            signatures_.push_back(Signature{std::move(keys), {}});
        }
        Signature& sig = signatures_[it->second];

        std::string value_key;
        values_key(sig.keys, groups[pos].selector, value_key);
        sig.groups[value_key].push_back(pos);
    }
    std::sort(signatures_.begin(), signatures_.end(), [](const Signature& a, const Signature& b) {
        if (a.keys.size() != b.keys.size()) return a.keys.size() > b.keys.size();
        return std::lexicographical_compare(a.keys.begin(), a.keys.end(), b.keys.begin(),
                                            b.keys.end(), key_less);
    });
    for (auto& sig : signatures_)
        for (auto& [_, positions] : sig.groups)
            std::sort(positions.begin(), positions.end(), [&](std::uint32_t a, std::uint32_t b) {
                if (groups[a].falls_through != groups[b].falls_through)
                    return !groups[a].falls_through;
                return groups[a].id < groups[b].id;
            });
}

}  // namespace bootcfg
