#include <unistd.h>

#include <chrono>

#include "cli/progress.hpp"
#include "cli/terminal.hpp"

namespace bootcfg {

namespace {

void put(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) return;  // a progress line is not worth an error
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

ProgressLine::ProgressLine(std::FILE* out) : out_(out), fd_(terminal_fd(out)) {}

ProgressLine::~ProgressLine() {
    clear();
}

void ProgressLine::show(const std::string& text) {
    if (fd_ < 0) return;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (now - last_ms_ < 200) return;
    last_ms_ = now;
    std::string line = terminal_safe(text, false);
    if (line.size() > 100) line.resize(100);
    std::fflush(out_);
    put(fd_, "\r" + line + std::string(width_ > line.size() ? width_ - line.size() : 0, ' '));
    width_ = line.size();
}

void ProgressLine::clear() {
    if (fd_ < 0 || width_ == 0) return;
    put(fd_, "\r" + std::string(width_, ' ') + "\r");
    width_ = 0;
    last_ms_ = 0;
}

}  // namespace bootcfg
