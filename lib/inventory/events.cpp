#include "inventory/events.hpp"

namespace bootcfg::inventory {

std::uint64_t EventLog::append(std::string type, std::string data) {
    std::lock_guard lk(mutex_);
    const std::uint64_t id = next_id_++;
    events_.push_back({id, std::move(type), std::move(data)});
    while (events_.size() > capacity_) events_.pop_front();
    return id;
}

std::vector<Event> EventLog::since(std::uint64_t after, std::size_t max, bool& gap) const {
    std::lock_guard lk(mutex_);
    std::vector<Event> out;
    gap = !events_.empty() && events_.front().id > after + 1;
    if (events_.empty() || events_.back().id <= after) return out;
    // Ids are consecutive: the first wanted event's position is computed, not searched.
    const std::uint64_t first = events_.front().id;
    std::size_t at = after + 1 > first ? static_cast<std::size_t>(after + 1 - first) : 0;
    for (; at < events_.size() && out.size() < max; ++at) out.push_back(events_[at]);
    return out;
}

std::uint64_t EventLog::last_id() const {
    std::lock_guard lk(mutex_);
    return next_id_ - 1;
}

}  // namespace bootcfg::inventory
