#include "image/archive_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "image/image.hpp"

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
    } catch (const ImageError& e) {
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
    throw ImageError(label_ + ": " + what);
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
    r.start_raw(compressed);
    return r;
}

Reader Reader::decompressing_fd(int fd, std::string label, bool& compressed) {
    Reader r;
    r.label_ = std::move(label);
    if (::lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE) r.fail("cannot rewind");
    auto s = std::make_unique<Source>();
    s->fd = fd;
    r.open_with(std::move(s), true);
    r.start_raw(compressed);
    return r;
}

void Reader::start_raw(bool& compressed) {
    if (!next()) fail("empty file");
    compressed = archive_filter_count(a_) > 1;
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

namespace {

// One block as a complete gzip member appended to `out`, with no timestamp so equal input
// gives equal bytes.
void gzip_member(const std::string& block, std::string& out, const std::string& label) {
    struct Sink {
        static la_ssize_t write(archive*, void* out, const void* bytes, std::size_t n) {
            static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), n);
            return static_cast<la_ssize_t>(n);
        }
    };
    archive* a = archive_write_new();
    if (!a) throw ImageError(label + ": out of memory");
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "block");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(block.size()));
    const bool ok =
        e && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
        archive_write_set_filter_option(a, "gzip", "timestamp", nullptr) == ARCHIVE_OK &&
        archive_write_set_format_raw(a) == ARCHIVE_OK &&
        archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
        archive_write_open(a, &out, nullptr, Sink::write, nullptr) == ARCHIVE_OK &&
        archive_write_header(a, e) == ARCHIVE_OK &&
        archive_write_data(a, block.data(), block.size()) ==
            static_cast<la_ssize_t>(block.size()) &&
        archive_write_close(a) == ARCHIVE_OK;
    const std::string why = ok || !archive_error_string(a) ? "" : archive_error_string(a);
    archive_entry_free(e);
    archive_write_free(a);
    if (!ok) throw ImageError(label + ": gzip: " + (why.empty() ? "failed" : why));
}

}  // namespace

// A ring of slots in stream order and a few workers. Each slot keeps its input and output
// buffers from block to block, so memory stays at the ring's size however long the stream.
struct ParallelGzip::State {
    enum class Stage { idle, queued, done };
    struct Slot {
        std::string input, output;
        Stage stage = Stage::idle;
        std::exception_ptr error;
    };

    int fd = -1;
    std::string label;
    std::string block;  // being filled by write()
    std::vector<Slot> slots;
    std::size_t next = 0, oldest = 0, in_flight = 0;  // ring positions, writer thread only
    std::deque<std::size_t> queue;                    // slots waiting for a worker
    std::mutex mutex;
    std::condition_variable work, done;
    bool stopping = false;
    std::vector<std::thread> workers;
    unsigned cores = 1;

    ~State() {
        {
            std::lock_guard<std::mutex> lock(mutex);
            stopping = true;
        }
        work.notify_all();
        for (auto& t : workers) t.join();
    }

    void write_out(const std::string& member) {
        for (std::size_t at = 0; at < member.size();) {
            const ssize_t n = ::write(fd, member.data() + at, member.size() - at);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw ImageError(label + ": " + std::strerror(errno));
            at += static_cast<std::size_t>(n);
        }
    }

    void run_worker() {
        for (;;) {
            std::size_t i;
            {
                std::unique_lock<std::mutex> lock(mutex);
                work.wait(lock, [&] { return stopping || !queue.empty(); });
                if (stopping) return;
                i = queue.front();
                queue.pop_front();
            }
            Slot& slot = slots[i];  // this worker's alone until it is marked done
            try {
                gzip_member(slot.input, slot.output, label);
            } catch (...) {
                slot.error = std::current_exception();
            }
            {
                std::lock_guard<std::mutex> lock(mutex);
                slot.stage = Stage::done;
            }
            done.notify_all();
        }
    }

