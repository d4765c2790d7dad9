// The data directory's change feed: inotify over the tree, each event reported as the file it
// names, or as "everything" when a directory came or went or the kernel dropped events.
// Boost 1.74's asio headers use std::exchange without including <utility>.
#include <utility>

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "store/data_files.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace asio = boost::asio;

namespace {

constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

class DirectoryWatch : public std::enable_shared_from_this<DirectoryWatch> {
  public:
    DirectoryWatch(asio::io_context& ioc, int fd, std::string root, ChangeHandler on_change)
        : stream_(ioc, fd), fd_(fd), root_(std::move(root)), on_change_(std::move(on_change)) {}

    void start() {
        watch_dir(root_, 0);
        read();
    }

  private:
    // Directories only, by readdir's d_type: a data dir holds 100,000 files and no stat each.
    // Adding an existing watch is harmless, so a rescan picks up directories created since.
    void watch_dir(const std::string& dir, int depth) {
        const int wd = inotify_add_watch(fd_, dir.c_str(), kMask);
        if (wd >= 0) dirs_[wd] = dir;
        if (depth >= 4) return;
        DIR* d = ::opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> subdirs;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            bool is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
                struct stat st {};
                is_dir = ::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
            }
            if (is_dir) subdirs.push_back(dir + "/" + e->d_name);
        }
        ::closedir(d);
        for (const auto& sub : subdirs) watch_dir(sub, depth + 1);
    }

    void read() {
        stream_.async_read_some(
            asio::buffer(buffer_),
            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                if (ec) return;
                self->dispatch(n);
                self->read();
            });
    }

    void dispatch(std::size_t n) {
        std::vector<std::string> locations;
        bool all = false;
        for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buffer_ + at);
            at += sizeof(inotify_event) + e->len;
            if (e->mask & IN_Q_OVERFLOW) {
                all = true;
                continue;
            }
            if (e->mask & IN_IGNORED) {  // a watched directory is gone
                dirs_.erase(e->wd);
                all = true;
                continue;
            }
            const auto dir = dirs_.find(e->wd);
            if (dir == dirs_.end()) continue;
            if (e->mask & (IN_ISDIR | IN_DELETE_SELF | IN_MOVE_SELF) || e->len == 0) {
                all = true;
                continue;
            }
            // An editor's temp file or backup is never loaded: not a change.
            if (hidden_name(e->name)) continue;
            locations.push_back(dir->second + "/" + e->name);
        }
        if (all) watch_dir(root_, 0);
        if (all || !locations.empty()) on_change_(std::move(locations), all);
    }

    asio::posix::stream_descriptor stream_;
    int fd_;
    std::string root_;
    ChangeHandler on_change_;
    std::unordered_map<int, std::string> dirs_;
    alignas(inotify_event) char buffer_[16 * 1024];
};

}  // namespace

bool DirectorySource::watch(asio::io_context& ioc, ChangeHandler on_change) const {
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        spdlog::warn("inotify unavailable ({}); reload with SIGHUP", std::strerror(errno));
        return false;
    }
    auto watch = std::make_shared<DirectoryWatch>(ioc, fd, root_, std::move(on_change));
    // Watches are set up on the reloader's thread: serving starts without waiting for it.
    asio::post(ioc, [watch] { watch->start(); });
    return true;
}

}  // namespace bootcfg
