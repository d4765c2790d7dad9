#include "build/archive_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "build/build.hpp"

namespace bootcfg::archive_io {

struct Reader::Source {
    int fd = -1;
    bool owns_fd = false;
    ~Source() {
        if (owns_fd) ::close(fd);
    }
    Reader* outer = nullptr;
    std::vector<char> buffer = std::vector<char>(1 << 17);
};

namespace {

la_ssize_t read_fd(archive* a, void* data, const void** out) {
    auto* s = static_cast<Reader::Source*>(data);  // NOLINT: libarchive callback
    for (;;) {
        const ssize_t n = ::read(s->fd, s->buffer.data(), s->buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) archive_set_error(a, errno, "read failed");
        *out = s->buffer.data();
        return n;
    }
}

la_int64_t skip_fd(archive*, void* data, la_int64_t request) {
    auto* s = static_cast<Reader::Source*>(data);
    struct stat st {};
    const off_t here = ::lseek(s->fd, 0, SEEK_CUR);
    if (here < 0 || ::fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;  // read instead
    // Never past the end: a truncated archive must read as truncated, not as a short one.
    const la_int64_t step = std::min<la_int64_t>(request, st.st_size - here);
    if (step <= 0 || ::lseek(s->fd, step, SEEK_CUR) < 0) return 0;
    return step;
}

la_ssize_t read_outer(archive* a, void* data, const void** out) {
    auto* s = static_cast<Reader::Source*>(data);
    try {
        *out = s->buffer.data();
        return static_cast<la_ssize_t>(s->outer->read(s->buffer.data(), s->buffer.size()));
    } catch (const BuildError& e) {
        archive_set_error(a, EIO, "%s", e.what());
        return -1;
    }
}

}  // namespace

Reader::Reader(Reader&& o) noexcept
    : a_(o.a_), label_(std::move(o.label_)), source_(std::move(o.source_)) {
    o.a_ = nullptr;
}

Reader& Reader::operator=(Reader&& o) noexcept {
    if (this != &o) {
        if (a_) archive_read_free(a_);
        a_ = o.a_;
        o.a_ = nullptr;
        label_ = std::move(o.label_);
        source_ = std::move(o.source_);
    }
    return *this;
}

Reader::~Reader() {
    if (a_) archive_read_free(a_);
}

void Reader::fail(const std::string& what) const {
    throw BuildError(label_ + ": " + what);
}

void Reader::open_with(std::unique_ptr<Source> source, bool raw) {
    source_ = std::move(source);
    a_ = archive_read_new();
    if (!a_) fail("out of memory");
    archive_read_support_filter_all(a_);
    if (raw)
        archive_read_support_format_raw(a_);
    else
        archive_read_support_format_tar(a_);
    int rc;
    if (source_->outer) {
        rc = archive_read_open(a_, source_.get(), nullptr, read_outer, nullptr);
    } else {
        archive_read_set_read_callback(a_, read_fd);
        archive_read_set_skip_callback(a_, skip_fd);
        archive_read_set_callback_data(a_, source_.get());
        rc = archive_read_open1(a_);
    }
    if (rc != ARCHIVE_OK) fail(archive_error_string(a_) ? archive_error_string(a_) : "unreadable");
}

Reader Reader::from_fd(int fd, std::string label) {
    Reader r;
    r.label_ = std::move(label);
    if (::lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE) r.fail("cannot rewind");
    auto s = std::make_unique<Source>();
    s->fd = fd;
    r.open_with(std::move(s));
    return r;
}

Reader Reader::open_file(const std::string& path, bool raw) {
    Reader r;
    r.label_ = path;
    auto s = std::make_unique<Source>();
    s->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) r.fail(std::strerror(errno));
    s->owns_fd = true;
    r.open_with(std::move(s), raw);
    return r;
}

Reader Reader::from_file(const std::string& path) {
    return open_file(path, false);
}

Reader Reader::decompressing(const std::string& path, bool& compressed) {
    Reader r = open_file(path, true);
    if (!r.next()) r.fail("empty file");
    compressed = archive_filter_count(r.a_) > 1;
    return r;
}

Reader Reader::nested(Reader& outer, std::string label) {
    Reader r;
    r.label_ = std::move(label);
    auto s = std::make_unique<Source>();
    s->outer = &outer;
    r.open_with(std::move(s));
    return r;
}

archive_entry* Reader::next() {
    archive_entry* entry = nullptr;
    for (;;) {
        const int rc = archive_read_next_header(a_, &entry);
        if (rc == ARCHIVE_EOF) return nullptr;
        if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) return entry;
        if (rc == ARCHIVE_RETRY) continue;
        const char* why = archive_error_string(a_);
        fail(why ? why : "damaged archive");
    }
}

