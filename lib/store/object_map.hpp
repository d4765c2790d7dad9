// A string-keyed map whose copies share storage: copying one costs a reference count per
// non-empty shard, and changing a key in a copy clones only the shard holding it. Snapshots are
// built from the previous one plus a few changed objects, so one object changed among 100,000
// copies ~100 entries of a map instead of all of it. (With 64 shards, a change at 100,000 groups
// cost its replica 1.65 ms of CPU, most of it cloning and later freeing 1,500-entry shards; with
// 1,024, 0.57 ms.)
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bootcfg {

template <class V>
class ObjectMap {
  public:
    static constexpr std::size_t kShards = 1024;

    const V* find(std::string_view key) const {
        const auto& shard = shards_[shard_of(key)];
        if (!shard) return nullptr;
        auto it = shard->find(key);
        return it == shard->end() ? nullptr : &it->second;
    }

    // The value of key for changing, inserted default-constructed if absent. Clones the shard
    // first when another map still shares it.
    V& edit(std::string_view key) {
        auto& shard = owned(shard_of(key));
        auto it = shard.find(key);
        if (it == shard.end()) {
            ++size_;
            it = shard.emplace(std::string(key), V{}).first;
        }
        return it->second;
    }

    void erase(std::string_view key) {
        const std::size_t i = shard_of(key);
        if (!shards_[i] || shards_[i]->find(key) == shards_[i]->end()) return;
        auto& shard = owned(i);
        shard.erase(shard.find(key));
        --size_;
    }

    // fn(key, value) for every entry, in no particular order; or for the entries of shards
    // [first, last) only (disjoint ranges can be visited by different threads).
    template <class Fn>
    void for_each(Fn&& fn, std::size_t first = 0, std::size_t last = kShards) const {
        for (std::size_t i = first; i < last; ++i)
            if (shards_[i])
                for (const auto& [key, value] : *shards_[i]) fn(key, value);
    }

    std::size_t size() const { return size_; }

    // Room for `total` entries spread over the shards (a bulk load rehashes less).
    void reserve(std::size_t total) {
        if (total < 4 * kShards) return;  // small maps: shards only where keys are
        for (std::size_t i = 0; i < kShards; ++i)
            owned(i).reserve(total / kShards + total / (4 * kShards));
    }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    using Shard = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

    static std::size_t shard_of(std::string_view key) {
        // The high bits: the shard's own table uses the low ones.
        return (Hash{}(key) >> 20) % kShards;
    }

    Shard& owned(std::size_t i) {
        auto& shard = shards_[i];
        if (!shard)
            shard = std::make_shared<Shard>();
        else if (shard.use_count() > 1)
            shard = std::make_shared<Shard>(*shard);
        else  // the last other owner's reads happen before our writes
            std::atomic_thread_fence(std::memory_order_acquire);
        return *shard;
    }

    std::array<std::shared_ptr<Shard>, kShards> shards_{};
    std::size_t size_ = 0;
};

}  // namespace bootcfg
