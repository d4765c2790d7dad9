// Finds the groups whose selectors a request's labels satisfy, best first, in time independent of
// the number of groups.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "labels/labels.hpp"
#include "model/model.hpp"

namespace bootcfg {

// Groups are bucketed by their selector's key set (the "signature", e.g. {mac} or {mac, os}) and,
// within a signature, hashed by the selector's values. A lookup visits each signature once: if the
// request has all its keys, one hash probe yields the groups with exactly those values. The number
// of distinct signatures is small (a handful in real fleets) and does not grow with the groups.
//
// Order (documented tie rule): more selector keys first; among equally many, by the keys' rank
// (uuid, mac, hostname, serial, then any other key alphabetically), compared key by key in rank
// order; among identical selectors, groups written as groups (matchbox layout) before those
// synthesized from the bootcfg layout, then by group id.
class GroupIndex {
  public:
    GroupIndex() = default;
    explicit GroupIndex(const std::vector<Group>& groups);

    // Calls visit(group_position) for each matching group, best first, until it returns true.
    template <class Visit>
    void visit(const Labels& labels, Visit&& visit) const {
        std::string key;
        for (const auto& sig : signatures_) {
            if (!values_key(sig.keys, labels, key)) continue;
            auto it = sig.groups.find(key);
            if (it == sig.groups.end()) continue;
            for (std::uint32_t pos : it->second)
                if (visit(pos)) return;
        }
    }

  private:
    struct Signature {
        std::vector<std::string> keys;  // in rank order
        std::unordered_map<std::string, std::vector<std::uint32_t>> groups;
    };
    // Builds the hash key from the labels' values for `keys`; false if a key is missing.
    static bool values_key(const std::vector<std::string>& keys, const Labels& labels,
                           std::string& out);
    std::vector<Signature> signatures_;
};

}  // namespace bootcfg
