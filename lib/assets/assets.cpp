#include "assets/assets.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "labels/labels.hpp"
#include "template/go_format.hpp"
#include "values/values.hpp"

namespace bootcfg {

std::optional<std::string> asset_relative_path(std::string_view url_path) {
    auto decoded = percent_decode(url_path, false);
    if (!decoded || decoded->empty() || (*decoded)[0] == '/') return std::nullopt;
    std::string_view rest = *decoded;
    while (true) {
        const auto slash = rest.find('/');
        const auto seg = rest.substr(0, slash);
        if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
        for (char c : seg)
            if (c == '\0' || c == '\\') return std::nullopt;
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    return decoded;
}

AssetRoot::AssetRoot(const std::string& dir, bool listings) : listings_(listings) {
    dirfd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd_ < 0) throw std::runtime_error("assets path " + dir + ": " + std::strerror(errno));
}

AssetRoot::~AssetRoot() {
    if (dirfd_ >= 0) ::close(dirfd_);
}

namespace {

// openat2(RESOLVE_BENEATH) lets the kernel refuse any escape ("..", absolute symlinks, symlinks
// climbing out); on kernels without it, resolve and compare real paths.
int open_beneath(int dirfd, const std::string& relative) {
    struct open_how how {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, dirfd, relative.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);

    char root[PATH_MAX];
    char target[PATH_MAX];
    const std::string self = "/proc/self/fd/" + std::to_string(dirfd);
    const ssize_t n = ::readlink(self.c_str(), root, sizeof root - 1);
    if (n <= 0) return -1;
    root[n] = '\0';
    const std::string full = std::string(root) + "/" + relative;
    if (!::realpath(full.c_str(), target)) return -1;
    const std::string resolved = target;
    const std::string prefix = std::string(root) + "/";
    if (resolved.compare(0, prefix.size(), prefix) != 0) {
        errno = EXDEV;
        return -1;
    }
    return ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

}  // namespace

namespace {

std::optional<OpenAsset> regular_file(int fd) {
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return std::nullopt;
    }
    // O_NONBLOCK only guarded the open against FIFOs; reads of regular files ignore it.
    OpenAsset asset;
    asset.fd.reset(fd);
    asset.size = static_cast<std::uint64_t>(st.st_size);
    asset.mtime_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return asset;
}

}  // namespace

std::optional<OpenAsset> AssetRoot::open(const std::string& relative) const {
    return regular_file(open_beneath(dirfd_, relative));
}

std::optional<OpenAsset> AssetRoot::open_entry(const std::string& relative) const {
    if (relative.find('/') != std::string::npos || relative == "." || relative == "..")
        return open(relative);
    // Only a link to a regular file is followed: never is a directory out there opened.
    struct stat st {};
    if (::fstatat(dirfd_, relative.c_str(), &st, 0) != 0 || !S_ISREG(st.st_mode))
        return std::nullopt;
    return regular_file(
        ::openat(dirfd_, relative.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
}

std::optional<std::vector<AssetRoot::Entry>> AssetRoot::list(const std::string& relative) const {
    if (!listings_) return std::nullopt;
    // A new open file description each time (a dup would share, and exhaust, the offset).
    const int fd = relative.empty() ? ::openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                    : open_beneath(dirfd_, relative);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    DIR* dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) ? ::fdopendir(fd) : nullptr;
    if (!dir) {
        ::close(fd);
        return std::nullopt;
    }
    std::vector<Entry> out;
    while (const dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name.empty() || name[0] == '.') continue;
        // Only what a request could open: a symlink leading out of the root is not listed.
        const int entry_fd = open_beneath(dirfd_, relative.empty() ? name : relative + "/" + name);
        if (entry_fd < 0) continue;
        struct stat entry {};
        const bool ok =
            ::fstat(entry_fd, &entry) == 0 && (S_ISDIR(entry.st_mode) || S_ISREG(entry.st_mode));
        ::close(entry_fd);
        if (ok) out.push_back({name, S_ISDIR(entry.st_mode)});
    }
    ::closedir(dir);
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
}

std::string listing_html(const std::vector<AssetRoot::Entry>& entries) {
    using template_detail::go_html_escape;
    std::string page =
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n";
    for (const auto& e : entries) {
        const std::string slash = e.directory ? "/" : "";
        page += "<a href=\"" + go_html_escape(percent_encode(e.name)) + slash + "\">" +
                go_html_escape(e.name + slash) + "</a>\n";
    }
    return page + "</pre>\n";
}

std::string asset_etag(std::uint64_t size, std::int64_t mtime_ns) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(mtime_ns));
    return buf;
}