    void submit() {
        if (workers.empty()) {
            // Started with the first full block: small outputs never pay for threads.
            slots.resize(2 * cores);  // two per core keep them busy while the oldest is written
            for (unsigned c = 0; c < cores; ++c) workers.emplace_back([this] { run_worker(); });
        }
        if (in_flight == slots.size()) write_oldest();
        Slot& slot = slots[next];
        std::swap(slot.input, block);
        block.clear();
        block.reserve(kBlock);
        slot.output.clear();
        {
            std::lock_guard<std::mutex> lock(mutex);
            slot.stage = Stage::queued;
            queue.push_back(next);
        }
        work.notify_one();
        next = (next + 1) % slots.size();
        ++in_flight;
    }

    void write_oldest() {
        Slot& slot = slots[oldest];
        {
            std::unique_lock<std::mutex> lock(mutex);
            done.wait(lock, [&] { return slot.stage == Stage::done; });
        }
        if (slot.error) std::rethrow_exception(slot.error);
        write_out(slot.output);
        slot.stage = Stage::idle;
        oldest = (oldest + 1) % slots.size();
        --in_flight;
    }
};

ParallelGzip::ParallelGzip(int fd, std::string label) : state_(std::make_unique<State>()) {
    state_->fd = fd;
    state_->label = std::move(label);
    state_->block.reserve(kBlock);
    state_->cores = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
}

ParallelGzip::~ParallelGzip() = default;

void ParallelGzip::write(const void* bytes, std::size_t size) {
    const auto* p = static_cast<const char*>(bytes);
    while (size > 0) {
        const std::size_t n = std::min(size, kBlock - state_->block.size());
        state_->block.append(p, n);
        p += n;
        size -= n;
        if (state_->block.size() == kBlock) state_->submit();
    }
}

void ParallelGzip::finish() {
    State& st = *state_;
    if (st.workers.empty()) {
        // At most one block in all: compress it here.
        std::string member;
        gzip_member(st.block, member, st.label);
        st.block.clear();
        st.write_out(member);
        return;
    }
    if (!st.block.empty()) st.submit();
    while (st.in_flight > 0) st.write_oldest();
}

la_ssize_t GzipTarWriter::write_callback(archive*, void* self, const void* bytes, std::size_t n) {
    // No exception may cross libarchive: keep it for fail() to throw.
    auto* w = static_cast<GzipTarWriter*>(self);
    try {
        w->gzip_.write(bytes, n);
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        w->callback_error_ = std::current_exception();
        return -1;
    }
}

GzipTarWriter::GzipTarWriter(int fd, std::string label)
    : label_(std::move(label)), gzip_(fd, label_), a_(archive_write_new()), buffer_(1 << 17) {
    if (!a_) throw ImageError(label_ + ": out of memory");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_, 1) != ARCHIVE_OK ||
        archive_write_open(a_, this, nullptr, write_callback, nullptr) != ARCHIVE_OK)
        fail();
}

GzipTarWriter::~GzipTarWriter() {
    if (a_) archive_write_free(a_);
}

void GzipTarWriter::fail() const {
    if (callback_error_) std::rethrow_exception(callback_error_);
    const char* why = archive_error_string(a_);
    throw ImageError(label_ + ": " + (why ? why : "write failed"));
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
    gzip_.finish();
}

std::string clean_member_path(const char* raw, const std::string& where) {
    std::string out;
    const std::string in = raw ? raw : "";
    if (in.size() > kMaxMemberPath)
        throw ImageError(where + ": a member path is " + std::to_string(in.size()) +
                         " bytes long (Linux opens at most " + std::to_string(kMaxMemberPath) +
                         "): '" + in.substr(0, 60) + "...'");
    std::size_t i = 0;
    while (i <= in.size()) {
        std::size_t j = in.find('/', i);
        if (j == std::string::npos) j = in.size();
        const std::string part = in.substr(i, j - i);
        if (part == "..") throw ImageError(where + ": member '" + in + "' climbs out with '..'");
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
