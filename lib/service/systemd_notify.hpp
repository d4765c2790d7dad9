// systemd's service notification protocol (sd_notify) without libsystemd: one datagram per state
// change to the AF_UNIX socket named by $NOTIFY_SOCKET ("@name" for the abstract namespace).
#pragma once

#include <string>
#include <string_view>

namespace bootcfg {

class ServiceNotifier {
  public:
    // Reads NOTIFY_SOCKET; without it every notify() is a no-op that succeeds.
    static ServiceNotifier from_environment();
    explicit ServiceNotifier(std::string socket_path) : socket_path_(std::move(socket_path)) {}

    bool enabled() const { return !socket_path_.empty(); }
    // Sends "KEY=value\n..." lines; false (with errno set) if the datagram could not be sent.
    bool notify(std::string_view state) const;

    // Messages bootcfgd sends.
    static std::string ready(std::string_view status);
    static std::string reloading();  // RELOADING=1 with MONOTONIC_USEC, as systemd 253 wants
    static std::string stopping();

  private:
    std::string socket_path_;
};

}  // namespace bootcfg
