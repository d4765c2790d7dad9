#include "files/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace bootcfg {

namespace {

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

bool fsync_dir(const std::string& dir, std::string& error) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        error = dir + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return false;
    }
    ::close(fd);
    return true;
}

}  // namespace

bool write_file_atomic(const std::string& path, std::string_view bytes, std::string& error,
                       unsigned mode) {
    const std::string dir = dir_of(path);
    const std::string base = path.substr(path.rfind('/') + 1);
    // Hidden, so the data dir loader never reads a half-written temp file.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const std::string tmp = dir + "/." + base + ".tmp-" + std::to_string(rng() % 1000000000);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        error = tmp + ": " + std::strerror(errno);
        return false;
    }
    auto fail = [&](const std::string& what) {
        error = what + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    };
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(tmp);
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) return fail(tmp);
    if (::close(fd) != 0) {
        error = tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        error = path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    return fsync_dir(dir, error);
}

bool remove_file_durable(const std::string& path, std::string& error) {
    if (::unlink(path.c_str()) != 0) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    return fsync_dir(dir_of(path), error);
}

}  // namespace bootcfg
