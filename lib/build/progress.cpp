#include <unistd.h>

#include <chrono>

#include "build/build.hpp"

namespace bootcfg {

ProgressLine::ProgressLine(std::FILE* out) : out_(out && ::isatty(::fileno(out)) ? out : nullptr) {}

ProgressLine::~ProgressLine() {
    clear();
}

void ProgressLine::show(const std::string& text) {
    if (!out_) return;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (now - last_ms_ < 200) return;
    last_ms_ = now;
    const std::string line = text.size() > 100 ? text.substr(0, 100) : text;
    std::fprintf(out_, "\r%s%*s", line.c_str(),
                 static_cast<int>(width_ > line.size() ? width_ - line.size() : 0), "");
    std::fflush(out_);
    width_ = line.size();
}

void ProgressLine::clear() {
    if (!out_ || width_ == 0) return;
    std::fprintf(out_, "\r%*s\r", static_cast<int>(width_), "");
    std::fflush(out_);
    width_ = 0;
    last_ms_ = 0;
}

}  // namespace bootcfg
