#include "files/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace bootcfg {

namespace {

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Result<void> fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        Failure failed = fail(dir + ": " + std::strerror(errno));
        if (fd >= 0) ::close(fd);
        return failed;
    }
    ::close(fd);
    return {};
}

bool read_fully(int fd, char* buf, std::size_t want, std::size_t& got) {
    got = 0;
    while (got < want) {
        const ssize_t n = ::read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

// Temp paths of live AtomicFiles in a fixed table the signal handler reads without allocating.
struct TempSlot {
    std::atomic<bool> used{false};
    char path[PATH_MAX];
};
TempSlot g_temp_slots[64];
std::atomic_flag g_table_lock = ATOMIC_FLAG_INIT;

int remember_temp(const std::string& path) {
    if (path.size() >= PATH_MAX) return -1;
    while (g_table_lock.test_and_set(std::memory_order_acquire)) {
    }
    int found = -1;
    for (int i = 0; i < 64 && found < 0; ++i)
        if (!g_temp_slots[i].used.load()) {
            std::memcpy(g_temp_slots[i].path, path.c_str(), path.size() + 1);
            g_temp_slots[i].used.store(true);
            found = i;
        }
    g_table_lock.clear(std::memory_order_release);
    return found;
}

void forget_temp(int& slot) {
    if (slot >= 0) g_temp_slots[slot].used.store(false);
    slot = -1;
}

extern "C" void remove_temps_and_die(int sig) {
    for (auto& slot : g_temp_slots)
        if (slot.used.load()) ::unlink(slot.path);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// Where a write to `path` goes, from one look at it: a new name or a regular file is replaced
// (through a symlink: the file it points to, so the link stays); anything else but a directory
// is written in place, and so is a regular file reached through one of the kernel's views of an
// open descriptor (/dev/stdout → /proc/self/fd/1 → …), truncated first as `>` would.
enum class Write { replace, in_place, truncate_in_place, directory };
struct WriteTarget {
    std::string path;
    Write how = Write::replace;
};

WriteTarget write_target(const std::string& path) {
    struct stat link {
    }, st{};
    if (::lstat(path.c_str(), &link) != 0) return {path};  // a new name
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) return {path, Write::directory};
    if (exists && !S_ISREG(st.st_mode)) return {path, Write::in_place};
    if (!S_ISLNK(link.st_mode)) return {path};
    if (path.starts_with("/dev/") || path.starts_with("/proc/"))
        return {path, exists ? Write::truncate_in_place : Write::replace};
    if (char* real = ::realpath(path.c_str(), nullptr)) {
        std::string resolved = real;
        std::free(real);
        return {resolved};
    }
    // A dangling link: the file it names is created.
    char target[PATH_MAX];
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) return {path};
    const std::string to(target, static_cast<std::size_t>(n));
    return {to[0] == '/' ? to : dir_of(path) + "/" + to};
}

}  // namespace

void remove_temp_files_on_signals() {
    struct sigaction sa {};
    sa.sa_handler = remove_temps_and_die;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

AtomicFile::~AtomicFile() {
    discard();
}

Result<void> AtomicFile::open(const std::string& path, unsigned mode) {
    discard();
    WriteTarget target = write_target(path);
    path_ = std::move(target.path);
    mode_ = mode;
    direct_ = target.how == Write::in_place || target.how == Write::truncate_in_place;
    if (direct_) {
        fd_ = ::open(path_.c_str(),
                     O_WRONLY | O_CLOEXEC | (target.how == Write::truncate_in_place ? O_TRUNC : 0));
        if (fd_ < 0) return fail(path + ": " + std::strerror(errno));
        return {};
    }
    if (target.how == Write::directory) {
        return fail(path + ": is a directory");
    }
    const std::string base = path_.substr(path_.rfind('/') + 1);
    // Hidden, so the data dir loader never reads a half-written temp file.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    tmp_ = dir_of(path_) + "/." + base + ".tmp-" + std::to_string(rng() % 1000000000);
    slot_ = remember_temp(tmp_);
    fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd_ < 0) {
        Failure failed = fail(tmp_ + ": " + std::strerror(errno));
        tmp_.clear();
        forget_temp(slot_);
        return failed;
    }
    return {};
}

Result<void> AtomicFile::write(std::string_view bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail(tmp_ + ": " + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Result<void> AtomicFile::commit() {
    if (direct_) {
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) {
            return fail(path_ + ": " + std::strerror(errno));
        }
        return {};
    }
    if (::fchmod(fd_, mode_) != 0 || ::fsync(fd_) != 0) {
        Failure failed = fail(tmp_ + ": " + std::strerror(errno));
        discard();
        return failed;
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        Failure failed = fail(tmp_ + ": " + std::strerror(errno));
        discard();
        return failed;
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        Failure failed = fail(path_ + ": " + std::strerror(errno));
        discard();
        return failed;
    }
    tmp_.clear();
    forget_temp(slot_);
    return fsync_dir(dir_of(path_));
}

bool AtomicFile::same_as_target() const {
    if (direct_) return false;
    const int target = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0 || fd_ < 0) {
        if (target >= 0) ::close(target);
        return false;
    }
    struct stat a {
    }, b{};
    bool same = ::fstat(fd_, &a) == 0 && ::fstat(target, &b) == 0 && a.st_size == b.st_size &&
                (b.st_mode & 07777) == mode_;
    std::vector<char> x(1 << 16), y(1 << 16);
    for (off_t off = 0; same && off < a.st_size;) {
        std::size_t nx = 0, ny = 0;
        const ssize_t n = ::pread(fd_, x.data(), x.size(), off);
        if (n <= 0 || !read_fully(target, y.data(), static_cast<std::size_t>(n), ny) ||
            ny != static_cast<std::size_t>(n)) {
            same = false;
            break;
        }
        nx = static_cast<std::size_t>(n);
        same = std::memcmp(x.data(), y.data(), nx) == 0;
        off += static_cast<off_t>(nx);
    }
    ::close(target);
    return same;
}

void AtomicFile::discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
    forget_temp(slot_);
}

Result<void> write_file_atomic(const std::string& path, std::string_view bytes, unsigned mode) {
    AtomicFile file;
    if (auto opened = file.open(path, mode); !opened) return opened;
    if (auto written = file.write(bytes); !written) return written;
    return file.commit();
}

bool read_whole(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

Result<void> remove_file_durable(const std::string& path) {
    if (::unlink(path.c_str()) != 0) {
        return fail(path + ": " + std::strerror(errno));
    }
    return fsync_dir(dir_of(path));
}

Result<void> make_directories(const std::string& dir) {
    if (dir.empty()) return {};
    for (std::size_t pos = 1;; ++pos) {
        pos = dir.find('/', pos);
        const std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
            return fail(part + ": " + std::strerror(errno));
        }
        if (pos == std::string::npos) break;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail(dir + ": not a directory");
    }
    return {};
}

}  // namespace bootcfg
