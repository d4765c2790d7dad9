#include "service/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace bootcfg {

ServiceNotifier ServiceNotifier::from_environment() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    return ServiceNotifier(path ? path : "");
}

bool ServiceNotifier::notify(std::string_view state) const {
    if (!enabled()) return true;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path ||
        (socket_path_[0] != '/' && socket_path_[0] != '@')) {
        errno = EINVAL;
        return false;
    }
    std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
    if (socket_path_[0] == '@') {
        addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
    } else {
        ++len;
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&addr), len);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return sent == static_cast<ssize_t>(state.size());
}

std::string ServiceNotifier::ready(std::string_view status) {
    return "READY=1\nSTATUS=" + std::string(status) + "\n";
}

std::string ServiceNotifier::reloading() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long usec = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading\n";
}

std::string ServiceNotifier::stopping() {
    return "STOPPING=1\nSTATUS=stopping\n";
}

}  // namespace bootcfg
