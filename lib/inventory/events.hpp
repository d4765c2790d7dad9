// The event log behind GET /api/v1/events (Server-Sent Events): machines seen, machine state
// changes and store objects written, each with an increasing id, the last `capacity` kept so a
// client can resume with Last-Event-ID. Thread-safe; readers poll (no reader blocks a writer).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace bootcfg::inventory {

struct Event {
    std::uint64_t id = 0;
    std::string type;  // "machine", "machine.state", "machine.forgotten", "object.put", ...
    std::string data;  // one line of JSON
};

class EventLog {
  public:
    explicit EventLog(std::size_t capacity = 10000) : capacity_(capacity) {}

    std::uint64_t append(std::string type, std::string data);
    // Up to `max` events with ids after `after`, oldest first; `gap` is set when events after
    // `after` were already dropped from the log (the client missed some).
    std::vector<Event> since(std::uint64_t after, std::size_t max, bool& gap) const;
    std::uint64_t last_id() const;

  private:
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<Event> events_;
    std::uint64_t next_id_ = 1;
};

}  // namespace bootcfg::inventory
