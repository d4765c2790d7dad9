// The admin API: reads answered from the current snapshot, writes landed in the data directory
// atomically and swapped into the snapshot before the reply. One writer at a time.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "admin/resources.hpp"
#include "store/store.hpp"

namespace bootcfg::admin {

struct ApiRequest {
    std::string_view method;
    std::string_view target;  // path and query
    std::string_view body;
    std::string_view if_match;       // "", "*" or a quoted revision
    std::string_view if_none_match;  // "" or "*"
    std::string who;                 // for the audit line: certificate subject, token name, peer
};

class AdminApi {
  public:
    // reload_now reloads the data directory and swaps the result into holder before returning
    // (the file watcher's reload, so both never race).
    AdminApi(std::string data_root, const SnapshotHolder& holder, std::function<void()> reload_now);

    ApiReply handle(const ApiRequest& request);

  private:
    ApiReply write(Kind kind, const std::string& name, const ApiRequest& request);

    std::string root_;
    const SnapshotHolder& holder_;
    std::function<void()> reload_now_;
    std::mutex write_mutex_;
};

}  // namespace bootcfg::admin
