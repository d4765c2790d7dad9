// Finds the groups whose selectors a request's labels satisfy, best first, in time independent of
// the number of groups. Patched in place when a group changes; copies share their buckets.
#pragma once

#include <boost/container/small_vector.hpp>
#include <memory>
#include <string>
#include <vector>

#include "labels/labels.hpp"
#include "model/model.hpp"
#include "store/object_map.hpp"

namespace bootcfg {

using GroupPtr = std::shared_ptr<const Group>;

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
    // The groups with one exact selector, best first; nearly always one, kept inline.
    using Bucket = boost::container::small_vector<GroupPtr, 1>;

    void insert(GroupPtr group);
    void erase(const Group& group);

    // Calls visit(group) for each matching group, best first, until it returns true.
    template <class Visit>
    void visit(const Labels& labels, Visit&& visit) const {
        std::string key;
        for (const auto& sig : signatures_) {
            if (!values_key(sig.keys, labels, key)) continue;
            const Bucket* bucket = sig.buckets.find(key);
            if (!bucket) continue;
            for (const auto& group : *bucket)
                if (visit(*group)) return;
        }
    }

    // The groups with exactly this selector; null when none.
    const Bucket* bucket(const Labels& selector) const;

  private:
    struct Signature {
        std::vector<std::string> keys;  // in rank order
        ObjectMap<Bucket> buckets;
    };
    // Builds the hash key from the labels' values for `keys`; false if a key is missing.
    static bool values_key(const std::vector<std::string>& keys, const Labels& labels,
                           std::string& out);
    static std::vector<std::string> ranked_keys(const Labels& selector);
    const Signature* find_signature(const Labels& selector) const;
    Signature& signature_of(const Labels& selector);
    std::vector<Signature> signatures_;
};

}  // namespace bootcfg
