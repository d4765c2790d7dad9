#include "store/group_index.hpp"

#include <algorithm>

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

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// A normalized MAC ("52:54:00:ab:cd:ef", as every selector's and request's mac is) as '#' and
// its 6 bytes: the key of a {mac} group then fits std::string's inline buffer instead of costing
// a heap block per group. '#' never starts a length, so keys stay distinct.
bool append_mac(std::string& out, const std::string& value) {
    if (value.size() != 17) return false;
    char bytes[6];
    for (int i = 0; i < 6; ++i) {
        const int hi = hex_digit(value[i * 3]), lo = hex_digit(value[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && value[i * 3 + 2] != ':')) return false;
        bytes[i] = static_cast<char>(hi << 4 | lo);
    }
    out += '#';
    out.append(bytes, 6);
    return true;
}

void append_value(std::string& out, const std::string& key, const std::string& value) {
    if (key == "mac" && append_mac(out, value)) return;
    // Length-prefixed, so values containing any byte cannot collide across keys.
    out += std::to_string(value.size());
    out += ':';
    out += value;
}

bool better(const GroupPtr& a, const GroupPtr& b) {
    if (a->falls_through != b->falls_through) return !a->falls_through;
    return a->id < b->id;
}

}  // namespace

bool GroupIndex::values_key(const std::vector<std::string>& keys, const Labels& labels,
                            std::string& out) {
    out.clear();
    for (const auto& k : keys) {
        const std::string* v = labels.find(k);
        if (!v) return false;
        append_value(out, k, *v);
    }
    return true;
}

std::vector<std::string> GroupIndex::ranked_keys(const Labels& selector) {
    std::vector<std::string> keys;
    for (const auto& entry : selector.entries()) keys.push_back(entry.first);
    std::sort(keys.begin(), keys.end(), key_less);
    return keys;
}

// The signature whose keys are exactly the selector's; without allocating (a bulk load asks
// once per group).
const GroupIndex::Signature* GroupIndex::find_signature(const Labels& selector) const {
    for (const auto& sig : signatures_) {
        if (sig.keys.size() != selector.entries().size()) continue;
        if (std::all_of(sig.keys.begin(), sig.keys.end(),
                        [&](const std::string& k) { return selector.find(k) != nullptr; }))
            return &sig;
    }
    return nullptr;
}

const GroupIndex::Bucket* GroupIndex::bucket(const Labels& selector) const {
    const Signature* sig = find_signature(selector);
    if (!sig) return nullptr;
    std::string key;
    values_key(sig->keys, selector, key);
    return sig->buckets.find(key);
}

GroupIndex::Signature& GroupIndex::signature_of(const Labels& selector) {
    if (const Signature* found = find_signature(selector)) return const_cast<Signature&>(*found);
    auto keys = ranked_keys(selector);
    auto before = [](const std::vector<std::string>& a, const std::vector<std::string>& b) {
        if (a.size() != b.size()) return a.size() > b.size();
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), key_less);
    };
    auto it = std::lower_bound(signatures_.begin(), signatures_.end(), keys,
                               [&](const Signature& sig, const std::vector<std::string>& k) {
                                   return before(sig.keys, k);
                               });
    if (it == signatures_.end() || it->keys != keys)
        it = signatures_.insert(it, Signature{std::move(keys), {}});
    return *it;
}

void GroupIndex::insert(GroupPtr group) {
    Signature& sig = signature_of(group->selector);
    std::string key;
    values_key(sig.keys, group->selector, key);
    Bucket& bucket = sig.buckets.edit(key);
    bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), group, better), std::move(group));
}

void GroupIndex::erase(const Group& group) {
    Signature& sig = signature_of(group.selector);
    std::string key;
    values_key(sig.keys, group.selector, key);
    if (const Bucket* found = sig.buckets.find(key);
        !found || std::none_of(found->begin(), found->end(),
                               [&](const GroupPtr& g) { return g.get() == &group; }))
        return;
    Bucket& bucket = sig.buckets.edit(key);
    bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                [&](const GroupPtr& g) { return g.get() == &group; }),
                 bucket.end());
    if (bucket.empty()) sig.buckets.erase(key);
}

}  // namespace bootcfg
