#include "store/reloader.hpp"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

namespace bootcfg {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct Reloader::Impl {
    Impl(const DirectorySource& s, SnapshotHolder& h, std::chrono::milliseconds d)
        : source(s), holder(h), debounce(d) {}

    const DirectorySource& source;
    SnapshotHolder& holder;
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
        std::error_code ec;
        const fs::path root = source.root();
        inotify_add_watch(inotify_fd, root.c_str(), mask);
        for (fs::recursive_directory_iterator
                 it(root, fs::directory_options::follow_directory_symlink, ec),
             end;
             !ec && it != end; it.increment(ec)) {
            if (it.depth() > 4) {
                it.disable_recursion_pending();
                continue;
            }
            std::error_code dir_ec;
            if (it->is_directory(dir_ec)) inotify_add_watch(inotify_fd, it->path().c_str(), mask);
        }
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

    void reload() {
        if (hook) hook(true);
        auto previous = holder.get();
        holder.set(load_snapshot(source, previous.get()));
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
        im.watch_tree();
        im.wait_events();
    }
    im.wait_hup();
    im.thread = std::thread([&im] { im.ioc.run(); });
}

}  // namespace bootcfg
