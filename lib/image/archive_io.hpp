// libarchive behind small RAII types; every failure becomes a ImageError naming the archive.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace bootcfg::archive_io {

// A tar stream, any compression libarchive knows (gzip, xz, zstd, ...), read front to back.
class Reader {
  public:
    struct Source;  // where the bytes come from (libarchive's callbacks see it)
    // Reads from `fd` starting at offset 0; the fd stays open and owned by the caller.
    static Reader from_fd(int fd, std::string label);
    static Reader from_file(const std::string& path);
    // A single file through libarchive's decompressors (no archive format): next() yields one
    // entry whose data is the decompressed bytes; `compressed` says whether a filter applied.
    static Reader decompressing(const std::string& path, bool& compressed);
    // The same for an open descriptor (read from offset 0 when it can seek).
    static Reader decompressing_fd(int fd, std::string label, bool& compressed);
    // The data of `outer`'s current member read as an archive of its own (a layer inside a
    // `docker save` archive): nothing is copied to disk.
    static Reader nested(Reader& outer, std::string label);

    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    ~Reader();

    // The next header, or nullptr at the end. Throws on a damaged or truncated archive.
    archive_entry* next();
    // Up to `size` bytes of the current member's data; 0 at its end.
    std::size_t read(void* buffer, std::size_t size);
    // Compressed bytes consumed so far (for progress).
    std::uint64_t consumed() const;
    const std::string& label() const { return label_; }
    [[noreturn]] void fail(const std::string& what) const;

  private:
    Reader() = default;
    static Reader open_file(const std::string& path, bool raw);
    void open_with(std::unique_ptr<Source> source, bool raw = false);
    void start_raw(bool& compressed);
    archive* a_ = nullptr;
    std::string label_;
    std::unique_ptr<Source> source_;
};

// Gzip on every core: the stream is cut into fixed 1 MiB blocks, each compressed on its own
// (by libarchive, on a worker thread) into a complete gzip member, and the members are written
// in order. Concatenated members are one valid gzip stream (RFC 1952, read by gzip, tar,
// libarchive, Python, Go); the bytes do not depend on the number of threads.
class ParallelGzip {
  public:
    ParallelGzip(int fd, std::string label);
    ParallelGzip(const ParallelGzip&) = delete;
    ParallelGzip& operator=(const ParallelGzip&) = delete;
    ~ParallelGzip();
    void write(const void* bytes, std::size_t size);
    // Compresses what is left and writes every member; throws ImageError on a write error.
    void finish();

    static constexpr std::size_t kBlock = 1u << 20;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

// A gzip-compressed tar written to a file descriptor (pax where ustar cannot say it: long
// names, xattrs, big ids).
class GzipTarWriter {
  public:
    GzipTarWriter(int fd, std::string label);
    GzipTarWriter(const GzipTarWriter&) = delete;
    GzipTarWriter& operator=(const GzipTarWriter&) = delete;
    ~GzipTarWriter();
    void header(archive_entry* entry);
    void data(const void* bytes, std::size_t size);
    // Copies the rest of `reader`'s current member as this entry's data; returns bytes copied.
    std::uint64_t copy_from(Reader& reader);
    // Flushes the tar trailer and gzip; the output is complete only after close().
    void close();

  private:
    static la_ssize_t write_callback(archive*, void* self, const void* bytes, std::size_t n);
    [[noreturn]] void fail() const;
    std::string label_;
    ParallelGzip gzip_;
    archive* a_;
    std::vector<char> buffer_;
    std::exception_ptr callback_error_;
};

struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;
inline EntryPtr clone(archive_entry* e) {
    return EntryPtr(archive_entry_clone(e));
}

// Paths longer than this cannot be opened on Linux (PATH_MAX); refused rather than carried.
constexpr std::size_t kMaxMemberPath = 4096;

// A member path as a clean relative path: no leading "/" or "./", no "//", no trailing "/";
// the root is "". Throws ImageError (naming `where`) for paths that climb out with ".." or
// are longer than kMaxMemberPath.
std::string clean_member_path(const char* raw, const std::string& where);

// Where symlink `link` (a clean path) pointing at `target` leads, as a clean path: ".." steps up
// and stops at the root, as it does inside a chroot.
std::string symlink_destination(const std::string& link, const std::string& target);

}  // namespace bootcfg::archive_io
