#include "store/reloader.hpp"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <set>
#include <thread>

namespace bootcfg {

namespace asio = boost::asio;

namespace {
// Beyond this many changed files a full load is cheaper than applying them one by one.
constexpr std::size_t kMaxApplied = 2000;
// A stream of changes that never pauses is applied at least this often.
constexpr auto kMaxDelay = std::chrono::milliseconds(500);

// Thousandths as "1.234": microseconds as milliseconds, milliseconds as seconds.
std::string thousandths(long long n) {
    return fmt::format("{}.{:03}", n / 1000, n % 1000);
}
}  // namespace

std::string AppliedLog::add(LiveStore::Applied applied, Clock::time_point now) {
    if (changes_ == 0 && (!logged_ || now - *logged_ >= interval_)) {
        logged_ = now;
        return fmt::format("applied {} changed file{} of {} {} in {} ms", applied.files,
                           applied.files == 1 ? "" : "s", source_, applied.summary,
                           thousandths(applied.micros));
    }
    if (changes_ == 0) first_held_ = now;
    ++changes_;
    files_ += applied.files;
    micros_ += applied.micros;
    longest_ = std::max(longest_, applied.micros);
    summary_ = std::move(applied.summary);
    return "";
}

std::optional<AppliedLog::Clock::time_point> AppliedLog::due() const {
    if (changes_ == 0) return std::nullopt;
    return *logged_ + interval_;
}

std::string AppliedLog::fold(Clock::time_point now) {
    if (changes_ == 0) return "";
    const auto span = std::chrono::duration_cast<std::chrono::milliseconds>(now - first_held_);
    std::string line = fmt::format(
        "applied {} changed file{} of {} {} in {} more change{} over {} s: {} ms each on "
        "average, at most {} ms",
        files_, files_ == 1 ? "" : "s", source_, summary_, changes_, changes_ == 1 ? "" : "s",
        thousandths(span.count()), thousandths(micros_ / static_cast<long long>(changes_)),
        thousandths(longest_));
    logged_ = now;
    changes_ = files_ = 0;
    micros_ = longest_ = 0;
    return line;
}

struct Reloader::Impl {
    Impl(LiveStore& s, std::chrono::milliseconds d)
        : store(s), debounce(d), applied_log(s.source().describe()) {}

    LiveStore& store;
    std::chrono::milliseconds debounce;
    std::function<void(bool)> hook;

    asio::io_context ioc;
    asio::signal_set hup{ioc, SIGHUP};
    asio::steady_timer timer{ioc};
    asio::steady_timer release_timer{ioc};
    AppliedLog applied_log;
    asio::steady_timer log_timer{ioc};  // armed while applied_log holds changes
    std::set<std::string> pending;
    bool pending_all = false;
    bool flush_posted = false;
    std::chrono::steady_clock::time_point first_pending;
    std::thread thread;

    void wait_hup() {
        hup.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec) return;
            spdlog::info("SIGHUP: reloading {}", store.source().describe());
            run([this] { reload_everything(); });
            wait_hup();
        });
    }

    // Replaced snapshots are freed here once requests have let go of them.
    void release_retired() {
        release_timer.expires_after(std::chrono::milliseconds(100));
        release_timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            store.release_retired();
            release_retired();
        });
    }

    // A full load runs beside live traffic: on a thread at nice 10 (inherited by the parse
    // threads) it takes the CPU that requests leave idle instead of competing with them.
    // Applying a few changed files is quick and stays at the reloader's priority, so it is not
    // starved under load.
    void reload_everything() {
        std::thread([this] {
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
            store.reload();
        }).join();
    }

    void run(const std::function<void()>& work) {
        if (hook) hook(true);
        work();
        if (hook) hook(false);
    }

    // Editors and tools write in bursts (temp file, rename, chmod): apply once it is quiet.
    void changed(std::vector<std::string> locations, bool all) {
        const auto now = std::chrono::steady_clock::now();
        if (!pending_all && pending.empty()) first_pending = now;
        pending_all = pending_all || all;
        pending.insert(std::make_move_iterator(locations.begin()),
                       std::make_move_iterator(locations.end()));
        if (pending.size() > kMaxApplied) pending_all = true;
        if (debounce.count() == 0) {
            if (!flush_posted)
                asio::post(ioc, [this] {
                    flush_posted = false;
                    flush();
                });
            flush_posted = true;
            return;
        }
        timer.expires_at(std::min(now + debounce, first_pending + kMaxDelay));
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) flush();
        });
    }

    void flush() {
        const bool all = pending_all;
        const std::vector<std::string> locations(pending.begin(), pending.end());
        pending.clear();
        pending_all = false;
        // A few changed files applied in place are not a reload for the service manager: with
        // etcd they arrive 100 times a second.
        if (all)
            run([this] { reload_everything(); });
        else if (auto applied = store.apply(locations))
            log_applied(std::move(*applied));
        // What earlier changes replaced, freed now rather than all at once by the timer: under a
        // stream of changes each one then costs about the same, with no burst every 100 ms.
        store.release_retired();
    }

    void log_applied(LiveStore::Applied applied) {
        const bool holding = applied_log.due().has_value();  // the timer is armed
        const std::string line = applied_log.add(std::move(applied), AppliedLog::Clock::now());
        if (!line.empty()) return spdlog::info(line);
        if (holding) return;
        log_timer.expires_at(*applied_log.due());
        log_timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) spdlog::info(applied_log.fold(AppliedLog::Clock::now()));
        });
    }
};

Reloader::Reloader(LiveStore& store, std::chrono::milliseconds debounce)
    : impl_(std::make_unique<Impl>(store, debounce)) {}

Reloader::~Reloader() {
    impl_->store.source().unwatch();
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    if (auto held = impl_->applied_log.fold(AppliedLog::Clock::now()); !held.empty())
        spdlog::info(held);
}

void Reloader::on_reload(std::function<void(bool)> hook) {
    impl_->hook = std::move(hook);
}

void Reloader::start() {
    auto& im = *impl_;
    im.store.source().watch(im.ioc, [&im](std::vector<std::string> locations, bool all) {
        im.changed(std::move(locations), all);
    });
    im.wait_hup();
    im.release_retired();
    im.thread = std::thread([&im] { im.ioc.run(); });
}

}  // namespace bootcfg
