// Assets: static files (kernels, initrds, images) under one root directory, opened so that no
// request can reach outside it, plus the pure rules for conditional and range requests.
#pragma once

#include "files/unique_fd.hpp"

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bootcfg {

// URL path below /assets/ -> relative file path, or nullopt if it is not a safe plain path
// (bad escapes, NUL, backslash, "." or ".." segments, empty segments, absolute).
std::optional<std::string> asset_relative_path(std::string_view url_path);

struct OpenAsset {
    UniqueFd fd;  // the only owner: a reply carrying it closes it when it is done
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
};

// A directory handle; opens files beneath it only (symlinks may not lead out).
class AssetRoot {
  public:
    // listings: a directory URL (ending in '/') answers with its entries, as matchbox's file
    // server does. Throws std::runtime_error if the directory is unusable.
    explicit AssetRoot(const std::string& dir, bool listings = true);
    ~AssetRoot();
    AssetRoot(const AssetRoot&) = delete;
    AssetRoot& operator=(const AssetRoot&) = delete;

    // A regular file beneath the root, or nullopt (missing, outside, not a file, unreadable).
    std::optional<OpenAsset> open(const std::string& relative) const;
    // As open(), but a name directly in the root that is a symlink is followed wherever it
    // leads: a link the directory's owner placed (Debian's /usr/lib/ipxe/ipxe.efi points to
    // /boot/ipxe.efi). Names with a '/' get open()'s rules.
    std::optional<OpenAsset> open_entry(const std::string& relative) const;

    struct Entry {
        std::string name;
        bool directory = false;
    };
    // The entries of a directory beneath the root ("" for the root itself), sorted, without
    // hidden names; nullopt when listings are off or it is not a directory beneath the root.
    std::optional<std::vector<Entry>> list(const std::string& relative) const;

  private:
    int dirfd_ = -1;
    bool listings_ = true;
};

// A directory listing as an HTML page (Go's http.FileServer form): names HTML-escaped, links
// percent-encoded, directories with a trailing '/'.
std::string listing_html(const std::vector<AssetRoot::Entry>& entries);

struct ConditionalHeaders {
    std::string_view if_none_match;
    std::string_view if_modified_since;
    std::string_view range;
    std::string_view if_range;
};

struct AssetPlan {
    unsigned status = 200;  // 200, 206, 304, 416
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::string content_range;  // for 206 and 416
};

std::string asset_etag(std::uint64_t size, std::int64_t mtime_ns);
std::string http_date(std::time_t t);
std::optional<std::time_t> parse_http_date(std::string_view text);

// What to answer for a file of `size` bytes with the given validators and request headers.
AssetPlan plan_asset(std::uint64_t size, std::int64_t mtime_ns, const ConditionalHeaders& h);

// Content type by file extension; application/octet-stream when unknown.
std::string_view asset_content_type(std::string_view path);

}  // namespace bootcfg