std::size_t Reader::read(void* buffer, std::size_t size) {
    for (;;) {
        const la_ssize_t n = archive_read_data(a_, buffer, size);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (n == ARCHIVE_RETRY || n == ARCHIVE_WARN) continue;
        const char* why = archive_error_string(a_);
        fail(why ? why : "damaged archive");
    }
}

std::uint64_t Reader::consumed() const {
    const auto n = archive_filter_bytes(a_, -1);
    return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

GzipTarWriter::GzipTarWriter(int fd, std::string label)
    : a_(archive_write_new()), label_(std::move(label)), buffer_(1 << 17) {
    if (!a_) throw BuildError(label_ + ": out of memory");
    if (archive_write_add_filter_gzip(a_) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_, 1) != ARCHIVE_OK ||
        // No gzip timestamp: the same input gives byte-identical output.
        archive_write_set_filter_option(a_, "gzip", "timestamp", nullptr) != ARCHIVE_OK ||
        archive_write_open_fd(a_, fd) != ARCHIVE_OK)
        fail();
}

GzipTarWriter::~GzipTarWriter() {
    if (a_) archive_write_free(a_);
}

void GzipTarWriter::fail() const {
    const char* why = archive_error_string(a_);
    throw BuildError(label_ + ": " + (why ? why : "write failed"));
}

void GzipTarWriter::header(archive_entry* entry) {
    const int rc = archive_write_header(a_, entry);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) fail();
}

void GzipTarWriter::data(const void* bytes, std::size_t size) {
    const auto* p = static_cast<const char*>(bytes);
    while (size > 0) {
        const la_ssize_t n = archive_write_data(a_, p, size);
        if (n <= 0) fail();
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

std::uint64_t GzipTarWriter::copy_from(Reader& reader) {
    std::uint64_t total = 0;
    while (const std::size_t n = reader.read(buffer_.data(), buffer_.size())) {
        data(buffer_.data(), n);
        total += n;
    }
    return total;
}

void GzipTarWriter::close() {
    if (archive_write_close(a_) != ARCHIVE_OK) fail();
}

std::string clean_member_path(const char* raw, const std::string& where) {
    std::string out;
    const std::string in = raw ? raw : "";
    std::size_t i = 0;
    while (i <= in.size()) {
        std::size_t j = in.find('/', i);
        if (j == std::string::npos) j = in.size();
        const std::string part = in.substr(i, j - i);
        if (part == "..") throw BuildError(where + ": member '" + in + "' climbs out with '..'");
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        i = j + 1;
    }
    return out;
}

std::string symlink_destination(const std::string& link, const std::string& target) {
    std::vector<std::string> parts;
    auto walk = [&](const std::string& path) {
        std::size_t i = 0;
        while (i <= path.size()) {
            std::size_t j = path.find('/', i);
            if (j == std::string::npos) j = path.size();
            const std::string part = path.substr(i, j - i);
            if (part == "..") {
                if (!parts.empty()) parts.pop_back();
            } else if (!part.empty() && part != ".") {
                parts.push_back(part);
            }
            i = j + 1;
        }
    };
    if (target.empty() || target[0] != '/') {
        const auto slash = link.rfind('/');
        if (slash != std::string::npos) walk(link.substr(0, slash));
    }
    walk(target);
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

}  // namespace bootcfg::archive_io