std::string http_date(std::time_t t) {
    struct tm tm {};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    struct tm tm {};
    const std::string s(text);
    const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    return ::timegm(&tm);
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Digits only; a number beyond 64 bits saturates (it is still a valid, if huge, position).
std::optional<std::uint64_t> parse_u64(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
    }
    return v;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

}  // namespace

AssetPlan plan_asset(std::uint64_t size, std::int64_t mtime_ns, const ConditionalHeaders& h) {
    AssetPlan plan;
    plan.length = size;
    const std::string etag = asset_etag(size, mtime_ns);
    const std::time_t mtime = static_cast<std::time_t>(mtime_ns / 1000000000LL);

    if (!h.if_none_match.empty()) {
        if (etag_list_matches(h.if_none_match, etag)) {
            plan.status = 304;
            return plan;
        }
    } else if (!h.if_modified_since.empty()) {
        auto since = parse_http_date(trim(h.if_modified_since));
        if (since && mtime <= *since) {
            plan.status = 304;
            return plan;
        }
    }

    auto spec = trim(h.range);
    if (!starts_with_nocase(spec, "bytes=")) return plan;  // RFC 9110: the unit is case-insensitive
    if (!h.if_range.empty()) {
        const auto ir = trim(h.if_range);
        const bool fresh =
            ir == etag || (!ir.empty() && ir.front() != '"' && ir.substr(0, 2) != "W/" &&
                           parse_http_date(ir) == std::optional<std::time_t>(mtime));
        if (!fresh) return plan;
    }
    spec.remove_prefix(6);
    if (spec.find(',') != std::string_view::npos) return plan;  // multiple ranges: send it all
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return plan;
    const auto first_text = trim(spec.substr(0, dash));
    const auto last_text = trim(spec.substr(dash + 1));
    std::uint64_t first = 0, last = 0;
    if (first_text.empty()) {  // suffix: the last N bytes
        auto n = parse_u64(last_text);
        if (!n) return plan;
        if (*n == 0 || size == 0) {
            plan.status = 416;
        } else {
            first = *n >= size ? 0 : size - *n;
            last = size - 1;
        }
    } else {
        auto f = parse_u64(first_text);
        auto l =
            last_text.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : parse_u64(last_text);
        if (!f || !l || *l < *f) return plan;  // syntactically invalid: ignore the header
        if (*f >= size) {
            plan.status = 416;
        } else {
            first = *f;
            last = *l >= size ? size - 1 : *l;
        }
    }
    if (plan.status == 416) {
        plan.length = 0;
        plan.content_range = "bytes */" + std::to_string(size);
        return plan;
    }
    plan.status = 206;
    plan.offset = first;
    plan.length = last - first + 1;
    plan.content_range =
        "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size);
    return plan;
}

std::string_view asset_content_type(std::string_view path) {
    struct Type {
        std::string_view ext, type;
    };
    static constexpr Type types[] = {
        {".ipxe", "text/plain; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".cfg", "text/plain; charset=utf-8"},
        {".json", "application/json"},
        {".ign", "application/json"},
        {".iso", "application/x-iso9660-image"},
        {".gz", "application/gzip"},
        {".xz", "application/x-xz"},
        {".tar", "application/x-tar"},
        {".zst", "application/zstd"},
        {".efi", "application/efi"},
        {".html", "text/html; charset=utf-8"},
        {".sig", "application/pgp-signature"},
        {".asc", "application/pgp-signature"},
    };
    for (const auto& t : types)
        if (path.size() >= t.ext.size() && path.substr(path.size() - t.ext.size()) == t.ext)
            return t.type;
    return "application/octet-stream";
}

}  // namespace bootcfg
