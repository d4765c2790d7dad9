#include "cli/terminal.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace bootcfg {

namespace {

// Length of the UTF-8 sequence starting at text[i], 0 when invalid there, and -1 when it is
// cut off by the end of text (so a stream can wait for the rest).
int utf8_length(std::string_view text, std::size_t i) {
    const auto b = static_cast<unsigned char>(text[i]);
    int n = b >= 0xc2 && b <= 0xdf   ? 2
            : b >= 0xe0 && b <= 0xef ? 3
            : b >= 0xf0 && b <= 0xf4 ? 4
                                     : 0;
    if (n == 0) return 0;
    for (int k = 1; k < n; ++k) {
        if (i + k >= text.size()) return -1;
        const auto c = static_cast<unsigned char>(text[i + k]);
        if ((c & 0xc0) != 0x80) return 0;
        // No overlong forms or surrogates, nothing past U+10FFFF.
        if (k == 1 && ((b == 0xe0 && c < 0xa0) || (b == 0xed && c > 0x9f) ||
                       (b == 0xf0 && c < 0x90) || (b == 0xf4 && c > 0x8f)))
            return 0;
    }
    return n;
}

void hex_escape(std::string& out, const char* prefix, unsigned value) {
    static const char* digits = "0123456789abcdef";
    out += prefix;
    out += digits[(value >> 4) & 15];
    out += digits[value & 15];
}

// terminal_safe() of text, leaving in `rest` a UTF-8 sequence cut off at its end.
std::string safe_prefix(std::string_view text, bool keep_lines, std::string* rest) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
            if ((b >= 0x20 && b != 0x7f) || (keep_lines && (b == '\n' || b == '\t')))
                out += static_cast<char>(b);
            else
                hex_escape(out, "\\x", b);
            ++i;
            continue;
        }
        const int n = utf8_length(text, i);
        if (n < 0 && rest) {
            rest->assign(text.substr(i));
            return out;
        }
        if (n <= 0) {
            hex_escape(out, "\\x", b);
            ++i;
            continue;
        }
        if (b == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0)
            hex_escape(out, "\\u00", static_cast<unsigned char>(text[i + 1]));
        else
            out.append(text.substr(i, static_cast<std::size_t>(n)));
        i += static_cast<std::size_t>(n);
    }
    if (rest) rest->clear();
    return out;
}

struct Filter {
    int fd;
    std::string pending;  // the start of a UTF-8 sequence the next write completes
};

bool write_all(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

ssize_t filter_write(void* cookie, const char* bytes, std::size_t size) {
    auto* f = static_cast<Filter*>(cookie);
    std::string text = std::move(f->pending);
    text.append(bytes, size);
    if (!write_all(f->fd, safe_prefix(text, true, &f->pending))) return -1;
    return static_cast<ssize_t>(size);
}

int filter_close(void* cookie) {
    auto* f = static_cast<Filter*>(cookie);
    const bool ok = write_all(f->fd, safe_prefix(f->pending, true, nullptr));
    delete f;
    return ok ? 0 : -1;
}

std::mutex g_mutex;
std::vector<std::pair<std::FILE*, int>> g_filters;

}  // namespace

std::string terminal_safe(std::string_view text, bool keep_lines) {
    return safe_prefix(text, keep_lines, nullptr);
}

std::FILE* terminal_stream(std::FILE* real) {
    const int fd = ::fileno(real);
    if (fd < 0 || !::isatty(fd)) return real;
    std::fflush(real);
    auto* filter = new Filter{fd, {}};
    cookie_io_functions_t io{};
    io.write = filter_write;
    io.close = filter_close;
    std::FILE* f = ::fopencookie(filter, "w", io);
    if (!f) {
        delete filter;
        return real;
    }
    std::setvbuf(f, nullptr, _IOLBF, 1 << 14);
    std::lock_guard lock(g_mutex);
    g_filters.emplace_back(f, fd);
    return f;
}

TerminalOutput::~TerminalOutput() {
    for (std::FILE* f : {out, err}) {
        if (f == stdout || f == stderr) continue;
        {
            std::lock_guard lock(g_mutex);
            std::erase_if(g_filters, [&](const auto& entry) { return entry.first == f; });
        }
        std::fclose(f);
    }
}

int terminal_fd(std::FILE* stream) {
    if (!stream) return -1;
    {
        std::lock_guard lock(g_mutex);
        for (const auto& [f, fd] : g_filters)
            if (f == stream) return fd;
    }
    const int fd = ::fileno(stream);
    return fd >= 0 && ::isatty(fd) ? fd : -1;
}

}  // namespace bootcfg
