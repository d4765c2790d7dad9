// A progress line on a terminal (stderr), redrawn at most a few times a second; silent when
// `out` is null or not a terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "image/image.hpp"

namespace bootcfg {

class ProgressLine final : public Progress {
  public:
    explicit ProgressLine(std::FILE* out);
    ~ProgressLine() override;
    void show(const std::string& text) override;
    void clear() override;

  private:
    std::FILE* out_;
    int fd_;  // the terminal behind out_, written directly so '\r' works through a filter
    std::int64_t last_ms_ = 0;
    std::size_t width_ = 0;
};

}  // namespace bootcfg
