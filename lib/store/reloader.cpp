#include "store/reloader.hpp"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <sys/stat.h>

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace bootcfg {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct Reloader::Impl {
    Impl(const DirectorySource& s, SnapshotHolder& h, std::chrono::milliseconds d)
        : source(s), holder(h), debounce(d) {}

    const DirectorySource& source;
    SnapshotHolder& holder;
    std::mutex load_mutex;
    std::chrono::milliseconds debounce;
    std::function<void(bool)> hook;

    asio::io_context ioc;
    asio::signal_set hup{ioc, SIGHUP};
    asio::steady_timer timer{ioc};
    std::unique_ptr<asio::posix::stream_descriptor> events;
    int inotify_fd = -1;
    char event_buffer[16 * 1024];
    std::thread thread;

    void watch_tree() {
        // Adding an existing watch is harmless, so every reload re-walks the tree and picks up
        // directories created since.
        constexpr std::uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                       IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
        watch_dir(source.root(), mask, 0);
    }

    // Directories only, by readdir's d_type: a data dir holds 100,000 files and no stat each.
    void watch_dir(const std::string& dir, std::uint32_t mask, int depth) {
        inotify_add_watch(inotify_fd, dir.c_str(), mask);
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
        for (const auto& sub : subdirs) watch_dir(sub, mask, depth + 1);
    }

    void wait_hup() {
        hup.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec) return;
            spdlog::info("SIGHUP: reloading {}", source.describe());
            reload();
            wait_hup();
        });
    }

    void wait_events() {
        events->async_read_some(asio::buffer(event_buffer),
                                [this](const boost::system::error_code& ec, std::size_t) {
                                    if (ec) return;
                                    schedule();
                                    wait_events();
                                });
    }

    // Editors and tools write in bursts (temp file, rename, chmod): reload once it is quiet.
    void schedule() {
        timer.expires_after(debounce);
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) reload();
        });
    }

    void swap_in_fresh_snapshot() {
        std::lock_guard lock(load_mutex);
        auto previous = holder.get();
        holder.set(load_snapshot(source, previous.get()));
    }

    void reload() {
        if (hook) hook(true);
        swap_in_fresh_snapshot();
        if (events) watch_tree();
        if (hook) hook(false);
    }
};

Reloader::Reloader(const DirectorySource& source, SnapshotHolder& holder,
                   std::chrono::milliseconds debounce)
    : impl_(std::make_unique<Impl>(source, holder, debounce)) {}

Reloader::~Reloader() {
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void Reloader::reload_now() {
    impl_->swap_in_fresh_snapshot();
}

void Reloader::on_reload(std::function<void(bool)> hook) {
    impl_->hook = std::move(hook);
}

void Reloader::start() {
    auto& im = *impl_;
    im.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (im.inotify_fd < 0) {
        spdlog::warn("inotify unavailable ({}); reload with SIGHUP", std::strerror(errno));
    } else {
        im.events = std::make_unique<asio::posix::stream_descriptor>(im.ioc, im.inotify_fd);
        // Watches are set up on the reloader's thread: serving starts without waiting for it.
        asio::post(im.ioc, [&im] { im.watch_tree(); });
        im.wait_events();
    }
    im.wait_hup();
    im.thread = std::thread([&im] {
        // Reloads run beside live traffic: at nice 10 (inherited by the parse threads) they take
        // the CPU that requests leave idle instead of competing with them.
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
        im.ioc.run();
    });
}

}  // namespace bootcfg
